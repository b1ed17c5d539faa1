"""MediaPipe FaceMesh: 468 face landmarks (x, y, z) from a 192x192 face crop, run with Paddle.

The network is MediaPipe's ``face_landmark.tflite`` (bundled unchanged, Apache-2.0, see
``weights/NOTICE``), replayed operator by operator by ppfom's TFLite graph runner
(:mod:`ppfom.faceutils.tflite`). Pre- and post-processing follow MediaPipe's ``FaceLandmarkCpu``
graph (``mediapipe/modules/face_landmark/face_landmark_cpu.pbtxt``): the rotated square ROI
(:mod:`.roi`) is warped to 192x192 RGB in ``[0, 1]``; output ``conv2d_21`` holds 468 x (x, y, z) in
crop pixels, output ``conv2d_31`` a face-presence logit (sigmoid, threshold 0.5).
"""
import os

import numpy as np
import paddle

from ...utils.download import sha256sum
from ...utils.predictor import LayerRunner
from ...utils.registry import LANDMARKERS
from ..face_detection.base import as_rgb_uint8
from ..tflite import load_graph_net
from .roi import as_roi, crop_roi, project_landmarks, roi_from_landmarks, rois_from_detections

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'weights')
FACEMESH_WEIGHTS = os.path.join(WEIGHTS_DIR, 'face_landmark.tflite')
INPUT_SIZE = 192
NUM_LANDMARKS = 468
PRESENCE_THRESHOLD = 0.5


def sigmoid(x):
    """Logistic function, float32, without overflow warnings for large negative logits."""
    x = np.asarray(x, np.float32)
    return np.float32(0.5) * (np.tanh(np.float32(0.5) * x) + np.float32(1.0))


@LANDMARKERS.register(name='facemesh')
class FaceMeshLandmarker:
    """MediaPipe FaceMesh face landmarker (``name: facemesh``), bundled model, works offline.

    Args:
        weights: ``None`` (the bundled ``face_landmark.tflite``) or a path to a FaceMesh ``.tflite``
            (or its ``.npz`` conversion with a ``graph`` entry).
        batch_size: crops per network call in :meth:`landmarks_batch`. ``None``: 1 on a CPU, where
            one crop at a time was measured as fast per crop as batches of 2-16 or faster (a
            crop's feature maps fit the core's cache; 8 crops' do not), 16 on a GPU.
        presence_threshold: a face is present when ``sigmoid(conv2d_31) >= presence_threshold``
            (0.5, MediaPipe's); see :meth:`is_face`.
        backend: ``'auto'`` (a Paddle Inference program on a CPU, compiled once and cached:
            faster than eager there, ``benchmarks/bench_default.py``; eager on a GPU), ``'inference'`` or ``'eager'``
            (:class:`~ppfom.utils.predictor.LayerRunner`).

    Landmark indices are MediaPipe's canonical face mesh (``mediapipe/modules/face_geometry/data/
    canonical_face_model_uv_visualization.png``); e.g. 33 / 263 the outer eye corners, 1 the nose
    tip, 13 / 14 the inner upper / lower lip, 152 the chin.

    Raises:
        FileNotFoundError: ``weights`` does not exist. ValueError: not a FaceMesh model.
    """

    def __init__(self, weights=None, batch_size=None, presence_threshold=PRESENCE_THRESHOLD,
                 backend='auto'):
        path = weights or FACEMESH_WEIGHTS
        if not os.path.isfile(path):
            raise FileNotFoundError(f'FaceMesh model not found: {path}; pass the face_landmark.tflite '
                                    'of the mediapipe wheel (or leave weights unset for the bundled one)')
        self.net = load_graph_net(path, 'FaceMesh model')
        out_shapes = {op['output']: op['out_shape'] for op in self.net.spec['ops']}
        sizes = [int(np.prod(out_shapes[i])) for i in self.net.spec['outputs']]
        if (sorted(sizes) != [1, NUM_LANDMARKS * 3]
                or list(self.net.spec['input'][1][1:]) != [INPUT_SIZE, INPUT_SIZE, 3]):
            raise ValueError(f'{path} is not a FaceMesh model (input {self.net.spec["input"][1]}, '
                             f'outputs of {sizes} values; expected 1x192x192x3 -> 1404 and 1)')
        self._landmark_output = sizes.index(NUM_LANDMARKS * 3)
        if batch_size is None:
            batch_size = 1 if paddle.device.get_device().startswith('cpu') else 16
        self.batch_size, self.presence_threshold = int(batch_size), presence_threshold
        self.runner = LayerRunner(self.net, (-1, 3, INPUT_SIZE, INPUT_SIZE), key=sha256sum(path),
                                  name='facemesh', backend=backend)

    def run_net(self, crops):
        """Raw network: ``(N, 192, 192, 3)`` float32 RGB in ``[0, 1]`` -> landmarks ``(N, 468, 3)``
        in crop pixels (x, y; z in the same units, smaller = nearer the camera) and presence
        logits ``(N,)``, float32 numpy; in chunks of ``batch_size``."""
        crops = np.asarray(crops, np.float32)
        if crops.ndim != 4 or crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f'FaceMesh takes (N, 192, 192, 3) crops, got shape {crops.shape}')
        points, logits = [], []
        for i in range(0, len(crops), self.batch_size):
            chunk = crops[i:i + self.batch_size].transpose(0, 3, 1, 2)
            outs = self.runner(chunk)
            points.append(outs[self._landmark_output].reshape(len(chunk), NUM_LANDMARKS, 3))
            logits.append(outs[1 - self._landmark_output].reshape(len(chunk)))
        return np.concatenate(points), np.concatenate(logits)

    def landmarks_batch(self, images, rois):
        """Landmarks of N faces with one batched network run.

        Args:
            images: one RGB uint8 ``(H, W, 3)`` image (all ROIs in it, e.g. several faces) or a
                sequence of N images (one ROI each, e.g. video frames).
            rois: N :class:`FaceROI` (:func:`roi_from_detection`, :func:`roi_from_landmarks`) or
                face boxes ``(x1, y1, x2, y2[, score])`` in pixels (upright ROI, 1.5x the box).
        Returns:
            ``(landmarks, scores)``: ``(N, 468, 3)`` float32 image pixels (x, y; z relative depth
            in the same pixel scale, negative towards the camera) and ``(N,)`` face-presence
            scores in ``[0, 1]`` (sigmoid of ``conv2d_31``; below ``presence_threshold`` the crop
            holds no face and the landmarks are meaningless).
        Raises:
            ValueError: a different number of images and ROIs, or a bad box. TypeError / ValueError:
            an image that is not RGB uint8.
        """
        rois = [as_roi(r) for r in rois]
        if isinstance(images, np.ndarray) and images.ndim in (2, 3):
            images = [images] * len(rois)
        images = list(images)
        if len(images) != len(rois):
            raise ValueError(f'landmarks_batch got {len(images)} images and {len(rois)} ROIs; give '
                             'one image with any number of ROIs, or one ROI per image')
        if not rois:
            return np.zeros((0, NUM_LANDMARKS, 3), np.float32), np.zeros(0, np.float32)
        checked = {}
        crops = np.stack([crop_roi(checked.setdefault(id(im), as_rgb_uint8(im, 'a face landmarker')),
                                   roi, INPUT_SIZE) for im, roi in zip(images, rois)])
        points, logits = self.run_net(crops)
        out = np.stack([project_landmarks(p, roi, INPUT_SIZE) for p, roi in zip(points, rois)])
        return out, sigmoid(logits)

    def landmarks(self, image, box_or_roi, return_score=False):
        """468 landmarks of one face.

        Args:
            image: RGB uint8 ``(H, W, 3)`` (gray and RGBA accepted).
            box_or_roi: a face box ``(x1, y1, x2, y2[, score])`` in pixels (e.g. a BlazeFace row:
                MediaPipe's upright ROI, square, 1.5x the box) or a :class:`FaceROI` (rotated, from
                :func:`roi_from_detection` with the eyes, or :func:`roi_from_landmarks`).
            return_score: also return the face-presence score.
        Returns:
            ``(468, 3)`` float32 image pixels ``x, y, z`` (z in the same scale as x), and the
            presence score in ``[0, 1]`` when ``return_score``.
        """
        points, scores = self.landmarks_batch(image, [box_or_roi])
        return (points[0], float(scores[0])) if return_score else points[0]

    def track(self, frames, detector=None):
        """Landmarks through a video, as MediaPipe's ``FaceLandmarkFrontCpu`` graph in video mode
        (one face): :class:`LandmarkTracker` over ``frames`` (iterable of RGB uint8
        ``(H, W, 3)``).

        Returns:
            ``(landmarks, scores, detected)``: ``(T, 468, 3)`` float32 pixels (NaN in frames
            without a face), ``(T,)`` presence scores (0 where nothing was detected) and a
            ``(T,)`` bool array, True where the detector ran.
        """
        tracker = LandmarkTracker(self, detector)
        points, scores, detected = [], [], []
        for frame in frames:
            points.append(tracker(frame))
            scores.append(tracker.score)
            detected.append(tracker.detected)
        if not points:
            return (np.zeros((0, NUM_LANDMARKS, 3), np.float32), np.zeros(0, np.float32),
                    np.zeros(0, bool))
        return np.stack(points), np.asarray(scores, np.float32), np.asarray(detected)

    def is_face(self, score):
        """MediaPipe's gate: ``score >= presence_threshold`` (works on arrays too)."""
        return np.asarray(score) >= self.presence_threshold


class LandmarkTracker:
    """One face followed through a stream of frames, as MediaPipe's video mode: detect only when
    there is no face to follow, otherwise take the ROI from the previous frame's landmarks
    (:func:`roi_from_landmarks`).

    A presence score below the landmarker's threshold ends the following (that frame gets no
    landmarks and the next one is detected afresh), as does a frame without a detection.

    Args:
        landmarker: a :class:`FaceMeshLandmarker`.
        detector: a ppfom face detector (``detect_with_landmarks``); ``None``: BlazeFace's single
            pass (``build_detector('blazeface', tiles=False)``, MediaPipe's).

    ``tracker(frame)``: RGB uint8 ``(H, W, 3)`` -> ``(468, 3)`` float32 pixels, all NaN when there
    is no face; afterwards ``score`` (presence, 0 when nothing was detected) and ``detected``
    (whether the detector ran on that frame) describe it.
    """

    def __init__(self, landmarker, detector=None):
        if detector is None:
            from ..face_detection import build_detector
            detector = build_detector('blazeface', tiles=False)
        self.landmarker, self.detector = landmarker, detector
        self.roi, self.score, self.detected = None, 0.0, False

    def reset(self):
        """Forget the followed face: the next frame is detected afresh."""
        self.roi = None

    def __call__(self, frame):
        self.detected = self.roi is None
        if self.detected:
            found = self.detector.detect_with_landmarks(frame)
            self.roi = rois_from_detections(found)[0] if len(found) else None
        if self.roi is None:
            self.score = 0.0
            return np.full((NUM_LANDMARKS, 3), np.nan, np.float32)
        points, self.score = self.landmarker.landmarks(frame, self.roi, return_score=True)
        if not self.landmarker.is_face(self.score):
            self.roi = None
            return np.full_like(points, np.nan)
        self.roi = roi_from_landmarks(points)
        return points
