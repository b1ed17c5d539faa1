"""FOMM's reconstruction metric (paper Sec. 4.1; original ``reconstruction.py``): re-drive each test
clip from its first frame and measure the L1 distance to the real frames."""
import numpy as np
import paddle


def frame_l1(prediction, real):
    """Mean absolute difference per frame: ``(T, C, H, W)`` arrays in ``[0, 1]`` -> ``(T,)``."""
    prediction, real = np.asarray(prediction, np.float64), np.asarray(real, np.float64)
    if prediction.shape != real.shape:
        raise ValueError(f'prediction {prediction.shape} and real {real.shape} differ in shape')
    return np.abs(prediction - real).reshape(len(real), -1).mean(axis=1)


def static_baseline_l1(video):
    """Per-frame L1 of the "no motion" prediction (every frame = frame 0): ``(T, C, H, W)`` ->
    ``(T,)``. A model that moves the source must beat this to be useful."""
    video = np.asarray(video)
    return frame_l1(np.broadcast_to(video[:1], video.shape), video)


def summarize(per_video):
    """Combine ``[{'name', 'l1': (T,), 'static_l1': (T,)}]`` into the metrics dict.

    ``reconstruction_l1`` / ``static_baseline_l1`` are means over all frames of all clips (the
    original averages per frame); ``per_video`` keeps each clip's means and their ratio. Items
    may also hold the per-frame arrays of :data:`FACE_KEYS` (``psnr``, ``akd``, ...; NaN where
    undefined): their NaN-skipping means are added per clip and overall.
    """
    all_l1 = np.concatenate([v['l1'] for v in per_video])
    all_static = np.concatenate([v['static_l1'] for v in per_video])
    clips = []
    for v in per_video:
        l1, static = float(np.mean(v['l1'])), float(np.mean(v['static_l1']))
        clips.append({'name': v['name'], 'frames': int(len(v['l1'])), 'l1': l1,
                      'static_l1': static, 'ratio_to_static': l1 / static if static else None})
    recon, static = float(all_l1.mean()), float(all_static.mean())
    ratios = [c['ratio_to_static'] for c in clips if c['ratio_to_static'] is not None]
    return {'reconstruction_l1': recon, 'static_baseline_l1': static,
            'ratio_to_static': recon / static if static else None,
            'mean_clip_ratio_to_static': float(np.mean(ratios)) if ratios else None,
            'num_videos': len(clips), 'num_frames': int(len(all_l1)), 'per_video': clips,
            **_summarize_face(per_video, clips)}


FACE_KEYS = ('psnr', 'ssim', 'akd', 'aed', 'missing',
             'static_psnr', 'static_ssim', 'static_akd', 'static_aed', 'static_missing',
             'piecewise_l1', 'piecewise_psnr', 'piecewise_ssim', 'piecewise_akd',
             'piecewise_aed', 'piecewise_missing')


def _mean(values):
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None


def _summarize_face(per_video, clips):
    keys = [k for k in FACE_KEYS if k in per_video[0]]
    for v, clip in zip(per_video, clips):
        clip.update({k: _mean(v[k]) for k in keys})
    return {k: _mean(np.concatenate([v[k] for v in per_video])) for k in keys}


def evaluate_reconstruction(reconstruct, dataset, num_videos=None, face=False, references=False):
    """Run the reconstruction protocol over a test dataset.

    Args:
        reconstruct: callable ``(T, 3, H, W) tensor[, landmarks] -> (T, 3, H, W) tensor`` (e.g.
            :meth:`ppfom.models.firstorder_model.FirstOrderModel.reconstruct`).
        dataset: items ``{'video': (T, 3, H, W) float32 in [0, 1], 'name': str}`` (and
            ``'landmarks'`` ``(T, M, 2)``, passed on, when the dataset has them).
        num_videos: only the first ``num_videos`` clips.
        face: also PSNR, SSIM, AKD, AED and missing, for the model and the static baseline
            (:mod:`ppfom.metrics.face_metrics`; needs ``ppfom[eval]``, else
            :class:`~ppfom.metrics.face_analysis.EvalDependencyError` before any clip is run).
        references: also the ``piecewise`` reference (frame 0 warped along FaceMesh's landmark
            mesh to each frame's landmarks, no network; :mod:`ppfom.metrics.references`):
            ``piecewise_l1`` (and ``piecewise_akd``, ... with ``face``).
    Returns the :func:`summarize` dict.
    """
    if face:
        from .face_analysis import check_eval_dependencies
        from .face_metrics import face_metrics, frame_psnr_ssim
        check_eval_dependencies()
    per_video = []
    count = len(dataset) if num_videos is None else min(len(dataset), int(num_videos))
    for i in range(count):
        item = dataset[i]
        video = item['video']
        if item.get('landmarks') is not None:       # a keypoint detector that reads landmarks
            prediction = reconstruct(paddle.to_tensor(video), item['landmarks']).numpy()
        else:
            prediction = reconstruct(paddle.to_tensor(video)).numpy()
        clip = {'name': item['name'], 'l1': frame_l1(prediction, video),
                'static_l1': static_baseline_l1(video)}
        if face:
            clip['psnr'], clip['ssim'] = frame_psnr_ssim(prediction, video)
            clip['static_psnr'], clip['static_ssim'] = frame_psnr_ssim(
                np.broadcast_to(video[:1], video.shape), video)
            clip.update(face_metrics(prediction, video))
        if references:
            from .references import clip_landmarks, piecewise_reconstruction
            piecewise, _ = piecewise_reconstruction(
                video, clip_landmarks(video, item.get('landmarks')))
            clip['piecewise_l1'] = frame_l1(piecewise, video)
            if face:
                clip['piecewise_psnr'], clip['piecewise_ssim'] = frame_psnr_ssim(piecewise, video)
                clip.update({'piecewise_' + k: v for k, v in face_metrics(piecewise, video).items()
                             if not k.startswith('static_')})
        per_video.append(clip)
    return summarize(per_video)
