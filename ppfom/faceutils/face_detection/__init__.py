"""Face detectors behind one interface (registry ``DETECTORS``).

Every detector is built from a config dict (``{'name': 'blazeface', **kwargs}``) or by
:func:`build_detector` and has

- ``detect(image)``: RGB uint8 ``(H, W, 3)`` numpy image (``(H, W)`` gray and ``(H, W, 4)`` RGBA are
  accepted) -> ``(N, 5)`` float32 ``x1, y1, x2, y2, score`` in pixels of that image, best first;
- ``detect_with_landmarks(image)``: the same as a :class:`Detections` with ``boxes`` and
  ``landmarks`` ``(N, K, 2)`` (``None`` for S3FD; K = 6 for BlazeFace).

Detectors: ``blazeface`` (MediaPipe BlazeFace short-range with tiling, bundled weights, works
offline; the default), ``blazeface_full`` (MediaPipe's full-range model, bundled) and ``sfd``
(S3FD, 85 MB weights from PaddleGAN or face-alignment, ``--detector_weights``).
"""
from ...utils.registry import DETECTORS, build_by_name
from .base import Detections
from .blazeface_detector import BlazeFaceDetector, BlazeFaceFullRangeDetector
from .sfd_detector import S3FD_URL, SFDDetector

DEFAULT_DETECTOR = 'blazeface'

__all__ = ['DETECTORS', 'DEFAULT_DETECTOR', 'Detections', 'BlazeFaceDetector',
           'BlazeFaceFullRangeDetector', 'SFDDetector',
           'S3FD_URL', 'build_detector']


def build_detector(name=DEFAULT_DETECTOR, **kwargs):
    """Build a registered face detector: ``build_detector('sfd', weights='s3fd.pdparams')``.

    Raises ``KeyError`` (listing the names) for an unknown detector and ``TypeError`` for an
    option it does not take.
    """
    return build_by_name(name, DETECTORS, **kwargs)
