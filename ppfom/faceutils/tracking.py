"""Follow the driving face through a video and crop a stable square around it (as the original
``crop-video.py`` and LivePortrait do for uncropped driving videos)."""
import numpy as np
from scipy.ndimage import gaussian_filter1d

from .crop import SquareCrop


def largest_box(boxes):
    """The ``(5,)`` box of largest area in ``(N, 5)`` boxes, or None when N is 0."""
    if boxes is None or len(boxes) == 0:
        return None
    boxes = np.asarray(boxes, np.float64)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return boxes[int(np.argmax(areas))]


def track_boxes(frames, detect, every=1):
    """Face box of every frame: the largest detection, held from the last frame that had one.

    Args:
        frames: iterable of ``(H, W, 3)`` uint8 RGB frames (or ``(B, H, W, 3)`` batches).
        detect: ``image -> (N, 5)`` boxes (any ppfom detector's ``detect``).
        every: run the detector on every ``every``-th frame and hold the box in between.
    Returns:
        ``(T, 4)`` float array of ``x1, y1, x2, y2`` and a ``(T,)`` bool array, True where the
        box was detected in that frame (False where held). Frames before the first detection take
        the first box found. Raises ``ValueError`` if no frame has a face.
    """
    boxes, found, last = [], [], None
    index = 0
    for item in frames:
        batch = item if np.ndim(item) == 4 else [item]
        for frame in batch:
            box = largest_box(detect(frame)) if index % every == 0 else None
            if box is not None:
                last = box[:4]
            boxes.append(last)
            found.append(box is not None)
            index += 1
    if last is None:
        raise ValueError('no face found in any frame of the driving video; pass a video with a '
                         'visible face, or --crop_driving off to use the whole frame')
    first = next(b for b in boxes if b is not None)
    return np.array([first if b is None else b for b in boxes], np.float64), np.array(found)


def face_fraction(boxes, frame_size):
    """Median face side / shorter frame side: how much of the frame the face fills.
    ``frame_size`` is ``(W, H)``."""
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return float(np.median(sides) / min(frame_size))


def smooth_crops(boxes, frame_size, scale=2.0, shift_y=-0.1, sigma=5.0):
    """One square crop per frame: a fixed side (``scale`` x the median face side, capped to the
    frame) and a centre smoothed over time with a Gaussian of ``sigma`` frames, so the crop does
    not jitter with the detector.

    Args:
        boxes: ``(T, 4)`` from :func:`track_boxes`. frame_size: ``(W, H)``.
    Returns:
        list of :class:`SquareCrop`, one per frame.
    """
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    side = _crop_side(np.median(sides), frame_size, scale)
    cx, cy = _crop_centre(boxes, side, shift_y)
    if len(boxes) > 1 and sigma > 0:
        cx = gaussian_filter1d(cx, sigma, mode='nearest')
        cy = gaussian_filter1d(cy, sigma, mode='nearest')
    return [_window(a, b, side, frame_size) for a, b in zip(cx, cy)]


def anchored_crops(boxes, anchor_box, scale=2.0, shift_y=-0.1, sigma=5.0):
    """Driving crops framed by the source's rule (:func:`~.crop.square_crop_for_face`), so that a
    driving frame showing the photo itself is cropped exactly as the photo is.

    The side is fixed from ``anchor_box`` (frame 0's face, found by the photo's own detector) and
    the centre follows the face, smoothed over time with a Gaussian of ``sigma`` frames and
    shifted so that frame 0's crop is exactly ``square_crop_for_face(anchor_box)``. Crops may reach
    past the frame (the crop reflects the outside, as for the photo).

    Args:
        boxes: ``(T, 4)`` from :func:`track_boxes`. anchor_box: ``x1, y1, x2, y2`` of frame 0.
    Returns:
        list of :class:`SquareCrop`, one per frame.
    """
    from .crop import square_crop_for_face
    first = square_crop_for_face(anchor_box, (1, 1), scale=scale, shift_y=shift_y)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    if len(boxes) > 1 and sigma > 0:
        cx = gaussian_filter1d(cx, sigma, mode='nearest')
        cy = gaussian_filter1d(cy, sigma, mode='nearest')
    x = np.rint(first.x + cx - cx[0]).astype(int)
    y = np.rint(first.y + cy - cy[0]).astype(int)
    return [SquareCrop(int(a), int(b), first.size) for a, b in zip(x, y)]


def _crop_side(face_side, frame_size, scale):
    return int(round(min(scale * face_side, min(frame_size))))


def _crop_centre(boxes, side, shift_y):
    """Centre ``(x, y)`` of the crop around ``(..., 4+)`` boxes: the face's, moved up."""
    boxes = np.asarray(boxes, np.float64)
    return (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2 + shift_y * side


def _window(cx, cy, side, frame_size):
    """The square of ``side`` centred at ``(cx, cy)``, kept inside the frame where it fits (no
    filled borders in the driving crops)."""
    w, h = frame_size
    x = int(np.clip(np.rint(cx - side / 2), 0, w - side))
    y = int(np.clip(np.rint(cy - side / 2), 0, h - side))
    return SquareCrop(x, y, side)


class FaceFollower:
    """The file demo's driving crops frame by frame as frames arrive (a camera), with the centre
    smoothed by an exponential moving average (causal, where the file demo's Gaussian looks both
    ways); the side is fixed at the first face (or after :meth:`reset`).

    ``anchored=True`` follows :func:`anchored_crops` (a face-cropped photo: the photo's own rule,
    :func:`~.crop.square_crop_for_face`, at the first face, then moved with the face; it may reach
    past the frame), else :func:`smooth_crops` (``scale`` x the face side, moved up by
    ``shift_y``, kept inside the frame).

    Args:
        detect: ``image -> (N, 5)`` boxes (any ppfom detector's ``detect``).
        momentum: weight of the previous centre in the average (0: follow every detection).
        scale, shift_y: as :func:`smooth_crops`.
    """

    def __init__(self, detect, momentum=0.6, scale=2.0, shift_y=-0.1, anchored=False):
        self.detect, self.momentum, self.scale, self.shift_y = detect, momentum, scale, shift_y
        self.anchored = anchored
        self.side = self.centre = self.box = self.first = self.anchor = None

    def reset(self):
        """Measure the crop again at the next face (a new reference frame)."""
        self.side = self.centre = self.first = self.anchor = None

    def update(self, frame):
        """``frame``: ``(H, W, 3)`` uint8 RGB -> :class:`SquareCrop` around its largest face, or
        None when the frame has no face (the smoothing restarts when a face returns). The face
        box is kept in ``self.box`` (``(4,)`` pixels, or None)."""
        box = largest_box(self.detect(frame))
        self.box = None if box is None else box[:4]
        if box is None:
            self.centre = None
            return None
        size = (frame.shape[1], frame.shape[0])
        if self.anchored:
            from .crop import square_crop_for_face
            if self.first is None:
                self.first = square_crop_for_face(box[:4], (1, 1), scale=self.scale,
                                                  shift_y=self.shift_y)
                self.anchor = np.array(_crop_centre(box, 0, 0))
            centre = self._smooth(np.array(_crop_centre(box, 0, 0)))
            x, y = np.rint(np.array([self.first.x, self.first.y]) + centre - self.anchor)
            return SquareCrop(int(x), int(y), self.first.size)
        if self.side is None:
            self.side = _crop_side(max(box[2] - box[0], box[3] - box[1]), size, self.scale)
        centre = self._smooth(np.array(_crop_centre(box, self.side, self.shift_y)))
        return _window(centre[0], centre[1], self.side, size)

    def _smooth(self, centre):
        if self.centre is not None:
            centre = self.momentum * self.centre + (1 - self.momentum) * centre
        self.centre = centre
        return centre
