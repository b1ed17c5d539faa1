"""Contact sheets: grids of video frames (``tools/contact_sheet.py``, the animation score)."""
import cv2
import numpy as np


def spread(count, wanted):
    """``wanted`` evenly spaced frame indices of a clip of ``count`` frames (sorted, unique)."""
    if count < 1:
        raise ValueError('the clip has no frames')
    return sorted(set(np.linspace(0, count - 1, max(1, wanted)).round().astype(int).tolist()))


def fit(frame, width):
    """Resize ``(H, W, 3)`` to ``width`` pixels wide, keeping the aspect ratio."""
    h = max(1, round(frame.shape[0] * width / frame.shape[1]))
    interpolation = cv2.INTER_AREA if width < frame.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(frame, (width, h), interpolation=interpolation)


def side_by_side(left, right):
    """``left`` resized to ``right``'s height, then ``[left | right]``."""
    scale = right.shape[0] / left.shape[0]
    left = cv2.resize(left, (max(1, round(left.shape[1] * scale)), right.shape[0]))
    return np.concatenate([left, right], axis=1)


def grid(tiles, cols):
    """Tiles (``(H, W, 3)`` uint8, equal heights per row) in rows of ``cols``; short rows are
    padded with black on the right. Returns one ``(H', W', 3)`` image."""
    rows = [np.concatenate(tiles[i:i + cols], axis=1) for i in range(0, len(tiles), cols)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.concatenate(rows, axis=0)


def save_rgb(path, image):
    """Write an RGB uint8 image (any format OpenCV writes, by extension)."""
    if not cv2.imwrite(path, cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)):
        raise OSError(f'cannot write {path}; use a .jpg or .png path in a writable folder')
