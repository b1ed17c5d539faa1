"""What every face detector shares: the result type, input checks, downscaling and box maths."""
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np


@dataclass
class Detections:
    """Faces found in one image, best score first.

    Attributes:
        boxes: ``(N, 5)`` float32 ``x1, y1, x2, y2, score`` in pixels of the input image
            (x to the right, y down; ``score`` in [0, 1]). Boxes may reach past the border.
        landmarks: ``(N, K, 2)`` float32 ``(x, y)`` pixels, or ``None`` when the model has none
            (S3FD). BlazeFace gives K = 6: right eye, left eye, nose tip, mouth centre, right ear
            tragion, left ear tragion ("right" = the person's right, on the image's left).
    """
    boxes: np.ndarray
    landmarks: Optional[np.ndarray] = None

    def __len__(self):
        return len(self.boxes)


def empty_detections(num_landmarks=None):
    """No face: ``(0, 5)`` boxes (and ``(0, K, 2)`` landmarks when ``num_landmarks`` is given)."""
    lms = None if num_landmarks is None else np.zeros((0, num_landmarks, 2), np.float32)
    return Detections(np.zeros((0, 5), np.float32), lms)


def as_rgb_uint8(image, what='a face detector'):
    """Check an image and return it as a C-contiguous RGB uint8 ``(H, W, 3)`` array.

    Accepts ``(H, W)`` or ``(H, W, 1)`` grayscale (replicated to three channels), ``(H, W, 3)`` RGB
    and ``(H, W, 4)`` RGBA (the alpha channel is dropped). ``what`` names the caller in errors.
    Raises:
        TypeError: not a numpy uint8 array.
        ValueError: another shape, or an empty image.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        got = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise TypeError(f'{what} takes an RGB uint8 numpy image, got {got}; convert with '
                        '(img * 255).round().clip(0, 255).astype(np.uint8) for a [0, 1] float image')
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise ValueError(f'{what} takes an (H, W, 3) RGB image (or gray / RGBA), got shape '
                         f'{image.shape}')
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def downscale(image, max_side):
    """Shrink ``image`` so that its longer side is at most ``max_side`` (area interpolation).

    Returns ``(small, scale)`` with ``small`` ~ ``image * scale``; ``scale`` = 1 when it already fits
    or ``max_side`` is ``None``. Coordinates on ``small`` map back by dividing by ``scale``.
    """
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image, 1.0
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    # the exact per-axis factors differ by rounding; use the longer side's, as the shorter one
    # only moves by less than half a pixel of the small image
    return small, size[0] / w if w >= h else size[1] / h


def box_iou(box, boxes):
    """IoU of one ``(4,)`` box ``x1, y1, x2, y2`` with ``(M, 4)`` boxes -> ``(M,)`` (continuous
    areas, no "+1"; 0 for empty unions)."""
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.maximum(ix2 - ix1, 0) * np.maximum(iy2 - iy1, 0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
