"""The S3FD face detector: network, SSD box decoding and NMS, and the weight converter.

Post-processing follows face-alignment 1.5 (``detection/sfd/{detect,bbox,sfd_detector}.py``),
which PaddleGAN copies, but decodes all candidates at once with numpy instead of one by one in
Python; on the same raw maps it gives bit-for-bit the same boxes.
"""
import os

import numpy as np
import paddle

from ...utils.checkpoint import describe_mismatch
from ...utils.registry import DETECTORS
from ...utils.safe_pickle import load_pdparams
from .base import Detections, as_rgb_uint8, downscale, empty_detections
from .s3fd import S3FD, preprocess

S3FD_URL = 'https://paddlegan.bj.bcebos.com/models/s3fd_paddle.pdparams'
S3FD_FLAG = '--detector_weights'
VARIANCES = (0.1, 0.2)


def softmax_face_prob(cls_map):
    """Face probability from a ``(N, 2, h, w)`` logit map (softmax over the 2 channels, float32)."""
    cls_map = np.asarray(cls_map, np.float32)
    m = np.maximum(cls_map[:, 0], cls_map[:, 1])
    e0, e1 = np.exp(cls_map[:, 0] - m), np.exp(cls_map[:, 1] - m)
    return e1 / (e0 + e1)


def decode_s3fd(prob_maps, reg_maps, candidate_threshold=0.05):
    """Turn S3FD head maps into candidate boxes, for the first image of the batch.

    Args:
        prob_maps: 6 face-probability maps, ``(N, h_i, w_i)`` float32 (softmax channel 1).
        reg_maps: 6 regression maps ``(N, 4, h_i, w_i)`` float32 ``(dx, dy, dw, dh)``.
        candidate_threshold: cells with probability above this become candidates (0.05).
    Returns:
        ``(M, 5)`` float64 ``x1, y1, x2, y2, score`` in pixels of the network input, level by level
        and row-major within a level (face-alignment's order). Level ``i`` has stride
        ``s = 2**(i+2)``, anchor centre ``(s/2 + x*s, s/2 + y*s)`` and size ``4s``; the centre moves
        by ``0.1 * d * 4s`` and the size is ``4s * exp(0.2 * d)``. Nothing is clipped.
    """
    out = []
    for i, (prob, reg) in enumerate(zip(prob_maps, reg_maps)):
        stride = 2 ** (i + 2)
        prob = np.asarray(prob, np.float32)
        _, hs, ws = np.nonzero(prob[:1] > candidate_threshold)
        if hs.size == 0:
            continue
        score = prob[0, hs, ws].astype(np.float64)
        loc = np.asarray(reg, np.float32)[0][:, hs, ws].T           # (M, 4) float32
        size = np.full((hs.size, 1), stride * 4.0)
        centre = np.stack([stride / 2 + ws * stride, stride / 2 + hs * stride], 1).astype(np.float64)
        # float32 intermediates exactly as the reference evaluates ``loc * 0.1`` and ``exp(loc * 0.2)``
        xy = centre + (loc[:, :2] * np.float32(VARIANCES[0])) * size
        wh = size * np.exp(loc[:, 2:] * np.float32(VARIANCES[1]))
        x1y1 = xy - wh / 2
        out.append(np.concatenate([x1y1, x1y1 + wh, score[:, None]], 1))
    return np.concatenate(out, 0) if out else np.zeros((0, 5))


def nms_s3fd(dets, threshold=0.3):
    """Greedy NMS with the "+1 pixel" area convention (face-alignment ``bbox.nms``).

    Args:
        dets: ``(M, 5)`` ``x1, y1, x2, y2, score``.
        threshold: a box is dropped when its IoU with a kept box is above this (0.3).
    Returns:
        int64 indices of the kept boxes, best score first. Ties in score keep numpy's
        ``argsort`` order, as the reference. The Python loop runs once per *kept* box; each
        step compares it with all remaining candidates at once.
    """
    if len(dets) == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2, scores = (dets[:, k] for k in range(5))
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[rest] - inter)
        order = rest[ovr <= threshold]
    return np.asarray(keep, np.int64)


def postprocess_s3fd(raw_maps, score_threshold=0.5, nms_threshold=0.3):
    """Raw S3FD outputs (12 numpy maps, first image) -> ``(K, 5)`` float64 final boxes.

    Softmax, :func:`decode_s3fd`, :func:`nms_s3fd` and a strict ``score > score_threshold``.
    """
    probs = [softmax_face_prob(raw_maps[2 * i]) for i in range(6)]
    regs = [raw_maps[2 * i + 1] for i in range(6)]
    dets = decode_s3fd(probs, regs)
    dets = dets[nms_s3fd(dets, nms_threshold)]
    return dets[dets[:, 4] > score_threshold]


def convert_s3fd_state_dict(state):
    """face-alignment's S3FD state dict (``s3fd-619a316812.pth``) -> Paddle S3FD state dict.

    Args:
        state: mapping of torch parameter name -> numpy array (e.g. from
            :func:`ppfom.utils.torch_pickle.load_torch_checkpoint`); a ``state_dict`` nested under
            ``'state_dict'`` / ``'model'`` is accepted too.
    Returns:
        ``{name: float32 array}`` with PaddleGAN's names (``param_names_s3fd.txt``). The two
        networks share names and the OIHW conv layout, so the conversion checks the key set and
        shapes, strips a ``module.`` prefix (DataParallel) and casts to float32.
    Raises:
        ValueError: missing, unexpected or mis-shaped keys (the message lists them).
    """
    for wrapper in ('state_dict', 'model'):
        if isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    out = {}
    for key, value in state.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        out[key] = np.ascontiguousarray(np.asarray(value, np.float32))
    _check_state(out, S3FD_SHAPES, 'S3FD')
    return {k: out[k] for k in S3FD_SHAPES}


def _check_state(state, shapes, what):
    problem = describe_mismatch(shapes, state)
    if problem:
        raise ValueError(f'not {what} weights: {problem}')


S3FD_SHAPES = {k: tuple(v.shape) for k, v in S3FD().state_dict().items()}


def load_s3fd_weights(path):
    """Read S3FD weights: PaddleGAN's ``s3fd_paddle.pdparams`` (flat dict, loaded unchanged) or
    face-alignment's ``s3fd-619a316812.pth`` (converted on the fly, no torch needed).

    Raises:
        FileNotFoundError: no such file (the message names ``--detector_weights``).
        ValueError: the file holds other weights.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'S3FD weights not found: {path}; pass the file with {S3FD_FLAG}')
    if path.endswith(('.pth', '.pt', '.tar')):
        from ...utils.torch_pickle import load_torch_checkpoint
        return convert_s3fd_state_dict(load_torch_checkpoint(path, data_only=True))
    return convert_s3fd_state_dict(load_pdparams(path, return_numpy=True))


@DETECTORS.register(name='sfd')
class SFDDetector:
    """S3FD face detector (``name: sfd``), as in PaddleGAN / face-alignment.

    Args:
        weights: path to ``s3fd_paddle.pdparams`` or ``s3fd-619a316812.pth``; ``None`` downloads
            PaddleGAN's file (85 MB, :data:`S3FD_URL`) into the ppfom cache, failing with one line
            that names ``--detector_weights`` when offline.
        state_dict: weights as a dict instead of a file (tests, converters).
        score_threshold: final boxes need ``score > score_threshold`` (0.5, as the reference).
        nms_threshold: IoU above which NMS drops a box (0.3).
        max_side: images whose longer side exceeds this are detected on a copy downscaled to it
            (640 px; S3FD's smallest anchor is 16 px, so faces down to ~16 px in the copy are found;
            ``None`` = full resolution) and boxes are mapped back.

    ``detect(image)``: RGB uint8 ``(H, W, 3)`` (gray and RGBA accepted) -> ``(N, 5)`` float32
    ``x1, y1, x2, y2, score`` in input pixels, best first. ``detect_with_landmarks`` returns a
    :class:`Detections` with ``landmarks=None`` (S3FD has none).
    """

    def __init__(self, weights=None, state_dict=None, score_threshold=0.5, nms_threshold=0.3,
                 max_side=640):
        if state_dict is None:
            if weights is None:
                from ...utils.download import get_path_from_url
                weights = get_path_from_url(S3FD_URL, flag=S3FD_FLAG)
            state_dict = load_s3fd_weights(weights)
        else:
            state_dict = convert_s3fd_state_dict(state_dict)
        self.net = S3FD()
        self.net.set_state_dict({k: paddle.to_tensor(v) for k, v in state_dict.items()})
        self.net.eval()
        self.score_threshold, self.nms_threshold = score_threshold, nms_threshold
        self.max_side = max_side

    def raw_outputs(self, image_rgb):
        """The 12 raw maps (numpy) for one RGB uint8 ``(H, W, 3)`` image at its own size."""
        with paddle.no_grad():
            maps = self.net(paddle.to_tensor(preprocess(image_rgb[None])))
        return [m.numpy() for m in maps]

    def detect_with_landmarks(self, image):
        image = as_rgb_uint8(image)
        small, scale = downscale(image, self.max_side)
        dets = postprocess_s3fd(self.raw_outputs(small), self.score_threshold, self.nms_threshold)
        if len(dets) == 0:
            return empty_detections()
        dets[:, :4] /= scale
        return Detections(dets.astype(np.float32))

    def detect(self, image):
        return self.detect_with_landmarks(image).boxes
