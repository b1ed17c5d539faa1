"""Face-aware stages of the demo: which parts of the photo are animated, how the driving frames
are cropped, and how animated crops go back into the photo."""
from dataclasses import dataclass

import numpy as np

from ..faceutils.crop import (ColourMatch, SquareCrop, crop_square, paste_back, paste_mask,
                              square_crop_for_face)
from ..faceutils.masks import head_mask
from ..faceutils.tracking import (anchored_crops, face_fraction, largest_box, smooth_crops,
                                  track_boxes)
from ..utils.logger import get_logger
from . import defaults


class NoFaceError(ValueError):
    """The photo has no face the detector can find."""


@dataclass
class FaceOptions:
    """Face handling (the demo's flags).

    crop: animate face crops (False: the whole image, ``--no_crop``).
    multi_person: every face, not only the largest.
    ratio: radius of the pasted disc as a fraction of the crop side (PaddleGAN's ``--ratio``;
        with ``paste='disc'``).
    paste: ``head`` (a feathered mask of the head, from FaceMesh landmarks: the neck, clothes and
        background stay the photo's) or ``disc`` (PaddleGAN's disc of radius ``ratio``).
    crop_scale: crop side / face box side. crop_driving: ``auto``, ``on`` or ``off``.
    auto_crop_below: when the whole image is animated (``crop=False``) with ``auto``, crop the
        driving video when the face's side is smaller than this fraction of the frame's shorter
        side, or when the frame is not square. When the photo is cropped, ``auto`` crops the
        driving video by the photo's own rule (same scale and offset around the face), so that
        source and driving are framed alike.
    """
    crop: bool = True
    multi_person: bool = False
    ratio: float = defaults.RATIO
    paste: str = defaults.PASTE
    crop_scale: float = 2.0
    crop_driving: str = defaults.CROP_DRIVING
    auto_crop_below: float = 0.3

    def crops_driving(self, frame_size, face_fraction):
        """Whether driving frames of ``frame_size`` ``(W, H)`` are cropped around the face, whose
        side is ``face_fraction`` of the frame's shorter side (read only with ``auto``, the
        whole image animated and a square frame; a callable is called then, so that the face
        is measured only when needed). With a face-cropped photo, ``auto`` and ``on`` crop (by
        the photo's rule)."""
        if self.crop_driving == 'off':
            return False
        if self.crop_driving == 'on' or self.crop:
            return True
        w, h = frame_size
        if max(w, h) / min(w, h) >= 1.1:
            return True
        fraction = face_fraction() if callable(face_fraction) else face_fraction
        if fraction >= self.auto_crop_below:
            get_logger().info('driving face fills %.0f%% of the frame: used as it is',
                              100 * fraction)
            return False
        return True


def select_face_crops(photo, detect, options, name='(photo)'):
    """Square crops of the faces to animate: the largest face, or all of them.

    Args:
        photo: ``(H, W, 3)`` uint8 RGB. detect: ``image -> (N, 5)`` boxes. name: the photo's
            file (named by the error).
    Returns:
        list of :class:`SquareCrop`, largest face first.
    Raises:
        NoFaceError: no face found (the message suggests ``--no_crop``).
    """
    boxes = np.asarray(detect(photo))
    if len(boxes) == 0:
        raise NoFaceError(f'no face found in the source image {name}; pass a photo with a visible '
                          'face, or --no_crop to animate the whole image')
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    boxes = boxes[np.argsort(-areas)]
    if not options.multi_person:
        boxes = boxes[:1]
    return [square_crop_for_face(box, photo.shape, scale=options.crop_scale) for box in boxes]


class PhotoCompositor:
    """Turns animated sources into output frames.

    With face crops, each animated crop is colour-matched to the photo (fitted once per face on
    the network's rendering of the source at rest) and pasted back with a feathered mask: the
    head (``paste='head'``: the union of the head at rest and the animated head, from FaceMesh
    landmarks; see :func:`~ppfom.faceutils.masks.head_mask`) or PaddleGAN's disc
    (``paste='disc'``, radius ``ratio``). Everything beyond the mask keeps the photo's own pixels.
    Without crops (``crops=None``), the animated image is the output frame.
    """

    def __init__(self, photo, crops, ratio, paste=defaults.PASTE):
        self.photo, self.crops, self.ratio, self.paste = photo, crops, ratio, paste
        self.masks = None if crops is None else [paste_mask(c.size, ratio=ratio) for c in crops]
        self.colours = None
        self.source_landmarks = None

    @property
    def needs_landmarks(self):
        return self.crops is not None and self.paste == 'head'

    def sources(self, size):
        """The images to animate, ``(F, size, size, 3)`` uint8."""
        if self.crops is None:
            return self.photo[None]
        return np.stack([crop_square(self.photo, c, size) for c in self.crops])

    def set_source_landmarks(self, landmarks):
        """``(F, 468, 2+)`` landmarks of the sources, in ``[0, 1]`` of each crop (head paste)."""
        self.source_landmarks = np.asarray(landmarks, np.float64)[..., :2]

    def _head_mask(self, f, size, animated=None, feather=0.06):
        heads = [self.source_landmarks[f] * size]
        if animated is not None:
            heads.append(animated * size)
        return head_mask(heads, size, feather=feather)

    def fit_colours(self, rest):
        """``rest``: ``(F, S, S, 3)`` the network's rendering of each source with no motion."""
        if self.crops is None:
            return
        self.colours = []
        for f, (crop, frame) in enumerate(zip(self.crops, rest)):
            size = frame.shape[0]
            source = crop_square(self.photo, crop, size)
            if self.needs_landmarks:
                core = self._head_mask(f, size, feather=0.0)          # the pasted head
            else:
                core = paste_mask(size, ratio=self.ratio, feather=0.0)  # the pasted disc
            self.colours.append(ColourMatch(frame, source, core))

    def compose(self, frames, animated_landmarks=None):
        """``frames``: ``(F, B, S, S, 3)`` animated sources -> ``(B, H, W, 3)`` output frames.
        ``animated_landmarks``: ``(F, B, 468, 2)`` where each animated head is, in ``[0, 1]`` of
        its crop (head paste; :func:`~ppfom.apps.landmarks.animated_landmarks`)."""
        if self.crops is None:
            return frames[0]
        out = []
        for b in range(frames.shape[1]):
            image = self.photo
            for f, crop in enumerate(self.crops):
                colour = self.colours[f] if self.colours else None
                if self.needs_landmarks:
                    mask = self._head_mask(f, crop.size, None if animated_landmarks is None
                                           else animated_landmarks[f, b])
                else:
                    mask = self.masks[f]
                image = paste_back(image, crop, frames[f, b], mask, colour)
            out.append(image)
        return np.stack(out)


class DrivingCropper:
    """Crops the driving frames around the face when the video is not a face crop.

    ``prepare(reader)`` tracks the face through every frame (a decoding pass with a fast detector)
    unless ``crop_driving`` is ``off``. When the photo is face-cropped (``options.crop``), ``auto``
    and ``on`` frame the driving face by the photo's rule (:func:`~ppfom.faceutils.tracking.
    anchored_crops`: side from frame 0's face found by ``detect_anchor``, centre following the
    face). Otherwise ``on`` always crops (:func:`~ppfom.faceutils.tracking.smooth_crops`), and
    ``auto`` only when the frame is not square or the face, detected on about 8 frames, fills less
    than ``auto_crop_below`` of it. Then ``__call__(frames, start)`` crops a batch whose first
    frame has index ``start``.
    """

    def __init__(self, detect, options, detect_anchor=None):
        self.detect, self.options = detect, options
        self.detect_anchor = detect_anchor or detect
        self.crops = None

    def prepare(self, reader, batch_size=16):
        def fraction():  # a square video with auto: decided on about 8 frames
            every = max(1, reader.frame_count // 8)
            boxes, _ = track_boxes(reader.batches(batch_size), self.detect, every=every)
            return face_fraction(boxes, reader.size)

        if not self.options.crops_driving(reader.size, fraction):
            return
        boxes, found = track_boxes(reader.batches(batch_size), self.detect)
        if self.options.crop:
            # the photo is face-cropped: frame the driving face by the same rule (same scale and
            # offset, reflected past the frame's edge), anchored on frame 0 found by the photo's
            # own detector, so that a clip that starts with the photo is cropped as the photo is
            first = next(iter(reader.batches(1)))[0]
            anchor = largest_box(self.detect_anchor(first))
            anchor = boxes[0] if anchor is None else anchor[:4]
            self.crops = anchored_crops(boxes, anchor, scale=self.options.crop_scale)
            get_logger().info('driving video cropped around the face as the photo is (%d px '
                              'square; face found in %d of %d frames)', self.crops[0].size,
                              found.sum(), len(found))
            return
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
