"""Face landmarks in the animation pipeline: FaceMesh on the source crops and on every driving
frame, for models whose keypoints are measured from landmarks
(:class:`~ppfom.modules.landmark_keypoints.LandmarkKPDetector`) and for the head-shaped paste."""
import numpy as np
import paddle

from ..faceutils.face_landmarks import LandmarkTracker, build_landmarker
from ..modules.motion_transfer import normalize_kp


class NoDrivingFaceError(ValueError):
    """No frame of the driving video has a face the landmarker can follow."""


def to_keypoint_coordinates(landmarks, network_size):
    """FaceMesh landmarks ``(N, 468, 2+)`` in ``[0, 1]`` of their images (pixels / side) ->
    ``(N, 468, 2)`` float32 in FOMM's ``[-1, 1]`` at the networks' resolution (pixel centres,
    ``make_coordinate_grid``: -1 and 1 are the centres of the first and last of
    ``network_size`` pixels), as the training landmarks are stored."""
    index = np.asarray(landmarks, np.float64)[..., :2] * network_size - 0.5
    return (2 * index / (network_size - 1) - 1).astype(np.float32)


def fill_missing(landmarks):
    """Frames without a face (all NaN) take the landmarks of the nearest earlier frame with one
    (the first frames: of the first frame with one). ``(T, 468, C)`` -> ``(landmarks, found)``:
    the same shape, finite, and the ``(T,)`` frames that had a face.
    Raises :class:`NoDrivingFaceError` when no frame has a face."""
    landmarks = np.array(landmarks, copy=True)
    found = np.isfinite(landmarks).all(axis=(1, 2))
    if not found.any():
        raise NoDrivingFaceError('no face found in any frame of the driving video; pass a video '
                                 'with a visible face')
    index = np.where(found, np.arange(len(found)), -1)
    index = np.maximum.accumulate(index)
    index[index < 0] = np.argmax(found)
    return landmarks[index], found


class FaceLandmarks:
    """FaceMesh landmarks of the sources (once) and of the driving frames (followed from frame to
    frame as MediaPipe's video mode does, batch after batch).

    Args:
        detector: the face detector that starts (and restarts) the following; ``None``:
            BlazeFace's single pass.
    """

    def __init__(self, detector=None):
        self.landmarker = build_landmarker()
        self.detector = detector
        self.tracker = LandmarkTracker(self.landmarker, detector)

    def of_sources(self, sources):
        """``(F, S, S, 3)`` uint8 source images -> ``(F, 468, 2)`` in ``[0, 1]`` of each image. Each source is
        detected, then refined by one following step (MediaPipe's ROI from landmarks).
        Raises ``ValueError`` naming the source without a face."""
        out = []
        for i, image in enumerate(sources):
            tracker = LandmarkTracker(self.landmarker, self.detector)
            points = tracker(image)
            if np.isfinite(points).all():
                points = tracker(image)
            if not np.isfinite(points).all():
                raise ValueError(f'no face landmarks found in source crop {i}; pass a photo with '
                                 'a clearly visible face (or a model with a learnt keypoint '
                                 'detector, e.g. --model vox256)')
            out.append(points[:, :2] / np.array([image.shape[1], image.shape[0]]))
        return np.stack(out)

    def of_driving(self, frames):
        """``(B, H, W, 3)`` uint8 driving frames (consecutive, after the previous call's) ->
        ``(B, 468, 2)`` in ``[0, 1]`` of the frames, NaN where no face was found (see
        :func:`fill_missing`)."""
        frames = np.asarray(frames)
        scale = np.array([frames.shape[2], frames.shape[1]], np.float64)
        return np.stack([self.tracker(frame)[:, :2] / scale for frame in frames])


def animated_landmarks(source, driving, initial, options):
    """Where each animated face is: the driving landmarks' motion moved onto the source's
    landmarks as the keypoints' is (:func:`~ppfom.modules.motion_transfer.normalize_kp`, paper
    Sec. 4), for the head-shaped paste.

    Args:
        source: ``(F, 468, 2)`` in ``[0, 1]`` of each source crop.
        driving: ``(B, 468, 2)`` in ``[0, 1]`` of the driving crops. initial: ``(468, 2)``, the
            driving frame matched with the source.
        options: :class:`~ppfom.apps.animation.MotionOptions` (``relative``, ``adapt_scale``).
    Returns ``(F, B, 468, 2)`` float64.
    """
    as_kp = lambda v: {'value': paddle.to_tensor(np.asarray(v, np.float64))}  # noqa: E731
    out = [normalize_kp(as_kp(s[None]), as_kp(driving), as_kp(initial[None]),
                        adapt_movement_scale=options.adapt_scale,
                        use_relative_movement=options.relative)['value'].numpy()
           for s in source]
    return np.stack(out)
