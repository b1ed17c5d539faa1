"""Static (Paddle Inference) programs of the two FOMM networks.

Three programs are written with ``paddle.jit.save``, so that the work that depends on the source
only is done once per source and each driving frame costs only what must be recomputed:

``kp_detector``
    ``image`` ``(N, 3, H, W)`` -> ``value`` ``(N, K, 2)``, ``jacobian`` ``(N, K, 2, 2)``.
``source_encoder``
    ``source`` ``(1, 3, H, W)`` -> ``source_table`` ``(1, h'*w', C')`` (the generator's encoder
    features, ``h' = H/2^d``, channels-last) and ``source_small`` ``(1, 3, h, w)`` (the source
    downsampled for the dense motion network, ``h = H * scale_factor``).
``generator``
    ``source_table``, ``source_small``, ``kp_source_value`` ``(1, K, 2)``,
    ``kp_driving_value`` ``(N, K, 2)``, ``kp_source_jacobian`` ``(1, K, 2, 2)``,
    ``kp_driving_jacobian`` ``(N, K, 2, 2)`` -> ``prediction`` ``(N, 3, H, W)`` in ``[0, 1]``.
    Generators with ``compose_deformed`` also take ``source_image`` ``(1, 3, H, W)`` (the source
    itself).

The driving keypoints fed to ``generator`` are already normalised (relative/absolute motion and
``adapt_scale`` are decided by the caller at run time). The batch size ``N`` is dynamic; the image
size is fixed per export. The source inputs keep batch 1 and are broadcast inside the program.

The programs compute what :class:`OcclusionAwareGenerator.forward` and :class:`KPDetector.forward`
compute (same layers, same weights, equal up to float rounding), rewritten where Paddle 3.3's
oneDNN path is slow or wrong (``docs/en_US/fast_inference.md``): no ``F.interpolate`` (it cannot
run under oneDNN; :mod:`ppfom.modules.resize`), batch norms folded into the convs before them,
sub-pixel up blocks, float64 keypoint/motion geometry as matmuls, and the feature warp as a
gather + matmul.
"""
import contextlib
import copy
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.static import InputSpec

from .. import __version__
from ..models.generators import occlusion_aware
from ..modules import first_order
from ..modules.resize import resize_bilinear, resize_nearest, upsample_nearest2x
from ..utils.download import sha256sum

EXPORT_FORMAT = 1          # bump when the programs' inputs/outputs change
META_FILE = 'ppfom_export.json'
PROGRAMS = ('kp_detector', 'source_encoder', 'generator')
SOURCE_OUTPUTS = ('source_table', 'source_small')   # outputs of the source encoder, in order
GEOMETRY_DTYPE = 'float64'  # keypoint and motion maths inside the exported generator


class ExportError(ValueError):
    """An export folder that cannot be used (missing, corrupt, or made from other weights)."""


@contextlib.contextmanager
def export_friendly_ops():
    """While tracing, let the shared blocks (``UpBlock2d``) use the interpolate-free nearest 2x
    upsampling of :mod:`ppfom.modules.resize` (bit-identical to ``F.interpolate``)."""
    original = first_order.upsample2x
    first_order.upsample2x = upsample_nearest2x
    try:
        yield
    finally:
        first_order.upsample2x = original


# (conv, batch norm) attribute pairs where the norm directly follows the conv, per block class
_CONV_BN_PAIRS = {
    'DownBlock2d': [('conv', 'norm')], 'UpBlock2d': [('conv', 'norm')],
    'SameBlock2d': [('conv', 'norm')], 'ResBlock2d': [('conv1', 'norm2')],
    'MobileDownBlock2d': [('conv', 'norm'), ('conv1', 'norm1')],
    'MobileUpBlock2d': [('conv', 'norm'), ('conv1', 'norm1')],
    'MobileResBlock2d': [('conv_pw', 'norm_pw'), ('conv_dw', 'norm_dw'),
                         ('conv_pw_linear', 'norm_pw_linear')],
}


def fold_batch_norm(network):
    """Fold every inference-mode BatchNorm that directly follows a conv into that conv, in place.

    ``W' = W * g``, ``b' = (b - mean) * g + beta`` with ``g = gamma / sqrt(var + eps)``; the norm
    becomes an identity. Same outputs up to float rounding (about 1e-7 relative). Paddle
    Inference's own conv+BN fusion recomputes the folded weights at every run with a reference
    oneDNN kernel (about 0.1 s per conv), hence doing it once here. Norms that do not follow a
    conv (``ResBlock2d.norm1``, before the activation) stay. Returns ``network``.
    """
    for layer in network.sublayers(include_self=True):
        for conv_name, norm_name in _CONV_BN_PAIRS.get(type(layer).__name__, []):
            conv, norm = getattr(layer, conv_name), getattr(layer, norm_name)
            if not isinstance(norm, nn.BatchNorm2D):
                continue
            scale = norm.weight.numpy() / np.sqrt(norm._variance.numpy() + norm._epsilon)
            weight = conv.weight.numpy() * scale.reshape([-1, 1, 1, 1])
            bias = conv.bias.numpy() if conv.bias is not None else np.zeros_like(scale)
            bias = (bias - norm._mean.numpy()) * scale + norm.bias.numpy()
            conv.weight.set_value(weight.astype(np.float32))
            if conv.bias is None:
                conv.bias = conv.create_parameter([len(scale)], is_bias=True)
            conv.bias.set_value(bias.astype(np.float32))
            setattr(layer, norm_name, nn.Identity())
    return network


# row (or column) offset in x, 0 -> -1, 1 -> 0, 2 -> +1, that tap k of a 3x3 conv reads after a
# nearest 2x upsampling, for output rows of parity 0 and 1
_SUBPIXEL_TAPS = ((0, 1, 1), (1, 1, 2))


class SubPixelUpBlock(nn.Layer):
    """An :class:`UpBlock2d` (nearest 2x, 3x3 conv, folded BN, ReLU) as one 3x3 conv on the
    low-resolution input with 4x the output channels, ReLU, then ``pixel_shuffle(2)``.

    After a nearest 2x upsampling, output pixel ``(2i + a, 2j + b)`` of the 3x3 conv only reads
    input pixels ``i - 1 .. i + 1``, ``j - 1 .. j + 1`` of the low-resolution map, with the taps
    that land on the same input pixel summed (:data:`_SUBPIXEL_TAPS`). Same outputs up to float
    rounding, without materialising the upsampled tensor (whose interleaving copy costs more
    than the conv under oneDNN).
    """

    def __init__(self, block):
        super().__init__()
        conv = block.conv
        padding = list(np.ravel(conv._padding))
        if tuple(conv.weight.shape[2:]) != (3, 3) or padding not in ([1], [1, 1]) \
                or not isinstance(block.norm, nn.Identity) or conv._groups != 1:
            raise ValueError('SubPixelUpBlock needs a 3x3, padding 1, ungrouped conv with its '
                             'batch norm folded (fold_batch_norm first)')
        weight = conv.weight.numpy()
        c_out, c_in = weight.shape[:2]
        phases = np.zeros((c_out, 2, 2, c_in, 3, 3), np.float32)
        for a in range(2):
            for b in range(2):
                for dy in range(3):
                    for dx in range(3):
                        phases[:, a, b, :, _SUBPIXEL_TAPS[a][dy], _SUBPIXEL_TAPS[b][dx]] += \
                            weight[:, :, dy, dx]
        bias = np.repeat(conv.bias.numpy(), 4) if conv.bias is not None \
            else np.zeros(4 * c_out, np.float32)
        self.conv = nn.Conv2D(c_in, 4 * c_out, 3, padding=1)
        self.conv.weight.set_value(phases.reshape([4 * c_out, c_in, 3, 3]))
        self.conv.bias.set_value(bias.astype(np.float32))

    def forward(self, x):
        # pixel_shuffle(2) as reshape + transpose: oneDNN runs transpose in bf16 too, so the conv
        # is not left in fp32 between two fp32-only ops
        out = F.relu(self.conv(x))
        c, h, w = int(out.shape[1]) // 4, int(out.shape[2]), int(out.shape[3])
        out = out.reshape([0, c, 2, 2, h, w]).transpose([0, 1, 4, 2, 5, 3])
        return out.reshape([0, c, 2 * h, 2 * w])


def use_subpixel_upsampling(network):
    """Replace every :class:`UpBlock2d` of ``network`` (BN folded) by a
    :class:`SubPixelUpBlock`, in place. Returns ``network``."""
    for layer in network.sublayers(include_self=True):
        for name, child in list(layer._sub_layers.items()):
            if type(child).__name__ == 'UpBlock2d':
                layer._sub_layers[name] = SubPixelUpBlock(child)
    return network


def antialias_down(layer, x):
    """:class:`AntiAliasInterpolation2d` ``layer`` applied to ``x`` without ``F.interpolate``."""
    if layer.scale == 1.0:
        return x
    out = F.pad(x, [layer.ka, layer.kb, layer.ka, layer.kb])
    out = F.conv2d(out, weight=layer.weight, groups=layer.groups)
    h, w = int(x.shape[2]), int(x.shape[3])
    out_h, out_w = int(np.floor(h * layer.scale)), int(np.floor(w * layer.scale))
    if layer.step is not None:
        return out[:, :, :out_h * layer.step:layer.step, :out_w * layer.step:layer.step]
    return resize_nearest(out, (out_h, out_w))


def _grid_xy(h, w):
    """``(2, h*w)`` float64: x and y of every pixel in ``[-1, 1]`` (as ``make_coordinate_grid``)."""
    x = 2 * (np.arange(w, dtype=np.float64) / (w - 1)) - 1
    y = 2 * (np.arange(h, dtype=np.float64) / (h - 1)) - 1
    return np.stack([np.tile(x, h), np.repeat(y, w)])


def _resized_grid_xy(size_old, size_new):
    """``_grid_xy(*size_old)`` resized bilinearly (half-pixel centres, as ``F.interpolate`` with
    ``align_corners=False``) to ``size_new``, in numpy: ``(2, h*w)`` float64. The identity grid
    is linear in each axis, so each axis resizes on its own."""
    axes = []
    for n_old, n_new in zip(size_old, size_new):
        src = np.clip((np.arange(n_new) + 0.5) * n_old / n_new - 0.5, 0, n_old - 1)
        axes.append(2 * src / (n_old - 1) - 1)
    (h, w), (y, x) = size_new, axes
    return np.stack([np.tile(x, h), np.repeat(y, w)])


def _inverse_2x2(m):
    """``inverse_2x2`` of ``(N, K, 2, 2)`` without broadcasting the determinant (slow in oneDNN)."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    inv = paddle.stack([d / det, -b / det, -c / det, a / det], axis=-1)
    return inv.reshape([0, 0, 2, 2])


class KeypointProgram(nn.Layer):
    """:class:`KPDetector` returning ``(value, jacobian)`` (no heatmap)."""

    def __init__(self, kp_detector):
        super().__init__()
        self.net = kp_detector

    def forward(self, image):
        net = self.net
        x = antialias_down(net.down, image) if net.scale_factor != 1 else image
        feature_map = net.predictor(x)
        prediction = net.kp(feature_map)
        k, h, w = prediction.shape[1], prediction.shape[2], prediction.shape[3]
        # softmax and expectations in float64 (GEOMETRY_DTYPE): kept out of bf16, and as
        # matmuls (oneDNN is slow at the eager code's trailing-axis broadcasts)
        geo = GEOMETRY_DTYPE
        logits = prediction.reshape([0, k, h * w]).astype(geo)
        heatmap = F.softmax(logits / net.temperature, axis=2)
        grid = paddle.to_tensor(_grid_xy(h, w).T.copy())                     # (h*w, 2)
        value = paddle.matmul(heatmap, grid).astype(prediction.dtype)         # (N, K, 2)
        if net.jacobian is None:
            return value
        maps = net.num_jacobian_maps
        jacobian_map = net.jacobian(feature_map).reshape([0, maps, 4, h * w]).astype(geo)
        jacobian = paddle.matmul(jacobian_map, heatmap.unsqueeze(-1))         # (N, K, 4, 1)
        return value, jacobian.reshape([0, k, 2, 2]).astype(prediction.dtype)


def sample_rows(table, grid, size, scale=None):
    """``F.grid_sample(features, grid, 'bilinear', 'zeros', align_corners=True)`` as a gather of
    the four neighbours' rows and one batched ``(1, 4) @ (4, C)`` matmul per output pixel.

    Paddle's CPU ``grid_sample`` takes about 50 ms for 256 channels at 64x64; this about a
    fifth. The features are given once, channels-last, and shared by every item of the batch.

    Args:
        table: ``(1, H*W, C)`` features, channels-last (row ``y * W + x``).
        grid: ``(N, 2, P)`` sampling positions, x then y, in ``[-1, 1]`` (corners at -1 and 1).
        size: ``(H, W)`` of the features.
        scale: optional ``(N, P)`` factor for each output pixel (the occlusion map).
    Returns:
        ``(N, C, P)`` sampled features (zero outside the image).
    """
    h, w = int(size[0]), int(size[1])
    c, p = int(table.shape[2]), int(grid.shape[2])
    # pixels; clipped to [-2, size + 1] where every neighbour is outside anyway
    x = paddle.clip((grid[:, 0] + 1) * (0.5 * (w - 1)), -2.0, w + 1.0)  # (N, P)
    y = paddle.clip((grid[:, 1] + 1) * (0.5 * (h - 1)), -2.0, h + 1.0)
    # floor by truncating the positive x + 4: oneDNN's floor runs in place and overwrites x
    x0 = (x + 4.0).astype('int32').astype(x.dtype) - 4.0
    y0 = (y + 4.0).astype('int32').astype(y.dtype) - 4.0
    wx1, wy1 = x - x0, y - y0
    indices, weights = [], []
    for dy, wy in ((0, 1 - wy1), (1, wy1)):
        for dx, wx in ((0, 1 - wx1), (1, wx1)):
            xi, yi = x0 + dx, y0 + dy
            inside = ((xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)).astype(x.dtype)
            xi = paddle.clip(xi, 0, w - 1)
            yi = paddle.clip(yi, 0, h - 1)
            indices.append((yi * w + xi).astype('int64'))
            weights.append(wx * wy * inside)
    index = paddle.stack(indices, axis=-1).reshape([-1])              # (N*P*4,)
    weight = paddle.stack(weights, axis=-1)                           # (N, P, 4)
    if scale is not None:
        weight = weight * scale.unsqueeze(-1)
    rows = paddle.gather(table.reshape([-1, c]), index).reshape([-1, 4, c])
    weight = weight.reshape([-1, 1, 4]).astype(table.dtype)
    out = paddle.matmul(weight, rows)                                  # (N*P, 1, C)
    return out.reshape([-1, p, c]).transpose([0, 2, 1])


class SourceEncoderProgram(nn.Layer):
    """Everything of the generator that depends on the source only."""

    def __init__(self, generator):
        super().__init__()
        self.net = generator

    def forward(self, source):
        features = self.net.encode_source(source)
        c, h, w = (int(s) for s in features.shape[1:])
        table = features.reshape([1, c, h * w]).transpose([0, 2, 1])
        dense = self.net.dense_motion_network
        small = source
        if dense is not None and dense.scale_factor != 1:
            small = antialias_down(dense.down, source)
        return table, small


class FrameProgram(nn.Layer):
    """:meth:`OcclusionAwareGenerator.forward` on cached source tensors, prediction only.

    Same maths as ``DenseMotionNetwork.forward`` followed by the generator's ``deform_input``,
    ``apply_occlusion`` and ``decode``, with the batch-1 source tensors broadcast to the ``N``
    driving frames.
    """

    def __init__(self, generator, has_jacobian, feature_size, image_size):
        super().__init__()
        self.net = generator
        self.has_jacobian = has_jacobian
        self.feature_size = tuple(int(s) for s in feature_size)
        self.image_size = tuple(int(s) for s in image_size)
        self.compose = bool(getattr(generator, 'compose_deformed', False))

    def _dense_motion(self, small, kp_source, kp_driving, n):
        """``DenseMotionNetwork.forward`` written for oneDNN.

        oneDNN's binary ops are very slow when an operand broadcasts along a trailing axis
        (``(N, K, h, w, 2) * (N, K, h, w, 1)``, ``(1, 1, h, w, 2) - (N, K, 1, 1, 2)``: 2-12 ms
        for 40k elements, seconds per frame in all). Here every per-pixel quantity is an affine
        map of the pixel grid, computed as one matmul with ``[x; y; 1]`` ``(3, h*w)``:

        * ``z - kp`` (for the Gaussians of Eq. 6): ``[[1, 0, -kp_x], [0, 1, -kp_y]]``;
        * the sparse motions of Eq. 4, ``kp_source + J (z - kp_driving)``:
          ``[J | kp_source - J kp_driving]``.

        The geometry (keypoints, Gaussians, motions, mask weights) is computed in float64 (
        :data:`GEOMETRY_DTYPE`): under ``--precision bf16`` oneDNN would otherwise run these
        matmuls and sums in bf16 (coordinates off by up to 1/256) and Paddle 3.3 cannot keep
        chosen ops in fp32. Only the convolutions see float32 (or bf16).

        Same numbers as the eager code up to float rounding. Returns the deformation as
        ``(N, 2, h, w)`` float64 (channels first) and the occlusion map ``(N, 1, h, w)`` float64
        (or ``None``).
        """
        dense = self.net.dense_motion_network
        k = dense.num_kp
        c, h, w = int(small.shape[1]), int(small.shape[2]), int(small.shape[3])
        geo = GEOMETRY_DTYPE
        grid = paddle.to_tensor(_grid_xy(h, w))                      # (2, h*w) float64
        homogeneous = paddle.concat([grid, paddle.ones([1, h * w], geo)], axis=0)
        eye = paddle.eye(2, dtype=geo).reshape([1, 1, 2, 2])

        def offsets(value):                 # z - kp, (N, K, 2, h*w)
            shift = -value.unsqueeze(-1)   # (N, K, 2, 1)
            rows = paddle.broadcast_to(eye, [paddle.shape(value)[0], k, 2, 2])
            affine = paddle.concat([rows, shift], axis=-1)
            return paddle.matmul(affine, homogeneous)

        def gaussian(value):                # Eq. 6 Gaussian, (N, K, h*w)
            return paddle.exp(-0.5 * (offsets(value) ** 2).sum(axis=2) / dense.kp_variance)

        heatmap = gaussian(kp_driving['value']) - gaussian(kp_source['value'])
        heatmap = paddle.concat([paddle.zeros_like(heatmap[:, :1]), heatmap], axis=1)
        # Eq. 4 as one affine map per keypoint: T(z) = J z + (kp_source - J kp_driving)
        drv = kp_driving['value'].unsqueeze(-1)                     # (N, K, 2, 1)
        src = kp_source['value'].unsqueeze(-1)                      # (1, K, 2, 1)
        if 'jacobian' in kp_driving:
            jac = paddle.matmul(kp_source['jacobian'], _inverse_2x2(kp_driving['jacobian']))
        else:
            jac = paddle.broadcast_to(eye, [n, k, 2, 2])
        shift = src - paddle.matmul(jac, drv)                       # (N, K, 2, 1)
        motion = paddle.matmul(paddle.concat([jac, shift], axis=-1), homogeneous)
        identity = paddle.broadcast_to(grid.reshape([1, 1, 2, h * w]), [n, 1, 2, h * w])
        motion = paddle.concat([identity, motion], axis=1)         # (N, K+1, 2, h*w)
        # Eq. 7 input: the source warped by each sparse motion -> (N, K+1, C, h, w)
        repeated = paddle.broadcast_to(small.unsqueeze(1), [n, k + 1, c, h, w])
        # float32 before the transpose: oneDNN fuses transpose + reshape and has no float64 kernel
        sample_grid = motion.astype(small.dtype).transpose([0, 1, 3, 2]).reshape([-1, h, w, 2])
        deformed = F.grid_sample(repeated.reshape([-1, c, h, w]), sample_grid, mode='bilinear',
                                 padding_mode='zeros', align_corners=True)
        deformed = deformed.reshape([-1, k + 1, c, h, w])
        heatmap = heatmap.reshape([-1, k + 1, 1, h, w]).astype(small.dtype)
        inp = paddle.concat([heatmap, deformed], axis=2).reshape([-1, (k + 1) * (c + 1), h, w])
        prediction = dense.hourglass(inp)
        # Eq. 8: mask-weighted sum of the sparse motions
        mask = F.softmax(dense.mask(prediction).astype(geo), axis=1)
        mask = mask.reshape([-1, k + 1, 1, h * w])
        deformation = (motion * mask).sum(axis=1).reshape([-1, 2, h, w])
        occlusion = None
        if dense.occlusion is not None:
            occlusion = F.sigmoid(dense.occlusion(prediction).astype(geo))
        return deformation, occlusion

    def _sampling_grid(self, deformation, h, w):
        """``deform_input``'s grid: ``deformation`` ``(N, 2, h', w')`` resized to ``(h, w)``
        (its displacement with ``resize_displacement``; blended to identity near the border with
        ``inference``)."""
        h_old, w_old = int(deformation.shape[2]), int(deformation.shape[3])
        deformation = resize_bilinear(deformation, (h, w))
        if (h_old, w_old) != (h, w) and getattr(self.net, 'resize_displacement', False):
            # resize(D - I_old) + I_new = resize(D) + (I_new - resize(I_old)) (resizing is
            # linear). Paddle 3.3.1's oneDNN passes fuse an add that directly follows
            # resize_bilinear's matmul into a fused_matmul it then has no kernel for; the
            # multiplication by ones keeps the two apart.
            correction = _grid_xy(h, w) - _resized_grid_xy((h_old, w_old), (h, w))
            ones = paddle.ones([1, 1, h, w], dtype=deformation.dtype)
            deformation = deformation * ones + paddle.to_tensor(
                correction.reshape([1, 2, h, w])).astype(deformation.dtype)
        if self.net.inference:
            weight = paddle.to_tensor(occlusion_aware._border_weight(h, w).astype(np.float64))
            weight = weight.reshape([1, 1, h, w])
            identity = paddle.to_tensor(_grid_xy(h, w)).reshape([1, 2, h, w])
            deformation = weight * deformation + (1 - weight) * identity
        return deformation

    def _compose(self, source_image, decoded, deformation, occlusion):
        """``compose_deformed``: ``O * deform_input(source) + (1 - O) * decoded`` with the
        occlusion map ``O`` resized bilinearly to the image."""
        h, w = self.image_size
        grid = self._sampling_grid(deformation, h, w).astype(decoded.dtype)
        grid = grid.transpose([0, 2, 3, 1])                        # (N, H, W, 2)
        n = paddle.shape(grid)[0]
        source = paddle.broadcast_to(source_image, [n, int(source_image.shape[1]), h, w])
        deformed = F.grid_sample(source, grid, mode='bilinear', padding_mode='zeros',
                                 align_corners=True)
        visible = resize_bilinear(occlusion, (h, w)).astype(decoded.dtype)
        return visible * deformed + (1 - visible) * decoded

    def _warp(self, table, deformation, occlusion, h, w):
        """``deform_input`` then ``apply_occlusion`` on the source features.

        ``table`` ``(1, h*w, C)``: the features channels-last; ``deformation`` ``(N, 2, h', w')``
        (channels first), ``occlusion`` ``(N, 1, h', w')`` or ``None``. Returns ``(N, C, h, w)``.
        """
        deformation = self._sampling_grid(deformation, h, w)
        if occlusion is not None:
            occlusion = resize_bilinear(occlusion, (h, w))
            if self.net.inference and not self.net.mobile_net:
                keep = np.zeros((1, 1, h, w), np.float64)
                pad = occlusion_aware.BORDER_PAD
                keep[..., pad:h - pad, pad:w - pad] = 1.0
                keep = paddle.to_tensor(keep)
                occlusion = keep * occlusion + (1 - keep)
            occlusion = occlusion.reshape([-1, h * w])
        out = sample_rows(table, deformation.reshape([-1, 2, h * w]), (h, w), occlusion)
        return out.reshape([-1, int(table.shape[2]), h, w])

    def forward(self, source_table, source_small, kp_source_value, kp_driving_value,
                kp_source_jacobian=None, kp_driving_jacobian=None, source_image=None):
        n = paddle.shape(kp_driving_value)[0]
        geo = GEOMETRY_DTYPE
        kp_source = {'value': kp_source_value.astype(geo)}
        kp_driving = {'value': kp_driving_value.astype(geo)}
        if self.has_jacobian:
            kp_source['jacobian'] = kp_source_jacobian.astype(geo)
            kp_driving['jacobian'] = kp_driving_jacobian.astype(geo)
        c, (h, w) = int(source_table.shape[2]), self.feature_size
        if self.net.dense_motion_network is None:
            out = source_table.transpose([0, 2, 1]).reshape([1, c, h, w])
            out = paddle.broadcast_to(out, [n, c, h, w])
        else:
            deformation, occlusion = self._dense_motion(source_small, kp_source, kp_driving, n)
            out = self._warp(source_table, deformation, occlusion, h, w)
            if self.compose:
                return self._compose(source_image, self.net.decode(out), deformation, occlusion)
        return self.net.decode(out)


def network_shapes(kp_detector, generator, image_size):
    """Fixed sizes of the programs' inputs: ``{'K', 'features' (C', h', w'), 'small' (3, h, w),
    'has_jacobian'}``, found by running the source encoder once on zeros."""
    h, w = image_size
    with paddle.no_grad(), export_friendly_ops():
        features = generator.encode_source(paddle.zeros([1, 3, h, w]))
        small = SourceEncoderProgram(generator)(paddle.zeros([1, 3, h, w]))[1]
    return {'K': int(kp_detector.kp.weight.shape[0] if not isinstance(kp_detector.kp, nn.Sequential)
                     else kp_detector.kp[-1].weight.shape[0]),
            'features': list(features.shape[1:]), 'small': list(small.shape[1:]),
            'has_jacobian': kp_detector.jacobian is not None}


sha256_file = sha256sum  # one implementation: ppfom.utils.download


def _save(layer, specs, prefix):
    static = paddle.jit.to_static(layer, input_spec=specs, full_graph=True)
    paddle.jit.save(static, prefix)


def program_files(folder, name):
    """The files ``paddle.jit.save`` wrote for program ``name`` (model then params)."""
    prefix = os.path.join(folder, name)
    model = prefix + '.json' if os.path.exists(prefix + '.json') else prefix + '.pdmodel'
    return model, prefix + '.pdiparams'


def export_networks(kp_detector, generator, output_dir, image_size=(256, 256), info=None):
    """Write the three programs and ``ppfom_export.json`` into ``output_dir``.

    Args:
        kp_detector, generator: the eager networks, with their weights loaded.
        output_dir: folder to create (files inside are overwritten).
        image_size: ``(H, W)`` the programs are built for.
        info: extra fields stored in the metadata (e.g. ``weights_sha256``, ``config``).
    Returns:
        the metadata dict (also written to ``output_dir/ppfom_export.json``): image size, K,
        feature shapes, the sha256 of every file, ppfom/paddle versions and ``info``.
    """
    image_size = (int(image_size[0]), int(image_size[1]))
    os.makedirs(output_dir, exist_ok=True)
    kp_detector = use_subpixel_upsampling(fold_batch_norm(copy.deepcopy(kp_detector).eval()))
    generator = use_subpixel_upsampling(fold_batch_norm(copy.deepcopy(generator).eval()))
    shapes = network_shapes(kp_detector, generator, image_size)
    k, has_jac = shapes['K'], shapes['has_jacobian']
    h, w = image_size

    def kp_specs(prefix, batch):
        specs = [InputSpec([batch, k, 2], 'float32', f'{prefix}_value')]
        if has_jac:
            specs.append(InputSpec([batch, k, 2, 2], 'float32', f'{prefix}_jacobian'))
        return specs

    src_kp, drv_kp = kp_specs('kp_source', 1), kp_specs('kp_driving', None)
    c, fh, fw = shapes['features']
    gen_specs = [InputSpec([1, fh * fw, c], 'float32', 'source_table'),
                 InputSpec([1] + shapes['small'], 'float32', 'source_small'),
                 src_kp[0], drv_kp[0]] + src_kp[1:] + drv_kp[1:]
    compose = bool(getattr(generator, 'compose_deformed', False))
    if compose:
        if not has_jac:
            raise ValueError('exporting a compose_deformed generator needs keypoints with '
                             'jacobians (estimate_jacobian: true)')
        gen_specs.append(InputSpec([1, 3, h, w], 'float32', 'source_image'))
    with export_friendly_ops():
        _save(KeypointProgram(kp_detector), [InputSpec([None, 3, h, w], 'float32', 'image')],
              os.path.join(output_dir, 'kp_detector'))
        _save(SourceEncoderProgram(generator), [InputSpec([1, 3, h, w], 'float32', 'source')],
              os.path.join(output_dir, 'source_encoder'))
        _save(FrameProgram(generator, has_jac, shapes['features'][1:], image_size), gen_specs,
              os.path.join(output_dir, 'generator'))
    files = {}
    for name in PROGRAMS:
        for path in program_files(output_dir, name):
            files[os.path.basename(path)] = sha256_file(path)
    meta = {'format': EXPORT_FORMAT, 'ppfom_version': __version__,
            'paddle_version': paddle.__version__, 'image_size': list(image_size),
            'num_kp': k, 'has_jacobian': has_jac, 'compose_deformed': compose,
            'source_features': shapes['features'],
            'source_small': shapes['small'], 'files': files, **(info or {})}
    with open(os.path.join(output_dir, META_FILE), 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    return meta


def read_export_meta(folder, check_files=True):
    """Read and verify an export folder's metadata.

    Raises:
        ExportError: no folder, no or unreadable ``ppfom_export.json``, another export format,
            a missing program file, or (``check_files``) a file whose sha256 differs from the one
            recorded at export time (a corrupt or edited export).
    """
    rebuild = 'delete the folder (or pass --rebuild_export) to export again'
    if not os.path.isdir(folder):
        raise ExportError(f'no exported model at {folder}; export it with tools/export_model.py')
    path = os.path.join(folder, META_FILE)
    try:
        with open(path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError) as exc:
        raise ExportError(f'export folder {folder} is corrupt ({META_FILE}: {exc}); '
                          f'{rebuild}') from exc
    if meta.get('format') != EXPORT_FORMAT:
        raise ExportError(f'export folder {folder} has format {meta.get("format")}, this ppfom '
                          f'reads format {EXPORT_FORMAT}; {rebuild}')
    for name, digest in sorted(meta.get('files', {}).items()):
        file = os.path.join(folder, name)
        if not os.path.isfile(file):
            raise ExportError(f'export folder {folder} is corrupt ({name} is missing); {rebuild}')
        if check_files and sha256_file(file) != digest:
            raise ExportError(f'export folder {folder} is corrupt ({name} changed since export); '
                              f'{rebuild}')
    if len(meta.get('files', {})) != 2 * len(PROGRAMS):
        raise ExportError(f'export folder {folder} is corrupt (file list incomplete); {rebuild}')
    return meta


def config_digest(model_cfg, image_size, border_blend=False):
    """sha256 of the model config (canonical JSON), image size, ``border_blend``, export format,
    ppfom and Paddle versions: part of the cache key."""
    text = json.dumps({'model': _plain(model_cfg), 'image_size': list(image_size),
                       'border_blend': bool(border_blend), 'format': EXPORT_FORMAT,
                       'ppfom': __version__, 'paddle': paddle.__version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def export_cache_dir(weights_path, weights_sha256, model_cfg, image_size, cache_root=None,
                     border_blend=False):
    """Where the export of these weights is cached:
    ``<cache_root or the weights' folder>/<weights name>.export/<16 hex of the key>``, the key
    being the sha256 of the weights file, the model config and the image size (precision is
    chosen when the programs are loaded, so fp32 and bf16 share one export)."""
    key = hashlib.sha256((weights_sha256
                          + config_digest(model_cfg, image_size, border_blend)).encode())
    root = cache_root or os.path.dirname(os.path.abspath(weights_path))
    return os.path.join(root, os.path.basename(weights_path) + '.export', key.hexdigest()[:16])


def export_from_weights(model_cfg, weights_path, output_dir, image_size=(256, 256),
                        weights_sha256=None, border_blend=False):
    """Build the networks of ``model_cfg``, load ``weights_path`` and export them to
    ``output_dir`` atomically (written to a temporary folder beside it, then renamed: a killed
    export never leaves a half-written folder). ``border_blend``: the generator's ``inference``
    flag (PaddleGAN's border blend). Returns the metadata."""
    from ..models.networks import build_networks
    from ..utils.checkpoint import load_fomm_state, load_into

    weights_sha256 = weights_sha256 or sha256_file(weights_path)
    state = load_fomm_state(weights_path)
    kp_detector, generator = build_networks(model_cfg, inference=border_blend)
    load_into(kp_detector, state['kp_detector'], 'kp_detector')
    load_into(generator, state['generator'], 'generator')
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.export-', dir=parent)
    try:
        meta = export_networks(kp_detector, generator, tmp, image_size,
                               info={'weights_sha256': weights_sha256,
                                     'weights_file': os.path.basename(weights_path),
                                     'border_blend': bool(border_blend),
                                     'config_sha256': config_digest(model_cfg, image_size,
                                                                    border_blend)})
        if os.path.isdir(output_dir):
            shutil.rmtree(output_dir)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp made it private
        os.replace(tmp, output_dir)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
    return meta
