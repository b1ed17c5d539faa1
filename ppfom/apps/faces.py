"""Face-aware stages of the demo: which parts of the photo are animated, how the driving frames
are cropped, and how animated crops go back into the photo."""
from dataclasses import dataclass

import numpy as np

from ..faceutils.crop import (ColourMatch, SquareCrop, crop_square, paste_back, paste_mask,
                              square_crop_for_face)
from ..faceutils.tracking import face_fraction, smooth_crops, track_boxes
from ..utils.logger import get_logger
from . import defaults


class NoFaceError(ValueError):
    """The photo has no face the detector can find."""


@dataclass
class FaceOptions:
    """Face handling (the demo's flags).

    crop: animate face crops (False: the whole image, ``--no_crop``).
    multi_person: every face, not only the largest.
    ratio: radius of the pasted disc as a fraction of the crop side (PaddleGAN's ``--ratio``).
    crop_scale: crop side / face box side. crop_driving: ``auto``, ``on`` or ``off``.
    auto_crop_below: with ``auto``, crop the driving video when the face's side is smaller than
        this fraction of the frame's shorter side (VoxCeleb-style crops are about 0.45), or when
        the frame is not square (resizing it to the network's square would distort the face).
    """
    crop: bool = True
    multi_person: bool = False
    ratio: float = defaults.RATIO
    crop_scale: float = 2.0
    crop_driving: str = defaults.CROP_DRIVING
    auto_crop_below: float = 0.3


def select_face_crops(photo, detect, options):
    """Square crops of the faces to animate: the largest face, or all of them.

    Args:
        photo: ``(H, W, 3)`` uint8 RGB. detect: ``image -> (N, 5)`` boxes.
    Returns:
        list of :class:`SquareCrop`, largest face first.
    Raises:
        NoFaceError: no face found (the message suggests ``--no_crop``).
    """
    boxes = np.asarray(detect(photo))
    if len(boxes) == 0:
        raise NoFaceError('no face found in the source image; pass a photo with a visible face, '
                          'or --no_crop to animate the whole image')
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    boxes = boxes[np.argsort(-areas)]
    if not options.multi_person:
        boxes = boxes[:1]
    return [square_crop_for_face(box, photo.shape, scale=options.crop_scale) for box in boxes]


class PhotoCompositor:
    """Turns animated sources into output frames.

    With face crops, each animated crop is colour-matched to the photo (fitted once per face on
    the network's rendering of the source at rest) and pasted back with a feathered disc mask;
    everything far from the faces keeps the photo's own pixels. Without crops (``crops=None``),
    the animated image is the output frame.
    """

    def __init__(self, photo, crops, ratio):
        self.photo, self.crops, self.ratio = photo, crops, ratio
        self.masks = None if crops is None else [paste_mask(c.size, ratio=ratio) for c in crops]
        self.colours = None

    def sources(self, size):
        """The images to animate, ``(F, size, size, 3)`` uint8."""
        if self.crops is None:
            return self.photo[None]
        return np.stack([crop_square(self.photo, c, size) for c in self.crops])

    def fit_colours(self, rest):
        """``rest``: ``(F, S, S, 3)`` the network's rendering of each source with no motion."""
        if self.crops is None:
            return
        self.colours = []
        for crop, frame in zip(self.crops, rest):
            source = crop_square(self.photo, crop, frame.shape[0])
            core = paste_mask(frame.shape[0], ratio=self.ratio, feather=0.0)  # the pasted disc
            self.colours.append(ColourMatch(frame, source, core))

    def compose(self, frames):
        """``frames``: ``(F, B, S, S, 3)`` animated sources -> ``(B, H, W, 3)`` output frames."""
        if self.crops is None:
            return frames[0]
        out = []
        for b in range(frames.shape[1]):
            image = self.photo
            for f, crop in enumerate(self.crops):
                colour = self.colours[f] if self.colours else None
                image = paste_back(image, crop, frames[f, b], self.masks[f], colour)
            out.append(image)
        return np.stack(out)


class DrivingCropper:
    """Crops the driving frames around the face when the video is not a face crop.

    ``prepare(reader)`` tracks the face through every frame (a decoding pass with a fast detector)
    when cropping is on, or with ``auto`` when the frame is not square or the face, detected on
    about 8 frames, fills less than ``auto_crop_below`` of it; then ``__call__(frames, start)``
    crops a batch whose first frame has index ``start``.
    """

    def __init__(self, detect, options):
        self.detect, self.options = detect, options
        self.crops = None

    def prepare(self, reader, batch_size=16):
        mode = self.options.crop_driving
        if mode == 'off':
            return
        w, h = reader.size
        if mode == 'auto' and max(w, h) / min(w, h) < 1.1:
            # a square video: decide on about 8 frames before tracking every one
            every = max(1, reader.frame_count // 8)
            boxes, _ = track_boxes(reader.batches(batch_size), self.detect, every=every)
            fraction = face_fraction(boxes, reader.size)
            if fraction >= self.options.auto_crop_below:
                get_logger().info('driving face fills %.0f%% of the frame: used as it is',
                                  100 * fraction)
                return
        boxes, found = track_boxes(reader.batches(batch_size), self.detect)
        self.crops = smooth_crops(boxes, reader.size, scale=self.options.crop_scale)
        get_logger().info('driving video cropped around the face (%d px square; face found in '
                          '%d of %d frames)', self.crops[0].size, found.sum(), len(found))

    def __call__(self, frames, start):
        if self.crops is None:
            return frames
        size = self.crops[0].size
        return np.stack([crop_square(frame, self.crops[start + i], size)
                         for i, frame in enumerate(frames)])


__all__ = ['FaceOptions', 'NoFaceError', 'PhotoCompositor', 'DrivingCropper', 'SquareCrop',
           'select_face_crops']
