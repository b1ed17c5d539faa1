"""Graph rewrites for the exported programs: the same numbers as the eager layers, with ops that
Paddle 3.3's oneDNN path runs fast and right (``docs/en_US/fast_inference.md``).

* :func:`export_friendly_ops`: while tracing, the blocks resize without ``F.interpolate`` (it
  cannot run under oneDNN; :mod:`ppfom.modules.resize`);
* :func:`fold_batch_norm`: batch norms folded into the convs before them;
* :class:`SubPixelUpBlock` / :func:`use_subpixel_upsampling`: nearest 2x + 3x3 conv as one conv
  and a pixel shuffle;
* :func:`sample_rows`: the feature warp (``grid_sample``) as a gather and a matmul.
"""
import contextlib

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..modules import first_order
from ..modules.resize import resize_nearest, upsample_nearest2x


@contextlib.contextmanager
def export_friendly_ops():
    """While tracing, let the shared blocks (``UpBlock2d``, ``AntiAliasInterpolation2d``) use the
    interpolate-free nearest resizes of :mod:`ppfom.modules.resize` (bit-identical to
    ``F.interpolate``)."""
    original = first_order.upsample2x, first_order.resize_nearest
    first_order.upsample2x, first_order.resize_nearest = upsample_nearest2x, resize_nearest
    try:
        yield
    finally:
        first_order.upsample2x, first_order.resize_nearest = original


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
