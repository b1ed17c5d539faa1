"""MediaPipe's region of interest (ROI) for the face landmark network: a rotated square around the
face, from a face detection or from the previous frame's landmarks, and the affine map between
the image and the network's 192x192 input.

Re-implements (no code copied) the maths of MediaPipe's graphs
``mediapipe/modules/face_landmark/face_detection_front_detection_to_roi.pbtxt`` (detection -> ROI),
``face_landmark_landmarks_to_roi.pbtxt`` (landmarks -> ROI, for tracking) and
``face_landmark_cpu.pbtxt`` (``ImageToTensorCalculator`` crop, ``LandmarkProjectionCalculator``),
with the calculators ``DetectionsToRectsCalculator`` (rotation from two keypoints),
``RectTransformationCalculator`` (``square_long``, ``scale 1.5``) and ``image_to_tensor_utils``.
All coordinates here are image pixels (MediaPipe normalises by the image size; for a rect that is
square in pixels the two are the same maps).
"""
from dataclasses import dataclass

import cv2
import numpy as np

# MediaPipe's options for FaceMesh
ROI_SCALE = 1.5               # RectTransformationCalculator scale_x = scale_y
TARGET_ANGLE = 0.0            # rotation_vector_target_angle_degrees (radians here)
EYE_OUTER_CORNERS = (33, 263)  # landmarks -> ROI: rotation_vector_start / end_keypoint_index


@dataclass(frozen=True)
class FaceROI:
    """A rotated rectangle in image pixels: the part of the image the landmark network sees.

    Attributes:
        x_centre, y_centre: centre (pixels, x to the right, y down).
        width, height: side lengths (pixels) before rotation; MediaPipe's FaceMesh ROIs are square.
        rotation: radians; the rectangle's own x axis is ``(cos r, sin r)`` in the image (y down),
            so a positive rotation turns it clockwise on screen (MediaPipe's ``NormalizedRect``
            convention; 0 = upright face).
    """
    x_centre: float
    y_centre: float
    width: float
    height: float
    rotation: float = 0.0

    def affine(self, size):
        """2x3 float64 matrix from image pixels to the ``size`` x ``size`` network input.

        The ROI's corners go to the tensor's corners ``(0, 0)`` and ``(size, size)`` (MediaPipe's
        ``ImageToTensorCalculator``: ``cv::boxPoints`` corners to the output corners, no half-pixel
        offset); its centre goes to ``(size / 2, size / 2)``.
        """
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        scale = np.diag([size / self.width, size / self.height])
        linear = scale @ np.array([[c, s], [-s, c]])          # R(rotation)^T, then scale
        shift = size / 2 - linear @ np.array([self.x_centre, self.y_centre])
        return np.concatenate([linear, shift[:, None]], 1)


def normalize_radians(angle):
    """``angle`` wrapped into ``[-pi, pi)``."""
    return angle - 2 * np.pi * np.floor((angle + np.pi) / (2 * np.pi))


def _rotation(start, end, target_angle=TARGET_ANGLE):
    """``DetectionsToRectsCalculator``: rotation that brings the vector ``start -> end`` (pixels)
    to ``target_angle`` (radians, counter-clockwise on screen)."""
    dx, dy = float(end[0]) - float(start[0]), float(end[1]) - float(start[1])
    return float(normalize_radians(target_angle - np.arctan2(-dy, dx)))


def _square_roi(x_centre, y_centre, width, height, rotation, scale):
    """``RectTransformationCalculator`` with ``square_long`` and ``scale_x = scale_y = scale``."""
    side = max(width, height) * scale
    if not np.isfinite(side) or side <= 0:
        raise ValueError(f'a face ROI needs a positive, finite size, got {width} x {height} pixels')
    return FaceROI(float(x_centre), float(y_centre), float(side), float(side), float(rotation))


def roi_from_detection(box, eye_right=None, eye_left=None, scale=ROI_SCALE,
                       target_angle=TARGET_ANGLE):
    """MediaPipe's ROI for FaceMesh from a face detection (``FaceDetectionFrontDetectionToRoi``).

    Args:
        box: ``(x1, y1, x2, y2)`` or a BlazeFace row ``(x1, y1, x2, y2, score)`` in pixels.
        eye_right, eye_left: ``(x, y)`` pixels of BlazeFace keypoints 0 and 1 (the person's right
            eye, on the image's left, and the left eye). ``None``: no rotation (an upright face).
        scale: side of the square ROI over the box's longer side (1.5, MediaPipe's).
        target_angle: radians the eye line is turned to (0: horizontal).
    Returns:
        :class:`FaceROI`: centred on the box, square with side ``scale * max(w, h)``, rotated so
        that the eye line becomes horizontal in the network's crop.
    Raises:
        ValueError: a box with no area, or only one eye given.
    """
    box = np.asarray(box, np.float64).reshape(-1)
    if box.size not in (4, 5):
        raise ValueError(f'a face box is (x1, y1, x2, y2[, score]) in pixels, got {box.size} values')
    if (eye_right is None) != (eye_left is None):
        raise ValueError('give both eyes (BlazeFace keypoints 0 and 1) or neither')
    x1, y1, x2, y2 = box[:4]
    rotation = 0.0 if eye_right is None else _rotation(eye_right, eye_left, target_angle)
    return _square_roi((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, rotation, scale)


def rois_from_detections(detections, scale=ROI_SCALE):
    """:func:`roi_from_detection` for every face of a BlazeFace :class:`Detections` (boxes and 6
    keypoints; without keypoints, e.g. S3FD, the ROIs are upright). Returns a list of ROIs."""
    kps = detections.landmarks
    return [roi_from_detection(b, None if kps is None else kps[i, 0], None if kps is None else kps[i, 1],
                               scale) for i, b in enumerate(detections.boxes)]


def roi_from_landmarks(landmarks, scale=ROI_SCALE, target_angle=TARGET_ANGLE):
    """MediaPipe's ROI for the next video frame from this frame's landmarks (tracking;
    ``FaceLandmarkLandmarksToRoi``).

    The axis-aligned bounding box of all (x, y) landmarks gives the centre and size; the rotation
    brings the line from landmark 33 (outer corner of the eye on the image's left) to landmark 263
    (the other outer eye corner) to ``target_angle``; square of side ``scale * max(w, h)``.

    Args:
        landmarks: ``(468, 2 or 3)`` pixels (z is ignored), e.g. from :meth:`FaceMeshLandmarker.landmarks`.
    Raises:
        ValueError: not a ``(468, 2+)`` array, or non-finite values.
    """
    lms = np.asarray(landmarks, np.float64)
    if lms.ndim != 2 or lms.shape[0] <= max(EYE_OUTER_CORNERS) or lms.shape[1] < 2:
        raise ValueError(f'roi_from_landmarks takes (468, 3) FaceMesh landmarks, got shape {lms.shape}')
    if not np.isfinite(lms[:, :2]).all():
        raise ValueError('roi_from_landmarks got non-finite landmarks')
    lo, hi = lms[:, :2].min(0), lms[:, :2].max(0)
    rotation = _rotation(lms[EYE_OUTER_CORNERS[0]], lms[EYE_OUTER_CORNERS[1]], target_angle)
    return _square_roi(*(lo + hi) / 2, *(hi - lo), rotation, scale)


def as_roi(box_or_roi):
    """A :class:`FaceROI` unchanged, or a box ``(x1, y1, x2, y2[, score])`` turned into MediaPipe's
    upright ROI (:func:`roi_from_detection` without eyes)."""
    if isinstance(box_or_roi, FaceROI):
        return box_or_roi
    return roi_from_detection(box_or_roi)


def crop_roi(image, roi, size, border_mode=cv2.BORDER_REPLICATE):
    """The network input for ``roi``: ``(size, size, 3)`` float32 RGB in ``[0, 1]``.

    Bilinear ``cv2.warpAffine`` of the uint8 image by :meth:`FaceROI.affine`, then ``/ 255``
    (MediaPipe warps the uint8 frame and converts afterwards); pixels beyond the image repeat the
    border (MediaPipe's default ``BORDER_REPLICATE``).
    """
    warped = cv2.warpAffine(image, roi.affine(size), (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=border_mode)
    return warped.astype(np.float32) * np.float32(1.0 / 255.0)


def project_landmarks(points, roi, size):
    """Network output ``(..., 3)`` (x, y in input pixels of the ``size`` crop, z in the same units)
    -> image pixels through the inverse of :meth:`FaceROI.affine`; z is scaled like x
    (``z * roi.width / size``; ``LandmarkProjectionCalculator``)."""
    points = np.asarray(points, np.float64)
    inv = cv2.invertAffineTransform(roi.affine(size))
    xy = points[..., :2] @ inv[:, :2].T + inv[:, 2]
    z = points[..., 2:3] * (roi.width / size)
    return np.concatenate([xy, z], -1).astype(np.float32)
