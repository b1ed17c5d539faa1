"""FOMM's face metrics (paper Sec. 4.1, Table 3): AKD, the missing rate and AED, and the image
metrics PSNR and SSIM, per frame.

As in ``pose-evaluation`` (``cmp_kp.py``, ``cmp.py``), with the differences written down in
``docs/en_US/evaluation.md``:

- **AKD**: mean Euclidean distance between the 68 landmarks of the generated and the real frame,
  in pixels of the frames resized to 256x256, over the frames where both have a face;
- **missing**: share of the frames where the real frame has a face and the generated one has
  none (the paper's MKR counts missing keypoints of a body; a face is found whole or not);
- **AED**: mean L2 distance between the identity descriptors of the generated and the real frame,
  over the frames where both have a face (dlib's 128-d ResNet descriptor, not OpenFace's).
"""
import numpy as np

from .face_analysis import get_analyzer


def frame_akd(landmarks_a, landmarks_b):
    """Per-frame mean landmark distance: two ``(T, 68, 2)`` arrays -> ``(T,)`` pixels (NaN where
    either frame has no face)."""
    a, b = np.asarray(landmarks_a, np.float64), np.asarray(landmarks_b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f'landmarks {a.shape} and {b.shape} differ in shape')
    return np.linalg.norm(a - b, axis=-1).mean(axis=-1)


def frame_aed(descriptors_a, descriptors_b):
    """Per-frame identity distance: two ``(T, 128)`` arrays -> ``(T,)`` (NaN without a face)."""
    a, b = np.asarray(descriptors_a, np.float64), np.asarray(descriptors_b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f'descriptors {a.shape} and {b.shape} differ in shape')
    return np.linalg.norm(a - b, axis=-1)


def frame_missing(found_generated, found_real):
    """1.0 where the real frame has a face and the generated one none, 0.0 where both have one,
    NaN where the real frame has none (not counted): ``(T,)`` bool each -> ``(T,)``."""
    gen, real = np.asarray(found_generated, bool), np.asarray(found_real, bool)
    return np.where(real, (~gen).astype(np.float64), np.nan)


def compare_faces(generated, real):
    """AKD, AED and missing per frame from two :meth:`FaceAnalyzer.analyze` results.

    Returns ``{'akd': (T,), 'aed': (T,), 'missing': (T,)}`` with NaN where not defined.
    """
    return {'akd': frame_akd(generated['landmarks'], real['landmarks']),
            'aed': frame_aed(generated['descriptors'], real['descriptors']),
            'missing': frame_missing(generated['found'], real['found'])}


def repeat_first(analysis, count):
    """The analysis of a clip whose every frame is frame 0 (the static baseline), no rerun."""
    return {k: np.repeat(v[:1], count, axis=0) for k, v in analysis.items()}


def frame_psnr_ssim(prediction, real):
    """PSNR (dB) and SSIM per frame with ``skimage.metrics`` (``data_range=1``): two
    ``(T, 3, H, W)`` arrays in ``[0, 1]`` -> ``((T,), (T,))``. SSIM uses scikit-image's default
    7x7 uniform window over the colour channels."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    prediction, real = np.asarray(prediction, np.float64), np.asarray(real, np.float64)
    if prediction.shape != real.shape:
        raise ValueError(f'prediction {prediction.shape} and real {real.shape} differ in shape')
    psnr, ssim = [], []
    for p, r in zip(prediction, real):
        psnr.append(peak_signal_noise_ratio(r, p, data_range=1.0) if np.any(p != r) else np.inf)
        ssim.append(structural_similarity(r, p, data_range=1.0, channel_axis=0))
    return np.array(psnr), np.array(ssim)


def face_metrics(prediction, real, analyzer=None):
    """AKD, AED and missing per frame of a generated clip against the real one, and the same
    for the static baseline (every frame predicted as frame 0).

    Args:
        prediction, real: ``(T, 3, H, W)`` float in ``[0, 1]`` or ``(T, H, W, 3)`` uint8 RGB.
        analyzer: a :class:`FaceAnalyzer` (default: the shared one).
    Returns ``{'akd', 'aed', 'missing', 'static_akd', 'static_aed', 'static_missing'}``, each
    ``(T,)`` with NaN where undefined. Raises :class:`EvalDependencyError` without dlib.
    """
    analyzer = analyzer or get_analyzer()
    real_faces = analyzer.analyze(real)
    out = compare_faces(analyzer.analyze(prediction), real_faces)
    static = compare_faces(repeat_first(real_faces, len(real_faces['found'])), real_faces)
    out.update({'static_' + k: v for k, v in static.items()})
    return out
