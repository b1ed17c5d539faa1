"""Face boxes -> square crops for the networks -> animated crops pasted back into the photo.

Pixel coordinates throughout: x to the right, y down, boxes ``x1, y1, x2, y2`` (exclusive end).
"""
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class SquareCrop:
    """A square window of the photo, possibly reaching past its border.

    ``x``, ``y``: top-left corner (may be negative); ``size``: side in pixels. Parts outside the
    photo are filled by reflection when cropping and never pasted back.
    """
    x: int
    y: int
    size: int

    @property
    def box(self):
        return self.x, self.y, self.x + self.size, self.y + self.size


def square_crop_for_face(box, image_shape, scale=2.0, shift_y=-0.1, min_size=16):
    """The square crop a FOMM face model expects around a detected face.

    Args:
        box: face box ``x1, y1, x2, y2[, score]`` in pixels.
        image_shape: ``(H, W[, C])`` of the photo.
        scale: crop side / ``max(box width, box height)``; 2.0 frames the head and some neck and
            hair, like VoxCeleb's crops.
        shift_y: move the centre up (negative) by this fraction of the crop side.
        min_size: smallest crop side in pixels.
    Returns:
        :class:`SquareCrop`. Never stretched: the crop is square, and it is kept centred on the
        face even at the photo's border (the outside is filled, not the crop shifted).
    """
    x1, y1, x2, y2 = [float(v) for v in box[:4]]
    side = max(min_size, int(round(scale * max(x2 - x1, y2 - y1))))
    cx = (x1 + x2) / 2
    cy = (y1 + y2) / 2 + shift_y * side
    return SquareCrop(int(round(cx - side / 2)), int(round(cy - side / 2)), side)


def crop_square(image, crop, out_size):
    """Cut ``crop`` out of ``image`` ``(H, W, 3)`` uint8 and resize to ``out_size`` squared.

    Pixels outside the photo are reflected (``BORDER_REFLECT_101``) so the network sees a
    plausible continuation, not black bars.
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = crop.box
    pad = max(0, -x1, -y1, x2 - w, y2 - h)
    if pad:
        # reflection needs the pad to be smaller than the image: repeat if a tiny photo asks more
        mode = cv2.BORDER_REFLECT_101 if pad < min(h, w) else cv2.BORDER_REPLICATE
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, mode)
    window = image[y1 + pad:y2 + pad, x1 + pad:x2 + pad]
    interpolation = cv2.INTER_AREA if crop.size > out_size else cv2.INTER_CUBIC
    return cv2.resize(window, (out_size, out_size), interpolation=interpolation)


def paste_mask(size, ratio=0.4, feather=0.15):
    """Soft disc mask ``(size, size)`` float32 in ``[0, 1]`` for pasting a crop back.

    Args:
        ratio: radius of the fully pasted disc as a fraction of the crop side (PaddleGAN's
            ``--ratio``; 0.4 by default, 0.5 reaches the crop's edges).
        feather: width of the smooth fall-off, as a fraction of the side.
    The mask is 1 inside ``ratio * size``, falls smoothly (cosine) to 0 over ``feather * size``,
    and is 0 at the crop's border whenever ``ratio + feather <= 0.5``.
    """
    centre = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    radius = np.hypot(xx - centre, yy - centre) / size
    t = np.clip((radius - ratio) / max(feather, 1e-6), 0, 1)
    return (0.5 + 0.5 * np.cos(np.pi * t)).astype(np.float32)


class ColourMatch:
    """Per-channel affine colour correction ``out = (x - mean_a) * std_b / std_a + mean_b``,
    fitted once between the animated crop at rest and the source crop inside a mask, so that the
    pasted face has the photo's colours. Fitting once per face keeps it free of flicker."""

    def __init__(self, animated, source, mask):
        weights = mask[..., None].astype(np.float64)
        total = weights.sum() + 1e-8

        def stats(image):
            image = image.astype(np.float64)
            mean = (image * weights).sum(axis=(0, 1)) / total
            std = np.sqrt((((image - mean) ** 2) * weights).sum(axis=(0, 1)) / total)
            return mean, np.maximum(std, 1.0)
        self.mean_a, std_a = stats(animated)
        self.mean_b, std_b = stats(source)
        self.gain = np.clip(std_b / std_a, 0.5, 2.0)

    def __call__(self, image):
        out = (image.astype(np.float32) - self.mean_a) * self.gain + self.mean_b
        return np.clip(out, 0, 255)


def paste_back(photo, crop, animated, mask, colour=None):
    """Blend ``animated`` (a crop at network resolution, uint8) into a copy of ``photo``.

    Args:
        photo: ``(H, W, 3)`` uint8, the unmodified source photo.
        crop: the :class:`SquareCrop` the animation was made from.
        animated: ``(S, S, 3)`` uint8 animated crop.
        mask: ``(crop.size, crop.size)`` float mask (:func:`paste_mask` at the crop's size).
        colour: optional :class:`ColourMatch` applied to the animated crop.
    Returns:
        ``(H, W, 3)`` uint8; pixels where the mask is 0 (everything far from the face) are the
        photo's own, bit for bit.
    """
    out = photo.copy()
    x1, y1, x2, y2 = crop.box
    h, w = photo.shape[:2]
    ix1, iy1, ix2, iy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if ix1 >= ix2 or iy1 >= iy2:
        return out
    # only the mask's bounding box (inside the photo) changes: elsewhere the photo's exact values
    rows = np.flatnonzero(mask[iy1 - y1:iy2 - y1].any(axis=1))
    cols = np.flatnonzero(mask[:, ix1 - x1:ix2 - x1].any(axis=0))
    if not len(rows) or not len(cols):
        return out
    iy1, iy2, ix1, ix2 = iy1 + rows[0], iy1 + rows[-1] + 1, ix1 + cols[0], ix1 + cols[-1] + 1
    interpolation = cv2.INTER_AREA if animated.shape[0] > crop.size else cv2.INTER_CUBIC
    patch = cv2.resize(animated, (crop.size, crop.size), interpolation=interpolation)
    sl = (slice(iy1 - y1, iy2 - y1), slice(ix1 - x1, ix2 - x1))
    patch = colour(patch[sl]) if colour is not None else patch[sl].astype(np.float32)
    m = mask[sl][..., None]
    region = out[iy1:iy2, ix1:ix2].astype(np.float32)
    blended = m * patch + (1 - m) * region
    # pixels the mask does not touch keep the photo's exact values
    out[iy1:iy2, ix1:ix2] = np.where(m > 0, np.clip(np.rint(blended), 0, 255), region).astype(np.uint8)
    return out
