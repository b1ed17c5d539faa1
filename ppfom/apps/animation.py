"""The animation core: keypoints of the driving frames, the choice of the initial frame, relative
motion transfer and generation, independent of files, faces and progress bars."""
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
import paddle

from ..modules.motion_transfer import keypoint_hull_area, normalize_kp
from .landmarks import to_keypoint_coordinates


@dataclass
class MotionOptions:
    """How the driving motion is transferred (paper Sec. 4 and the original demo's flags).

    relative: ``use_relative_movement`` and ``use_relative_jacobian`` (``--relative``).
    adapt_scale: ``adapt_movement_scale`` (``--adapt_scale``).
    find_best_frame: start from the driving frame whose pose is closest to the source's.
    best_frame: start from this driving frame (index from 0); overrides ``find_best_frame``.
    """
    relative: bool = False
    adapt_scale: bool = False
    find_best_frame: bool = False
    best_frame: Optional[int] = None


def frames_to_input(frames, size):
    """``(B, H, W, 3)`` uint8 RGB -> ``(B, 3, size, size)`` float32 in ``[0, 1]``
    (area resampling when shrinking, bilinear when enlarging)."""
    out = np.empty((len(frames), 3, size, size), np.float32)
    for i, frame in enumerate(frames):
        shrink = frame.shape[0] > size or frame.shape[1] > size
        resized = cv2.resize(frame, (size, size),
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        out[i] = resized.transpose(2, 0, 1).astype(np.float32) / 255.0
    return out


def output_to_frames(prediction):
    """``(B, 3, H, W)`` float in ``[0, 1]`` -> ``(B, H, W, 3)`` uint8 RGB."""
    return np.clip(np.rint(prediction.transpose(0, 2, 3, 1) * 255.0), 0, 255).astype(np.uint8)


def _normalised_pose(value):
    """Keypoints ``(K, 2)`` centred and scaled to unit hull area: a pose free of position/size."""
    centred = value - value.mean(axis=0, keepdims=True)
    return centred / np.sqrt(keypoint_hull_area(value))


def best_frame_index(kp_source_value, kp_driving_values):
    """Index of the driving frame whose keypoint pose is closest to the source's.

    Both poses are centred and scaled to unit convex-hull area, then compared by summed squared
    distance (the original demo does this with face-alignment landmarks; the FOMM keypoints
    need no extra model).

    Args:
        kp_source_value: ``(K, 2)``. kp_driving_values: ``(N, K, 2)``.
    """
    source = _normalised_pose(kp_source_value)
    distances = [((_normalised_pose(v) - source) ** 2).sum() for v in kp_driving_values]
    return int(np.argmin(distances))


def _slice_kp(kp, start, stop):
    return {k: v[start:stop] for k, v in kp.items()}


def _to_tensor(kp):
    return {k: paddle.to_tensor(v) for k, v in kp.items()}


class Animator:
    """Animates one source image with a sequence of driving keypoints through a backend.

    Several sources (the faces of one photo) are animated together, in the same network calls.

    Steps:
        1. :meth:`set_source` — resize the sources, detect their keypoints (or measure them from
           their landmarks), cache their features.
        2. :meth:`keypoints` — keypoints of a batch of driving frames (call for every batch).
        3. :meth:`initial_frame` — which driving frame plays the source's pose.
        4. :meth:`generate` — normalised keypoints -> frames, batch by batch (:meth:`animate`
           for one batch against a given initial frame: the live animator's step).

    Args:
        backend: see :mod:`ppfom.inference` (``keypoints``, ``set_source``, ``animate``).
        image_size: side of the square output frames (256 or 512).
        options: :class:`MotionOptions`.
        network_size: side the networks run at, when smaller than ``image_size`` (models that
            compose the warped source, like the bundled one); default ``image_size``.
    """

    def __init__(self, backend, image_size, options, network_size=None):
        self.backend = backend
        self.image_size = image_size
        self.network_size = network_size or image_size
        self.options = options
        self.kp_source = None
        self._kp_sources = []  # one single-source keypoint dict of tensors per source

    @property
    def takes_landmarks(self):
        """Whether the model's keypoints are measured from face landmarks (then
        :meth:`set_source` and :meth:`keypoints` need them)."""
        return bool(getattr(self.backend, 'takes_landmarks', False))

    def _keypoints(self, images, landmarks):
        if not self.takes_landmarks:
            return self.backend.keypoints(images)
        if landmarks is None:
            raise ValueError("this model's keypoints are measured from face landmarks; pass them")
        return self.backend.keypoints(landmarks)

    def set_source(self, sources, landmarks=None):
        """``sources``: ``(F, H, W, 3)`` uint8 RGB images (a whole photo, or F face crops);
        ``landmarks``: their FaceMesh landmarks ``(F, 468, 2+)`` in ``[0, 1]`` of each image
        (models that read landmarks)."""
        sources = np.asarray(sources)
        source_input = frames_to_input(sources, self.network_size)
        self.kp_source = self._keypoints(source_input, self._landmark_input(landmarks))
        source_output = (frames_to_input(sources, self.image_size)
                         if self.image_size != self.network_size else None)
        self.backend.set_source(source_input, self.kp_source, source_output)
        self._kp_sources = [_to_tensor(_slice_kp(self.kp_source, f, f + 1))
                            for f in range(len(self.kp_source['value']))]

    def rest(self):
        """The sources rendered with no motion, ``(F, S, S, 3)`` uint8 (used to fit colours)."""
        return output_to_frames(self.backend.animate(self.kp_source))

    def _landmark_input(self, landmarks):
        if landmarks is None or not self.takes_landmarks:
            return None
        return to_keypoint_coordinates(landmarks, self.network_size)

    def keypoints(self, frames, landmarks=None):
        """``(B, H, W, 3)`` uint8 driving frames -> keypoint dict of numpy arrays; for models that
        read landmarks, their FaceMesh landmarks ``(B, 468, 2+)`` in ``[0, 1]`` of the frames are
        used instead (``frames`` may then be None)."""
        images = None if self.takes_landmarks else frames_to_input(np.asarray(frames),
                                                                  self.network_size)
        return self._keypoints(images, self._landmark_input(landmarks))

    def initial_frame(self, kp_driving):
        """Index of the driving frame matched with the source: ``best_frame``, the best-matching
        frame with ``find_best_frame``, else 0. Raises ``ValueError`` for an index out of range."""
        n = len(kp_driving['value'])
        if self.options.best_frame is not None:
            if not 0 <= self.options.best_frame < n:
                raise ValueError(f'--best_frame {self.options.best_frame} is out of range: the '
                                 f'driving video has {n} frames (0 to {n - 1})')
            return self.options.best_frame
        if self.options.find_best_frame:
            return best_frame_index(self.kp_source['value'][0], kp_driving['value'])  # first source
        return 0

    def animate(self, kp_driving, kp_initial):
        """One batch of driving keypoints -> ``(F, B, H, W, 3)`` uint8 frames (F sources).

        The per-frame step shared by the file demo (:meth:`generate`) and the live animator
        (:class:`ppfom.apps.live.LiveAnimator`): the motion of ``kp_driving`` (B frames, from
        :meth:`keypoints`) relative to ``kp_initial`` (1 frame) is normalised onto every source
        (paper Sec. 4, :func:`normalize_kp`) and rendered.
        """
        batch, initial = _to_tensor(kp_driving), _to_tensor(kp_initial)
        per_source = [normalize_kp(kp_source, batch, initial,
                                   adapt_movement_scale=self.options.adapt_scale,
                                   use_relative_movement=self.options.relative,
                                   use_relative_jacobian=self.options.relative)
                      for kp_source in self._kp_sources]
        kp_norm = {k: np.concatenate([kp[k].numpy() for kp in per_source])
                   for k in ('value', 'jacobian', 'landmarks') if k in per_source[0]}
        frames = output_to_frames(self.backend.animate(kp_norm))
        return frames.reshape((len(self._kp_sources), -1) + frames.shape[1:])

    def generate(self, kp_driving, initial, batch_size):
        """Yield ``(F, B, H, W, 3)`` uint8 frames (F sources, B driving frames) for all driving
        keypoints, in order (:meth:`animate` batch by batch).

        Every output frame depends only on its own driving frame and on the ``initial`` one, so
        animating "forwards and backwards from the best frame" is the same as animating in order
        with that frame as the reference.
        """
        kp_initial = _slice_kp(kp_driving, initial, initial + 1)
        for start in range(0, len(kp_driving['value']), batch_size):
            yield self.animate(_slice_kp(kp_driving, start, start + batch_size), kp_initial)
