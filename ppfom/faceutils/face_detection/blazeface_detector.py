"""The BlazeFace face detector: MediaPipe's short-range (or full-range) model with MediaPipe's
pre- and post-processing, plus a tiled pass so that small faces in group photos are found too.

One pass (:meth:`BlazeFaceDetector.detect_single`) is exactly MediaPipe's ``FaceDetectionShortRange``
graph (options in ``blazeface_reference.json``): letterbox the whole image into 128x128 (no centre
crop; pad value -1), run the net, decode against 896 SSD anchors, sigmoid scores >= threshold,
weighted NMS (IoU > 0.3), project back through the letterbox.
"""
import os

import cv2
import numpy as np
import paddle

from ...utils.checkpoint import describe_mismatch
from ...utils.download import sha256sum
from ...utils.predictor import LayerRunner
from ...utils.registry import DETECTORS
from ...utils.safe_pickle import load_pdparams
from .base import Detections, as_rgb_uint8, box_iou, downscale, empty_detections
from .blazeface import BLAZEFACE_SHAPES, BlazeFace
from ..tflite import load_graph_net

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'weights')
SHORT_RANGE_WEIGHTS = os.path.join(WEIGHTS_DIR, 'blazeface_short_range.npz')
FULL_RANGE_WEIGHTS = os.path.join(WEIGHTS_DIR, 'blazeface_full_range.npz')
INPUT_SIZE = 128
NUM_KEYPOINTS = 6
# MediaPipe's FaceDetectionShortRange / FaceDetectionFullRange options
MODELS = {
    'short_range': {'input_size': 128, 'strides': (8, 16, 16, 16), 'interpolated_scale': True,
                    'weights': SHORT_RANGE_WEIGHTS},
    'full_range': {'input_size': 192, 'strides': (4,), 'interpolated_scale': False,
                   'weights': FULL_RANGE_WEIGHTS},
}


def ssd_anchors(input_size=INPUT_SIZE, strides=(8, 16, 16, 16), interpolated_scale=True):
    """MediaPipe ``SsdAnchorsCalculator`` anchors for BlazeFace: ``(A, 4)`` float32
    ``x_centre, y_centre, w, h`` relative to the input (``w = h = 1``: ``fixed_anchor_size``).

    Consecutive layers with the same stride share one grid; each layer adds one anchor per cell
    (aspect ratio 1), plus one more with the interpolated scale when ``interpolated_scale``.
    Short-range: 16x16x2 at stride 8, then 8x8x6 at stride 16 = 896; full-range (192 px, stride 4,
    no interpolated scale): 48x48x1 = 2304. Order: row-major (y, x, anchor).
    """
    per_layer = 2 if interpolated_scale else 1
    anchors, layer = [], 0
    while layer < len(strides):
        same = sum(1 for s in strides[layer:] if s == strides[layer])
        fm = int(np.ceil(input_size / strides[layer]))
        ys, xs = np.meshgrid(np.arange(fm), np.arange(fm), indexing='ij')
        centres = np.stack([(xs + 0.5) / fm, (ys + 0.5) / fm], -1).reshape(-1, 1, 2)
        centres = np.repeat(centres, per_layer * same, axis=1).reshape(-1, 2)
        anchors.append(np.concatenate([centres, np.ones_like(centres)], 1))
        layer += same
    return np.concatenate(anchors).astype(np.float32)


def letterbox_matrix(height, width, size=INPUT_SIZE):
    """3x3 matrix taking image pixels to the ``size`` x ``size`` letterbox tensor.

    MediaPipe's ``ImageToTensorCalculator`` with ``keep_aspect_ratio``: the ROI is the whole image
    padded to a centred square of side ``S = max(H, W)``, and its *corners* map to the tensor
    corners (0, 0) and (size, size) (no half-pixel offset).
    """
    side = max(height, width)
    s = size / side
    return np.array([[s, 0, -(width - side) / 2 * s],
                     [0, s, -(height - side) / 2 * s],
                     [0, 0, 1]], np.float64)


def letterbox(image_rgb, size=INPUT_SIZE):
    """RGB uint8 ``(H, W, 3)`` -> ``(size, size, 3)`` float32 in ``[-1, 1]`` (pad = -1), as MediaPipe.

    Bilinear ``cv2.warpPerspective`` of the uint8 image with zero border, then ``u8 * 2/255 - 1``.
    """
    h, w = image_rgb.shape[:2]
    warped = cv2.warpPerspective(image_rgb, letterbox_matrix(h, w, size), (size, size),
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=(0, 0, 0))
    return warped.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)


def decode_blazeface(regressors, logits, anchors, score_threshold=0.5, size=INPUT_SIZE):
    """MediaPipe ``TensorsToDetections`` for one image.

    Args:
        regressors: ``(A, 16)``; logits: ``(A,)`` or ``(A, 1)``; anchors: ``(A, 4)``;
        size: the network input size (128 short-range, 192 full-range).
    Returns:
        ``(boxes, keypoints, scores, indices)``: ``(M, 4)`` ``xmin, ymin, xmax, ymax`` and
        ``(M, 6, 2)`` ``x, y`` relative to the tensor (``[0, 1]``), ``(M,)`` scores
        (``sigmoid(clip(logit, +-100))`` >= ``score_threshold``) and the anchor indices.
    """
    logits = np.asarray(logits, np.float32).reshape(-1)
    with np.errstate(over='ignore'):  # exp(100) overflows float32 to inf: the score is 0 anyway
        scores = np.float32(1.0) / (np.float32(1.0) + np.exp(-np.clip(logits, -100.0, 100.0)))
    idx = np.nonzero(scores >= score_threshold)[0]
    reg, anc = np.asarray(regressors, np.float32)[idx], anchors[idx]
    xc = reg[:, 0] / size * anc[:, 2] + anc[:, 0]
    yc = reg[:, 1] / size * anc[:, 3] + anc[:, 1]
    w, h = reg[:, 2] / size * anc[:, 2], reg[:, 3] / size * anc[:, 3]
    boxes = np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], 1)
    kps = reg[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) / size
    kps = kps * anc[:, None, 2:4] + anc[:, None, 0:2]
    return boxes, kps, scores[idx], idx


def weighted_nms(boxes, keypoints, scores, iou_threshold=0.3):
    """MediaPipe's WEIGHTED non-maximum suppression.

    Repeatedly take the best remaining box and every remaining box with IoU > ``iou_threshold``
    to it (itself included); output their score-weighted mean box and keypoints with the best
    box's score. The loop runs once per output face; the overlaps are computed vectorised.
    Returns ``(boxes, keypoints, scores)`` of the merged detections, best first.
    """
    order = np.argsort(-scores, kind='stable')
    out_b, out_k, out_s = [], [], []
    while order.size:
        top = order[0]
        overlap = box_iou(boxes[top], boxes[order]) > iou_threshold
        overlap[0] = True
        group = order[overlap]
        wts = scores[group][:, None]
        total = wts.sum()
        out_b.append((boxes[group] * wts).sum(0) / total)
        out_k.append((keypoints[group] * wts[:, :, None]).sum(0) / total)
        out_s.append(scores[top])
        order = order[~overlap]
    if not out_s:
        return np.zeros((0, 4)), np.zeros((0, NUM_KEYPOINTS, 2)), np.zeros(0)
    return np.array(out_b), np.array(out_k), np.array(out_s)


def load_full_range_model(path):
    """The full-range network (a :class:`TFLiteGraphNet`) from MediaPipe's
    ``face_detection_full_range_sparse.tflite`` or its conversion (``.npz`` with a ``graph`` entry,
    as written by ``tools/convert_blazeface_tflite.py``)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'BlazeFace full-range weights not found: {path}; pass the file '
                                'with --detector_weights')
    return load_graph_net(path, 'full-range BlazeFace')


def load_blazeface_weights(path):
    """BlazeFace weights from a file: the bundled ``.npz``, PaddleGAN's ``blazeface.pdparams``
    (same names, loaded unchanged) or MediaPipe's ``face_detection_short_range.tflite``.

    Raises:
        FileNotFoundError: no such file. ValueError: other weights.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'BlazeFace weights not found: {path}; pass the file with '
                                '--detector_weights')
    if path.endswith('.tflite'):
        from .blazeface import convert_blazeface_tflite
        return convert_blazeface_tflite(path)
    if path.endswith('.npz'):
        with np.load(path) as z:
            state = {k: z[k].astype(np.float32) for k in z.files}
    else:
        state = {k: np.asarray(v, np.float32) for k, v in load_pdparams(path, return_numpy=True).items()}
    problem = describe_mismatch(BLAZEFACE_SHAPES, state)
    if problem:
        raise ValueError(f'{path} does not hold BlazeFace weights ({problem})')
    return state


def load_anchors(path):
    """Anchors from an ``.npy`` file (PaddleGAN's / hollance's ``anchors.npy``), ``(896, 4)``
    ``x_centre, y_centre, w, h``; they equal :func:`ssd_anchors`. Raises ``ValueError`` otherwise."""
    anchors = np.load(path).astype(np.float32)
    if anchors.shape != (896, 4):
        raise ValueError(f'{path}: BlazeFace anchors must have shape (896, 4), got {anchors.shape}')
    return anchors


def tile_grid(height, width, tile, overlap=0.5):
    """Top-left corners ``(y, x)`` of square ``tile`` x ``tile`` windows covering the image, evenly
    spaced with at least ``overlap`` (fraction of ``tile``) between neighbours; the first and last
    windows are flush with the image border. An axis shorter than ``tile`` gets one window."""
    def starts(length):
        if length <= tile:
            return [0]
        step = tile * (1 - overlap)
        n = int(np.ceil((length - tile) / step - 1e-9)) + 1
        return sorted(set(int(round(p)) for p in np.linspace(0, length - tile, n)))
    return [(y, x) for y in starts(height) for x in starts(width)]


@DETECTORS.register(name='blazeface')
class BlazeFaceDetector:
    """MediaPipe BlazeFace face detector (``name: blazeface``), bundled weights.

    Args:
        model: ``'short_range'`` (MediaPipe's default, 128 px input, 896 anchors, the PaddleGAN
            architecture) or ``'full_range'`` (192 px, 2304 anchors, for faces up to ~5 m; run as
            its TFLite graph, see :mod:`ppfom.faceutils.tflite.graph`; registered as ``blazeface_full``).
        weights: ``None`` (the bundled conversion of MediaPipe's short-range model), or a path to
            PaddleGAN's ``blazeface.pdparams`` (same layer names and shapes, loaded unchanged), a
            MediaPipe ``.tflite`` or a converted ``.npz``.
        anchors: ``None`` (computed, :func:`ssd_anchors`) or PaddleGAN's ``anchors.npy``.
        score_threshold: minimum sigmoid score (0.5, MediaPipe's default).
        nms_threshold: IoU above which detections merge (0.3, MediaPipe's).
        tiles: also search overlapping square tiles, so that faces too small for the whole-image
            pass (under ~1/6 of the longer side; MediaPipe's short-range model misses the faces
            of a group photo) are found. ``False`` = exactly MediaPipe's single pass (use it for
            video frames of one large face: ~15 ms instead of ~0.7 s).
        tile_levels: tile side = longer side / level, for each level ((2, 4): 3x3 and 7x7
            windows on a square image, 59 network runs with the whole image, batched).
        tile_overlap: overlap of neighbouring tiles (0.5): a face smaller than half a tile is
            whole in at least one tile; boxes touching an inner tile edge are dropped.
        tile_score_threshold: minimum score of a detection from a tile (0.75). Measured on the
            sample photos: true faces score 0.86-0.97 in tiles, false ones (hands, cloth,
            background) up to 0.71.
        min_tile: levels whose tiles would be smaller than this many pixels are skipped (128; a
            256 px image gets only the 3x3 level). Faces down to ~1/8 of the smallest tile are
            found (measured: a 30 px face in a 960 px photo; 25 px is missed).
        max_tiles: cap on the number of tiles; a level that would exceed it is skipped (60).
        batch_size: windows per network call (16).
        max_side: images whose longer side exceeds this are detected on a downscaled copy
            (1280 px; ``None`` = never) and the results mapped back.
        backend: ``'auto'`` (a Paddle Inference program on a CPU, compiled once and cached;
            eager on a GPU), ``'inference'`` or ``'eager'``
            (:class:`~ppfom.utils.predictor.LayerRunner`). The full-range model always runs
            eagerly (Paddle 3.3's oneDNN executor cannot run its graph).

    ``detect(image)``: RGB uint8 ``(H, W, 3)`` (gray and RGBA accepted) -> ``(N, 5)`` float32
    ``x1, y1, x2, y2, score`` in input pixels, best first. ``detect_with_landmarks(image)`` ->
    :class:`Detections` with ``landmarks`` ``(N, 6, 2)``: right eye, left eye, nose tip, mouth
    centre, right ear tragion, left ear tragion.
    """

    def __init__(self, weights=None, score_threshold=0.5, nms_threshold=0.3, tiles=True,
                 tile_levels=(2, 4), tile_overlap=0.5, tile_score_threshold=0.75, min_tile=128,
                 max_tiles=60, max_side=1280, batch_size=16, anchors=None, model='short_range',
                 backend='auto'):
        if model not in MODELS:
            raise ValueError(f"unknown BlazeFace model {model!r}; use one of {', '.join(MODELS)}")
        cfg = MODELS[model]
        self.model, self.input_size = model, cfg['input_size']
        if model == 'full_range':
            self.net = load_full_range_model(weights or cfg['weights'])
        else:
            state = load_blazeface_weights(weights or cfg['weights'])
            self.net = BlazeFace()
            self.net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
            self.net.eval()
        weights_file = weights or cfg['weights']
        if model == 'full_range':
            # Paddle 3.3's oneDNN executor cannot run one of its graph's operators (a
            # double-array attribute), and without oneDNN the program is slower than eager
            if backend == 'inference':
                raise ValueError("backend 'inference' is not available for BlazeFace full_range; "
                                 "use backend 'auto' or 'eager'")
            backend = 'eager'
        self.runner = LayerRunner(self.net, (-1, 3, self.input_size, self.input_size),
                                  key=sha256sum(weights_file), name=f'blazeface_{model}',
                                  backend=backend)
        self.anchors = (ssd_anchors(cfg['input_size'], cfg['strides'], cfg['interpolated_scale'])
                        if anchors is None else load_anchors(anchors))
        self.score_threshold, self.nms_threshold = score_threshold, nms_threshold
        self.tiles, self.tile_levels, self.tile_overlap = tiles, tuple(tile_levels), tile_overlap
        self.tile_score_threshold, self.max_tiles = tile_score_threshold, max_tiles
        self.max_side = max_side
        self.batch_size, self.min_tile = batch_size, min_tile

    def run_net(self, tensors):
        """``(B, S, S, 3)`` letterboxed float32 -> regressors ``(B, A, 16)`` and logits ``(B, A)``
        (numpy), in batches of ``batch_size`` (S = 128, A = 896 short-range; 192, 2304 full)."""
        regs, logits = [], []
        for i in range(0, len(tensors), self.batch_size):
            reg, cls = self.runner(tensors[i:i + self.batch_size].transpose(0, 3, 1, 2))
            if reg.shape[-1] != 16:   # the full-range graph's output order is not fixed
                reg, cls = cls, reg
            regs.append(reg)
            logits.append(cls[..., 0])
        return np.concatenate(regs), np.concatenate(logits)

    def _decode_window(self, reg, logit, height, width):
        """Decoded candidates of one letterboxed window, in pixels of that window."""
        boxes, kps, scores, _ = decode_blazeface(reg, logit, self.anchors, self.score_threshold,
                                                 self.input_size)
        inv = np.linalg.inv(letterbox_matrix(height, width, self.input_size))
        scale, shift = inv[0, 0] * self.input_size, inv[:2, 2]
        return boxes * scale + np.tile(shift, 2), kps * scale + shift, scores

    def detect_single(self, image):
        """MediaPipe's single pass on the whole image (no tiles); returns :class:`Detections`."""
        image = as_rgb_uint8(image)
        h, w = image.shape[:2]
        reg, logit = self.run_net(letterbox(image, self.input_size)[None])
        boxes, kps, scores = self._decode_window(reg[0], logit[0], h, w)
        return self._finish(*weighted_nms(boxes, kps, scores, self.nms_threshold))

    def windows(self, height, width):
        """``[(y0, x0, side_h, side_w)]``: the whole image, then the tiles (see ``tiles``)."""
        wins = [(0, 0, height, width)]
        if self.tiles:
            longer = max(height, width)
            for div in self.tile_levels:
                tile = int(np.ceil(longer / div))
                if tile < self.min_tile:
                    break
                grid = tile_grid(height, width, tile, self.tile_overlap)
                if len(wins) + len(grid) > self.max_tiles + 1:
                    break
                wins += [(y, x, min(tile, height), min(tile, width)) for y, x in grid]
        return wins

    def detect_with_landmarks(self, image):
        image = as_rgb_uint8(image)
        small, factor = downscale(image, self.max_side)
        h, w = small.shape[:2]
        wins = self.windows(h, w)
        batch = np.stack([letterbox(small[y:y + th, x:x + tw], self.input_size)
                          for y, x, th, tw in wins])
        reg, logit = self.run_net(batch)
        all_b, all_k, all_s = [], [], []
        for i, (y, x, th, tw) in enumerate(wins):
            boxes, kps, scores = self._decode_window(reg[i], logit[i], th, tw)
            if i > 0:
                keep = scores >= self.tile_score_threshold
                boxes, kps, scores = boxes[keep], kps[keep], scores[keep]
            if i > 0 and len(scores):
                # a face cut by an inner tile edge is found whole by a neighbouring tile (or the
                # whole-image pass): drop boxes that reach an edge shared with the image interior
                m = 2.0
                cut = np.zeros(len(scores), bool)
                if x > 0:
                    cut |= boxes[:, 0] < m
                if y > 0:
                    cut |= boxes[:, 1] < m
                if x + tw < w:
                    cut |= boxes[:, 2] > tw - m
                if y + th < h:
                    cut |= boxes[:, 3] > th - m
                boxes, kps, scores = boxes[~cut], kps[~cut], scores[~cut]
            # merge within the window first (MediaPipe's weighted NMS), then across windows
            boxes, kps, scores = weighted_nms(boxes, kps, scores, self.nms_threshold)
            all_b.append(boxes + [x, y, x, y])
            all_k.append(kps + [x, y])
            all_s.append(scores)
        boxes, kps, scores = (np.concatenate(a) for a in (all_b, all_k, all_s))
        if len(wins) > 1:
            boxes, kps, scores = weighted_nms(boxes, kps, scores, self.nms_threshold)
        return self._finish(boxes / factor, kps / factor, scores)

    def _finish(self, boxes, kps, scores):
        if len(scores) == 0:
            return empty_detections(NUM_KEYPOINTS)
        order = np.argsort(-scores, kind='stable')
        out = np.concatenate([boxes[order], scores[order, None]], 1).astype(np.float32)
        return Detections(out, kps[order].astype(np.float32))

    def detect(self, image):
        return self.detect_with_landmarks(image).boxes


@DETECTORS.register(name='blazeface_full')
class BlazeFaceFullRangeDetector(BlazeFaceDetector):
    """:class:`BlazeFaceDetector` with MediaPipe's full-range model (``name: blazeface_full``).

    Same arguments; ``tiles`` defaults to ``False`` here (the full-range model sees faces down to
    ~1/15 of the image in one pass).
    """

    def __init__(self, tiles=False, **kwargs):
        kwargs.setdefault('model', 'full_range')
        super().__init__(tiles=tiles, **kwargs)
