"""Face landmarkers behind one interface (registry ``LANDMARKERS``).

Every landmarker is built from a config dict (``{'name': 'facemesh', **kwargs}``) or by
:func:`build_landmarker` and has

- ``landmarks(image, box_or_roi)``: RGB uint8 ``(H, W, 3)`` numpy image and a face box
  ``(x1, y1, x2, y2)`` in pixels (e.g. from ``build_detector('blazeface')``) or a rotated
  :class:`FaceROI` -> ``(468, 3)`` float32 ``x, y, z`` in pixels of that image (z: depth, same scale
  as x, negative towards the camera);
- ``landmarks_batch(images, rois)``: N faces in one network run -> ``(N, 468, 3)`` and the ``(N,)``
  face-presence scores.
- ``track(frames, detector=None)`` (and :class:`LandmarkTracker`, frame by frame): MediaPipe's video loop (detect, then follow the face with the
  ROI from the previous frame's landmarks) -> ``(T, 468, 3)`` (NaN without a face), scores and
  where the detector ran.

Landmarkers: ``facemesh`` (MediaPipe FaceMesh, 468 points, bundled model, works offline). ROIs
follow MediaPipe's recipe: :func:`roi_from_detection` (box + eyes of a BlazeFace detection) and
:func:`roi_from_landmarks` (the previous frame's landmarks, for tracking).
"""
from ...utils.registry import LANDMARKERS, build_by_name
from .facemesh import FACEMESH_WEIGHTS, NUM_LANDMARKS, FaceMeshLandmarker, LandmarkTracker
from .roi import (FaceROI, crop_roi, project_landmarks, roi_from_detection, roi_from_landmarks,
                  rois_from_detections)

DEFAULT_LANDMARKER = 'facemesh'

__all__ = ['LANDMARKERS', 'DEFAULT_LANDMARKER', 'FACEMESH_WEIGHTS', 'NUM_LANDMARKS',
           'FaceMeshLandmarker', 'LandmarkTracker', 'FaceROI', 'build_landmarker', 'crop_roi',
           'project_landmarks', 'roi_from_detection', 'roi_from_landmarks', 'rois_from_detections']


def build_landmarker(name=DEFAULT_LANDMARKER, **kwargs):
    """Build a registered face landmarker: ``build_landmarker('facemesh')``.

    Raises ``KeyError`` (listing the names) for an unknown landmarker and ``TypeError`` for an
    option it does not take.
    """
    return build_by_name(name, LANDMARKERS, **kwargs)
