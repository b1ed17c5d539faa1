"""Cross-identity motion-transfer score: does the animated photo move like the driver?

FOMM's ``--mode animate`` (a photo driven by another person's video) has no metric in the paper;
L1/AKD/AED need the real frames of the same person. This score compares per-frame landmark
signals (dlib's 68 points, :mod:`ppfom.metrics.face_analysis`) of the driving clip and of the
result:

- ``mouth``: inner-lip gap (mean of the 61-67, 62-66, 63-65 distances), ``eyes``: lid gap (mean
  of 37-41, 38-40, 43-47, 44-46), both over the inter-ocular distance (between the eye centres);
- ``roll``: angle of the eye line, degrees; ``yaw``: position of the nose tip (30) along the jaw
  line (0 -> 16), minus 0.5 (0 = frontal); ``centre_x``, ``centre_y``: mean of the 68 points in
  units of the clip's median inter-ocular distance.

For each signal: Pearson r over the frames where both have a face (0 when either signal is
constant: nothing moved), and the amplitude ratio, the 5-95 percentile spread of the result's
signal over the driver's (1 = the same amplitude). Plus the identity distance between the
result's faces and the photo's (dlib descriptor; < 0.6 = same person) and the share of result
frames with a detectable face. Points are 0-based indices of the iBUG 68-point scheme.
"""
import itertools
import os
import tempfile

import cv2
import numpy as np

from ..utils.contact_sheet import fit, grid, save_rgb, side_by_side, spread
from .face_analysis import ANALYSIS_SIZE, as_uint8_frames, check_eval_dependencies, resize_square

SIGNALS = ('mouth', 'eyes', 'roll', 'yaw', 'centre_x', 'centre_y')
FACE_CROP_SCALE = 2.0  # result frames are cut to this x the photo's dlib face box, then 256 px
_MOUTH = ((61, 67), (62, 66), (63, 65))
_EYES = ((37, 41), (38, 40), (43, 47), (44, 46))


def signals_from_landmarks(landmarks):
    """Per-frame signals from ``(T, 68, 2)`` landmarks (NaN rows = no face).

    Returns ``{name: (T,) float64}`` for the names in :data:`SIGNALS` (NaN without a face) and
    ``'found': (T,) bool``.
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise ValueError(f'landmarks must be (T, 68, 2), got {lm.shape}')
    right_eye, left_eye = lm[:, 36:42].mean(axis=1), lm[:, 42:48].mean(axis=1)
    eye_line = left_eye - right_eye
    iod = np.linalg.norm(eye_line, axis=-1)

    def gap(pairs):
        return np.mean([np.linalg.norm(lm[:, a] - lm[:, b], axis=-1) for a, b in pairs], axis=0)

    jaw = lm[:, 16] - lm[:, 0]
    along = np.einsum('ti,ti->t', lm[:, 30] - lm[:, 0], jaw) / np.einsum('ti,ti->t', jaw, jaw)
    found = np.isfinite(lm).all(axis=(1, 2))
    scale = np.median(iod[found]) if found.any() else np.nan
    centre = lm.mean(axis=1) / scale
    return {'mouth': gap(_MOUTH) / iod, 'eyes': gap(_EYES) / iod,
            'roll': np.degrees(np.arctan2(eye_line[:, 1], eye_line[:, 0])),
            'yaw': along - 0.5, 'centre_x': centre[:, 0], 'centre_y': centre[:, 1],
            'found': found}


def landmark_signals(frames, analyzer=None):
    """Per-frame motion signals of a clip (see the module docstring).

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB frames (or a list), or ``(T, 3, H, W)`` float in
            ``[0, 1]``; each is padded to a square and resized to 256x256 first.
        analyzer: a :class:`~ppfom.metrics.face_analysis.FaceAnalyzer` (default: the shared one).
    Returns ``{name: (T,) float64}`` for :data:`SIGNALS` plus ``'found': (T,) bool`` and
    ``'landmarks': (T, 68, 2)`` (pixels at 256). Raises ``EvalDependencyError`` without dlib.
    """
    analyzer = analyzer or check_eval_dependencies()
    analysis = analyzer.analyze([pad_square(f) for f in as_uint8_frames(frames)],
                                descriptors=False)
    out = signals_from_landmarks(analysis['landmarks'])
    out['landmarks'] = analysis['landmarks']
    return out


def pearson(a, b):
    """Pearson r of two ``(T,)`` signals over the frames where both are finite; 0.0 when either
    is constant there, None with fewer than 3 such frames."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < 3:
        return None
    a, b = a[both] - a[both].mean(), b[both] - b[both].mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 1e-12 else 0.0


def spread_ratio(result, driver):
    """5-95 percentile spread of ``result`` over that of ``driver`` (finite values only), or
    None when the driver's signal does not move."""
    result, driver = np.asarray(result, np.float64), np.asarray(driver, np.float64)
    result, driver = result[np.isfinite(result)], driver[np.isfinite(driver)]
    if len(result) < 3 or len(driver) < 3:
        return None
    d = np.subtract(*np.percentile(driver, [95, 5]))
    return float(np.subtract(*np.percentile(result, [95, 5])) / d) if d > 1e-12 else None


def compare_signals(driver, result):
    """``{name: {'r': Pearson r, 'amplitude_ratio': result / driver spread}}`` for
    :data:`SIGNALS`, from two :func:`landmark_signals` dicts of equally long clips."""
    if len(driver['found']) != len(result['found']):
        raise ValueError(f"the driver has {len(driver['found'])} frames and the result "
                         f"{len(result['found'])}; score clips of the same length")
    return {name: {'r': pearson(driver[name], result[name]),
                   'amplitude_ratio': spread_ratio(result[name], driver[name])}
            for name in SIGNALS}


def pad_square(frame):
    """Pad ``(H, W, 3)`` with black to a centred square (no resize, no distortion)."""
    h, w = frame.shape[:2]
    if h == w:
        return frame
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    return np.pad(frame, ((top, side - h - top), (left, side - w - left), (0, 0)))


def face_crop_of(image, analyzer, scale=FACE_CROP_SCALE):
    """The :class:`~ppfom.faceutils.crop.SquareCrop` of ``scale`` x the largest dlib face box of
    ``image`` (found on a copy at most 800 px on its long side), or None without a face."""
    from ..faceutils.crop import SquareCrop
    factor = min(1.0, 800 / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) \
        if factor < 1 else image
    box = analyzer.face_box(np.ascontiguousarray(small))
    if box is None:
        return None
    x1, y1, x2, y2 = (v / factor for v in (box.left(), box.top(), box.right(), box.bottom()))
    side = int(round(scale * max(x2 - x1, y2 - y1)))
    return SquareCrop(int(round((x1 + x2 - side) / 2)), int(round((y1 + y2 - side) / 2)), side)


def _photo_crop(photo, analyzer):
    crop = face_crop_of(photo, analyzer)
    if crop is None:
        raise ValueError('dlib finds no face in the photo; score a photo with a visible frontal '
                         'face')
    return crop


def read_clip(video, max_frames=None):
    """``(frames, fps)`` of a driving clip: a video path (its first ``max_frames`` frames, its
    frame rate) or frames ``(T, H, W, 3)`` uint8 RGB (25 fps assumed). Frames are a list of
    ``(H, W, 3)`` uint8 RGB. Raises ``VideoReadError``/``ValueError`` for unreadable input."""
    if isinstance(video, (str, os.PathLike)):
        from ..utils.video import VideoReader
        reader = VideoReader(os.fspath(video))
        frames = list(itertools.islice(reader.frames(), max_frames))
        if not frames:
            raise ValueError(f'{video} has no frames; pass another driving video')
        return frames, reader.fps
    frames = as_uint8_frames(video)
    return frames[:max_frames] if max_frames else frames, 25.0


def animate(photo_path, driving_frames, fps, predictor=None, **predictor_kwargs):
    """Run :class:`~ppfom.apps.first_order_predictor.FirstOrderPredictor` on ``driving_frames``
    (written to a temporary mp4 first, so that a clip can be cut short) and yield the result's
    frames. Default options: ``relative=True, adapt_scale=True``, no audio, no progress bars."""
    from ..utils.video import VideoReader, VideoWriter
    with tempfile.TemporaryDirectory(prefix='ppfom_anim_') as tmp:
        driving_path = os.path.join(tmp, 'driving.mp4')
        with VideoWriter(driving_path, fps) as writer:
            for frame in driving_frames:
                writer.write(frame)
        if predictor is None:
            from ..apps.first_order_predictor import FirstOrderPredictor
            kwargs = dict(relative=True, adapt_scale=True, audio=False, progress=False)
            kwargs.update(predictor_kwargs)
            predictor = FirstOrderPredictor(output=tmp, filename='result.mp4', **kwargs)
        else:
            predictor.output, predictor.filename = tmp, 'result.mp4'
        yield from VideoReader(predictor.run(photo_path, driving_path)).frames()


def score_pair(photo, driving, result=None, max_frames=None, sheet_path=None, sheet_frames=6,
               crop_result=True, predictor=None, analyzer=None, **predictor_kwargs):
    """Score how well the animated ``photo`` follows the ``driving`` clip.

    Args:
        photo: path of the source photo (or ``(H, W, 3)`` uint8 RGB when ``result`` is given).
        driving: path of the driving video, or its frames ``(T, H, W, 3)`` uint8 RGB.
        result: the animation: a video path, or frames ``(T, H', W', 3)`` uint8 (the photo's
            size, as ``FirstOrderPredictor`` writes them). None: run the predictor here.
        max_frames: only the first ``max_frames`` driving frames (and result frames).
        crop_result: cut every result frame to 2x the photo's face (the result has the photo's
            size); False: analyse the result frames like the driver's (padded to a square,
            resized), e.g. to score the driving clip against itself.
        sheet_path: also write a contact sheet (driver | result face, ``sheet_frames`` frames).
        predictor: a ready ``FirstOrderPredictor`` (its output folder is replaced by a temporary
            one); else one is built with ``relative=True, adapt_scale=True`` and
            ``predictor_kwargs`` (e.g. ``model=``, ``weight_path=``, ``config=``).
        analyzer: a ``FaceAnalyzer`` (default: the shared one).
    Returns a dict: ``frames``, ``signals`` (``{name: {'r', 'amplitude_ratio'}}``, see
    :func:`compare_signals`), ``identity_distance`` (mean over result frames with a face, to the
    photo), ``identity_distance_driver`` (the driver's first face to the photo: what a result
    showing the driver's identity would score), ``face_found`` (share of result frames with a
    face), ``driver_face_found``.
    Raises ``EvalDependencyError`` without dlib, ``ValueError`` when the photo has no face dlib
    finds or the clips differ in length.
    """
    from ..faceutils.crop import crop_square
    from ..utils.image_io import read_image
    analyzer = analyzer or check_eval_dependencies()
    driver_frames, fps = read_clip(driving, max_frames)
    if result is None:
        if not isinstance(photo, (str, os.PathLike)):
            raise ValueError('pass the photo as a path when the predictor is to run here')
        result_frames = animate(os.fspath(photo), driver_frames, fps, predictor,
                                **predictor_kwargs)
    elif isinstance(result, (str, os.PathLike)):
        from ..utils.video import VideoReader
        result_frames = VideoReader(os.fspath(result)).frames()
    else:
        result_frames = iter(as_uint8_frames(result))
    photo_image = read_image(os.fspath(photo)) if isinstance(photo, (str, os.PathLike)) \
        else as_uint8_frames([photo])[0]

    crops, crop = [], None
    for frame in itertools.islice(result_frames, len(driver_frames)):
        if not crop_result:
            crops.append(resize_square(pad_square(frame), ANALYSIS_SIZE))
            continue
        if crop is None:  # the photo at the result's size (the predictor may downscale it)
            photo_image = cv2.resize(photo_image, frame.shape[1::-1], interpolation=cv2.INTER_AREA) \
                if photo_image.shape[:2] != frame.shape[:2] else photo_image
            crop = _photo_crop(photo_image, analyzer)
        crops.append(crop_square(frame, crop, ANALYSIS_SIZE))
    if hasattr(result_frames, 'close'):
        result_frames.close()  # stop the decoder (and remove animate()'s temporary folder)
    if len(crops) != len(driver_frames):
        raise ValueError(f'the result has {len(crops)} frames and the driver '
                         f'{len(driver_frames)}; score clips of the same length')

    driver = landmark_signals(driver_frames, analyzer)
    analysis = analyzer.analyze(crops, descriptors=True)
    result_signals = signals_from_landmarks(analysis['landmarks'])
    if crop is None:  # crop_result=False: the photo's own face crop, for its descriptor
        crop = _photo_crop(photo_image, analyzer)
    photo_faces = analyzer.analyze([crop_square(photo_image, crop, ANALYSIS_SIZE)])
    if not photo_faces['found'][0]:
        raise ValueError('dlib finds no landmarks in the photo\'s face crop; score another photo')
    photo_descriptor = photo_faces['descriptors'][0]
    distances = np.linalg.norm(analysis['descriptors'] - photo_descriptor, axis=-1)
    first = np.flatnonzero(driver['found'])
    driver_distance = None
    if len(first):
        image = resize_square(pad_square(driver_frames[first[0]]), ANALYSIS_SIZE)
        driver_distance = float(np.linalg.norm(
            analyzer.descriptor(image, driver['landmarks'][first[0]]) - photo_descriptor))
    found = analysis['found']
    out = {'frames': len(crops), 'signals': compare_signals(driver, result_signals),
           'identity_distance': float(np.nanmean(distances)) if found.any() else None,
           'identity_distance_driver': driver_distance,
           'face_found': float(found.mean()), 'driver_face_found': float(driver['found'].mean())}
    if sheet_path:
        save_contact_sheet(sheet_path, driver_frames, crops, sheet_frames)
    return out


def save_contact_sheet(path, driver_frames, result_frames, count=6, width=192, cols=3):
    """Write ``count`` evenly spaced ``driver | result`` tiles (``width`` px per half)."""
    tiles = [side_by_side(fit(pad_square(driver_frames[i]), width), fit(result_frames[i], width))
             for i in spread(len(result_frames), count)]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_rgb(path, grid(tiles, cols))
    return path


def median_scores(scores):
    """Medians over pairs of every number of :func:`score_pair` (None values skipped)."""
    def med(values):
        values = [v for v in values if v is not None]
        return float(np.median(values)) if values else None
    out = {'pairs': len(scores),
           'signals': {name: {key: med([s['signals'][name][key] for s in scores])
                              for key in ('r', 'amplitude_ratio')} for name in SIGNALS}}
    for key in ('identity_distance', 'identity_distance_driver', 'face_found',
                'driver_face_found'):
        out[key] = med([s[key] for s in scores])
    return out
