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


class PairedAugmentation:
    """Horizontal flip (probability ``flip_prob``), time flip (probability 0.5) and
    :class:`ColorJitter`, applied identically to all frames of a clip (list of ``(H, W, 3)``)."""

    def __init__(self, flip_prob=0.5, time_flip=True, jitter=None):
        self.flip_prob = flip_prob
        self.time_flip = time_flip
        self.jitter = ColorJitter(**jitter) if jitter else None

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
        return frames if landmarks is None else (frames, np.ascontiguousarray(landmarks))
