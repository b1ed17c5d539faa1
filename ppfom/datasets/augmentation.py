"""Paired augmentation for FOMM clips (original ``augmentation.py``): the same random flip and
colour jitter for every frame of a clip, and time reversal. Frames are float32 ``(H, W, 3)``
RGB in ``[0, 1]``; ``rng`` is a ``numpy.random.Generator``."""
import cv2
import numpy as np

from .landmarks import flip_anchors

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _gray(img):
    return (img @ _LUMA)[..., None]


def adjust_brightness(img, factor):
    return img * factor


def adjust_contrast(img, factor):
    return (img - _gray(img).mean()) * factor + _gray(img).mean()


def adjust_saturation(img, factor):
    gray = _gray(img)
    return (img - gray) * factor + gray


def adjust_hue(img, shift):
    """Rotate the hue by ``shift`` turns (``[-0.5, 0.5]``), as torchvision's ``adjust_hue``."""
    hsv = cv2.cvtColor(np.clip(img, 0, 1).astype(np.float32), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + shift * 360.0) % 360.0
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


class ColorJitter:
    """torchvision-style colour jitter with one set of random factors per clip.

    Args:
        brightness, contrast, saturation: factors drawn from ``[1 - v, 1 + v]``.
        hue: shift drawn from ``[-v, v]`` turns (``v <= 0.5``).
    The four adjustments are applied in a random order; results are clipped to ``[0, 1]``.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        if not 0 <= hue <= 0.5:
            raise ValueError(f'hue jitter must be in [0, 0.5], got {hue}')
        self.ranges = {'brightness': brightness, 'contrast': contrast,
                       'saturation': saturation, 'hue': hue}

    def __call__(self, frames, rng):
        ops = []
        for name, v in self.ranges.items():
            if v:
                value = rng.uniform(-v, v) if name == 'hue' else rng.uniform(1 - v, 1 + v)
                ops.append((name, value))
        order = rng.permutation(len(ops))
        funcs = {'brightness': adjust_brightness, 'contrast': adjust_contrast,
                 'saturation': adjust_saturation, 'hue': adjust_hue}
        out = []
        for frame in frames:
            for i in order:
                name, value = ops[i]
                frame = np.clip(funcs[name](frame, value), 0, 1)
            out.append(frame.astype(np.float32))
        return out


class RandomAffine:
    """One random similarity transform (zoom, rotation, shift) for every frame of a clip.

    Args:
        scale: ``(low, high)`` zoom factors (> 1 enlarges the content).
        rotation: maximum rotation in degrees (uniform in ``[-rotation, rotation]``).
        translation: maximum shift as a fraction of the frame side, per axis.
        prob: probability of transforming a clip at all.
    Frames are resampled bilinearly; what comes in from outside the frame is reflected
    (``BORDER_REFLECT_101``). Points ``(..., 2)`` in ``[-1, 1]`` (x then y, the anchors of
    :mod:`.landmarks`) move with the content. Not in the original FOMM: ppfom's bundled model
    uses it so that its keypoint detector sees faces at more positions and sizes than its few
    training clips have.
    """

    def __init__(self, scale=(1.0, 1.0), rotation=0.0, translation=0.0, prob=1.0):
        self.scale = (float(scale[0]), float(scale[1]))
        self.rotation, self.translation, self.prob = float(rotation), float(translation), prob
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f'scale must be (low, high) with 0 < low <= high, got {scale}')

    def sample(self, rng):
        """A random ``2 x 3`` matrix acting on ``[-1, 1]`` coordinates, or None (no change)."""
        if rng.random() >= self.prob:
            return None
        zoom = rng.uniform(*self.scale)
        angle = np.deg2rad(rng.uniform(-self.rotation, self.rotation))
        shift = rng.uniform(-self.translation, self.translation, size=2) * 2
        c, s = np.cos(angle) * zoom, np.sin(angle) * zoom
        return np.array([[c, -s, shift[0]], [s, c, shift[1]]])

    @staticmethod
    def apply(frames, points, matrix):
        """Move ``frames`` (list of ``(H, W, 3)``) and ``points`` by ``matrix`` (from
        :meth:`sample`)."""
        if matrix is None:
            return frames, points
        h, w = frames[0].shape[:2]
        # FOMM's [-1, 1] coordinates u = 2 i / (w - 1) - 1 of pixel index i
        # (make_coordinate_grid); conjugate the matrix into index space
        to_index = np.array([[(w - 1) / 2, 0, (w - 1) / 2], [0, (h - 1) / 2, (h - 1) / 2],
                             [0, 0, 1]])
        full = to_index @ np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(to_index)
        frames = [cv2.warpAffine(f, full[:2], (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT_101) for f in frames]
        if points is not None:
            points = points @ matrix[:, :2].T + matrix[:, 2]
        return frames, points


class PairedAugmentation:
    """Horizontal flip (probability ``flip_prob``), time flip (probability 0.5),
    :class:`ColorJitter` and optionally :class:`RandomAffine` (``affine``: its kwargs), applied
    identically to all frames of a clip (list of ``(H, W, 3)``)."""

    def __init__(self, flip_prob=0.5, time_flip=True, jitter=None, affine=None):
        self.flip_prob = flip_prob
        self.time_flip = time_flip
        self.jitter = ColorJitter(**jitter) if jitter else None
        self.affine = RandomAffine(**affine) if affine else None

    def __call__(self, frames, rng, landmarks=None):
        """``frames``: list of ``(H, W, 3)``; ``landmarks``: optional ``(len(frames), K, 2)`` points
        in ``[-1, 1]`` (:mod:`.landmarks` anchors), reordered and mirrored with the frames.
        Returns the frames, or ``(frames, landmarks)`` when landmarks are given."""
        frames = list(frames)
        if self.time_flip and rng.random() < 0.5:
            frames = frames[::-1]
            landmarks = None if landmarks is None else landmarks[::-1]
        if rng.random() < self.flip_prob:
            frames = [np.ascontiguousarray(f[:, ::-1]) for f in frames]
            landmarks = None if landmarks is None else flip_anchors(landmarks)
        if self.jitter is not None:
            frames = self.jitter(frames, rng)
        if self.affine is not None:
            frames, landmarks = self.affine.apply(frames, landmarks, self.affine.sample(rng))
        return frames if landmarks is None else (frames, np.ascontiguousarray(landmarks))
