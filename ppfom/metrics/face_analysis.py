"""Face landmarks and identity descriptors for AKD, AED and the animation score, with dlib.

The paper (FOMM Sec. 4.1, following Siarohin et al.'s ``pose-evaluation`` repository) uses
face-alignment's FAN for the 68 landmarks and OpenFace for the identity embedding. ppfom uses
dlib, which installs offline from the package registry (``pip install 'ppfom[eval]'``):

- face box: dlib's HOG frontal face detector (``get_frontal_face_detector``), run without
  upsampling and, only when that finds nothing, once more with one 2x upsampling; the largest
  box is kept. Deterministic (no randomness, no GPU) and about 6 ms per 256x256 frame;
- landmarks: ``shape_predictor_68_face_landmarks.dat`` (the iBUG 300-W 68-point scheme that FAN
  also predicts), in pixels of the analysed frame, x then y;
- identity: ``dlib_face_recognition_resnet_model_v1.dat``, a 128-d descriptor of the face chip
  aligned by the landmarks (one jitter); two photos of one person are closer than 0.6 in L2.

The two ``.dat`` files come from the ``face-recognition-models`` package; dlib itself from
``dlib-bin`` (a prebuilt wheel) or ``dlib``.
"""
import importlib.util
import os

import cv2
import numpy as np

INSTALL_HINT = "pip install 'ppfom[eval]' (or: pip install -r requirements-eval.txt)"
ANALYSIS_SIZE = 256  # frames are resized to this square before the analysis (paper: 256x256)
SAME_PERSON_THRESHOLD = 0.6  # dlib's documented threshold for its face descriptor


class EvalDependencyError(ImportError):
    """dlib or its face models are missing (the ``eval`` extra is not installed)."""


def _models_folder():
    # face_recognition_models' __init__ imports pkg_resources (gone from recent setuptools):
    # find its folder without importing it
    spec = importlib.util.find_spec('face_recognition_models')
    if spec is None or not spec.submodule_search_locations:
        raise EvalDependencyError(f'AKD/AED need the face-recognition-models package: {INSTALL_HINT}')
    return os.path.join(list(spec.submodule_search_locations)[0], 'models')


class FaceAnalyzer:
    """dlib's face detector, 68-point shape predictor and ResNet identity descriptor.

    Raises :class:`EvalDependencyError` (one line naming what to install) when dlib or the
    ``face-recognition-models`` files are missing.
    """

    def __init__(self):
        try:
            import dlib
        except ImportError:
            raise EvalDependencyError(f'AKD/AED need dlib: {INSTALL_HINT}') from None
        folder = _models_folder()
        paths = [os.path.join(folder, name) for name in (
            'shape_predictor_68_face_landmarks.dat', 'dlib_face_recognition_resnet_model_v1.dat')]
        for path in paths:
            if not os.path.isfile(path):
                raise EvalDependencyError(f'{path} is missing: {INSTALL_HINT}')
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(paths[0])
        self.recognizer = dlib.face_recognition_model_v1(paths[1])

    def face_box(self, image):
        """Largest face of ``image`` ``(H, W, 3)`` uint8 RGB as a ``dlib.rectangle``, or None."""
        for upsample in (0, 1):
            boxes = list(self.detector(image, upsample))
            if boxes:
                return max(boxes, key=lambda b: b.width() * b.height())
        return None

    def landmarks(self, image, box=None):
        """``(68, 2)`` float64 landmarks (pixels, x then y) of the largest face, or None."""
        box = box if box is not None else self.face_box(image)
        if box is None:
            return None
        shape = self.predictor(image, box)
        return np.array([[p.x, p.y] for p in shape.parts()], np.float64)

    def descriptor(self, image, landmarks):
        """128-d identity descriptor of the face with ``landmarks`` ``(68, 2)`` in ``image``."""
        d = self.dlib
        pts = [d.point(int(round(x)), int(round(y))) for x, y in landmarks]
        rect = d.rectangle(int(landmarks[:, 0].min()), int(landmarks[:, 1].min()),
                           int(landmarks[:, 0].max()), int(landmarks[:, 1].max()))
        shape = d.full_object_detection(rect, pts)
        return np.array(self.recognizer.compute_face_descriptor(image, shape), np.float64)

    def analyze(self, frames, descriptors=True, size=ANALYSIS_SIZE):
        """Landmarks (and descriptors) of every frame.

        Args:
            frames: ``(T, H, W, 3)`` uint8 RGB (or a list of such frames), or ``(T, 3, H, W)``
                float in ``[0, 1]``; each is resized to ``size`` x ``size`` first.
            descriptors: also compute the identity descriptors (about 90 ms per frame).
        Returns ``{'landmarks': (T, 68, 2) float64 (pixels at size, NaN without a face),
        'found': (T,) bool, 'descriptors': (T, 128) float64 (NaN without a face)}``.
        """
        frames = as_uint8_frames(frames)
        count = len(frames)
        out = {'landmarks': np.full((count, 68, 2), np.nan), 'found': np.zeros(count, bool)}
        if descriptors:
            out['descriptors'] = np.full((count, 128), np.nan)
        for i, frame in enumerate(frames):
            image = resize_square(frame, size)
            points = self.landmarks(image)
            if points is None:
                continue
            out['landmarks'][i], out['found'][i] = points, True
            if descriptors:
                out['descriptors'][i] = self.descriptor(image, points)
        return out


_ANALYZER = None


def get_analyzer():
    """The process-wide :class:`FaceAnalyzer` (the models load once, about 0.3 s)."""
    global _ANALYZER
    if _ANALYZER is None:
        _ANALYZER = FaceAnalyzer()
    return _ANALYZER


def check_eval_dependencies():
    """Raise :class:`EvalDependencyError` (one line) unless dlib, its face models and
    scikit-image are installed; return the shared :class:`FaceAnalyzer`."""
    try:
        import skimage.metrics  # noqa: F401
    except ImportError:
        raise EvalDependencyError(f'PSNR/SSIM need scikit-image: {INSTALL_HINT}') from None
    return get_analyzer()


def as_uint8_frames(frames):
    """``(T, 3, H, W)`` float ``[0, 1]`` or ``(T, H, W, 3)`` uint8 -> list of ``(H, W, 3)`` uint8."""
    if isinstance(frames, np.ndarray) and frames.ndim == 4 and frames.shape[1] == 3 \
            and frames.shape[-1] != 3:
        frames = np.clip(np.rint(frames.transpose(0, 2, 3, 1) * 255), 0, 255).astype(np.uint8)
    out = [np.asarray(f) for f in frames]
    for f in out:
        if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
            raise ValueError(f'frames must be (H, W, 3) uint8 RGB or (T, 3, H, W) float in [0, 1]; '
                             f'got a frame of shape {f.shape} and dtype {f.dtype}')
    return out


def resize_square(image, size):
    """Resize ``(H, W, 3)`` to ``size`` x ``size`` (area filter down, cubic up)."""
    if image.shape[:2] == (size, size):
        return np.ascontiguousarray(image)
    shrink = max(image.shape[:2]) > size
    return cv2.resize(image, (size, size),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
