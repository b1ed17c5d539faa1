"""Building blocks of the First Order Motion Model (Siarohin et al., NeurIPS 2019).

Same classes, constructor arguments and parameter names as PaddleGAN's
``ppgan/modules/first_order.py`` so that its ``.pdparams`` load unchanged; the maths follows the
original PyTorch implementation (``modules/util.py``).

Conventions used throughout ppfom:
  * images are ``(N, C, H, W)`` float32 in ``[0, 1]``;
  * coordinates are normalised to ``[-1, 1]``, ordered **x then y** (``grid_sample`` order);
  * a keypoint dict ``kp`` has ``value`` ``(N, K, 2)`` and optionally ``jacobian`` ``(N, K, 2, 2)``.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def make_coordinate_grid(spatial_size, dtype='float32'):
    """Meshgrid of normalised coordinates.

    Args:
        spatial_size: ``(H, W)``.
        dtype: paddle dtype of the result.
    Returns:
        ``(H, W, 2)`` tensor; ``[..., 0]`` is x in ``[-1, 1]`` (left to right), ``[..., 1]`` is y
        (top to bottom). Pixel centres of the first/last row/column map to exactly -1/1.
    """
    h, w = int(spatial_size[0]), int(spatial_size[1])
    x = 2 * (paddle.arange(w, dtype=dtype) / (w - 1)) - 1
    y = 2 * (paddle.arange(h, dtype=dtype) / (h - 1)) - 1
    xx = x.reshape([1, w]).expand([h, w])
    yy = y.reshape([h, 1]).expand([h, w])
    return paddle.stack([xx, yy], axis=2)


def kp2gaussian(kp, spatial_size, kp_variance):
    """Gaussian-like heatmap around each keypoint (paper Eq. 6, ``H_k``).

    Args:
        kp: dict with ``value`` ``(N, K, 2)`` in ``[-1, 1]``.
        spatial_size: ``(H, W)`` of the heatmap.
        kp_variance: variance of the Gaussian in normalised units (0.01 in all published configs).
    Returns:
        ``(N, K, H, W)`` heatmaps, 1 at the keypoint.
    """
    mean = kp['value']
    grid = make_coordinate_grid(spatial_size, mean.dtype)
    lead = len(mean.shape) - 1
    grid = grid.reshape([1] * lead + list(grid.shape))
    mean = mean.reshape(list(mean.shape[:lead]) + [1, 1, 2])
    return paddle.exp(-0.5 * ((grid - mean) ** 2).sum(-1) / kp_variance)


def inverse_2x2(m):
    """Closed-form inverse of ``(..., 2, 2)`` matrices (raises nothing; singular -> inf).

    Each entry is divided by the determinant on its own (no broadcast ``(..., 1, 1)`` divisor:
    oneDNN is slow at trailing-axis broadcasts), so the exported programs use this function too.
    """
    a, b = m[..., 0, 0], m[..., 0, 1]
    c, d = m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    row0 = paddle.stack([d / det, -b / det], axis=-1)
    row1 = paddle.stack([-c / det, a / det], axis=-1)
    return paddle.stack([row0, row1], axis=-2)


def detach_kp(kp):
    """Return ``kp`` with every tensor detached (used by the equivariance losses)."""
    return {key: value.detach() for key, value in kp.items()}


def conv_head(in_features, out_features, mobile_net, padding=3, mobile_padding=1, relu=True):
    """An output head: one 7x7 conv, or PaddleGAN's ``mobile_net`` stack of three 3x3 convs (with
    a ReLU after the first two when ``relu``). Parameter names are PaddleGAN's (``head.weight``;
    ``head.0.weight`` ... in the stack)."""
    if not mobile_net:
        return nn.Conv2D(in_features, out_features, (7, 7), padding=padding)
    convs = [nn.Conv2D(in_features, in_features, 3, padding=mobile_padding),
             nn.Conv2D(in_features, in_features, 3, padding=mobile_padding),
             nn.Conv2D(in_features, out_features, 3, padding=mobile_padding)]
    if relu:
        convs = [convs[0], nn.ReLU(), convs[1], nn.ReLU(), convs[2]]
    return nn.Sequential(*convs)


class ResBlock2d(nn.Layer):
    """Pre-activation residual block (BN-ReLU-conv twice), keeps resolution and channels."""

    def __init__(self, in_features, kernel_size, padding):
        super().__init__()
        self.conv1 = nn.Conv2D(in_features, in_features, kernel_size, padding=padding)
        self.conv2 = nn.Conv2D(in_features, in_features, kernel_size, padding=padding)
        self.norm1 = nn.BatchNorm2D(in_features)
        self.norm2 = nn.BatchNorm2D(in_features)

    def forward(self, x):
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class MobileResBlock2d(nn.Layer):
    """Inverted-residual variant of :class:`ResBlock2d` (PaddleGAN's ``mobile_net``)."""

    def __init__(self, in_features, kernel_size, padding):
        super().__init__()
        hidden = in_features * 2
        self.conv_pw = nn.Conv2D(in_features, hidden, 1, bias_attr=False)
        self.conv_dw = nn.Conv2D(hidden, hidden, kernel_size, padding=padding, groups=hidden,
                                 bias_attr=False)
        self.conv_pw_linear = nn.Conv2D(hidden, in_features, 1, bias_attr=False)
        self.norm1 = nn.BatchNorm2D(in_features)
        self.norm_pw = nn.BatchNorm2D(hidden)
        self.norm_dw = nn.BatchNorm2D(hidden)
        self.norm_pw_linear = nn.BatchNorm2D(in_features)

    def forward(self, x):
        out = self.norm_pw(self.conv_pw(F.relu(self.norm1(x))))
        out = F.relu(self.norm_dw(self.conv_dw(out)))
        out = self.norm_pw_linear(self.conv_pw_linear(out))
        return out + x


# The two resizes below are module attributes on purpose: the export swaps them for the
# interpolate-free versions of ppfom.modules.resize (ppfom.inference.rewrites.export_friendly_ops).
def upsample2x(x):
    """Nearest-neighbour 2x upsampling of ``(N, C, H, W)``, as ``F.interpolate(scale_factor=2)``."""
    return F.interpolate(x, scale_factor=2, mode='nearest')


def resize_nearest(x, size):
    """Nearest resize of ``(N, C, H, W)`` to ``size`` ``(h, w)``, as ``F.interpolate``."""
    return F.interpolate(x, size=list(size), mode='nearest')


class _ConvNormReLU(nn.Layer):
    """Conv, BN, ReLU: the shared part of :class:`UpBlock2d`, :class:`DownBlock2d` and
    :class:`SameBlock2d` (PaddleGAN's parameter names ``conv``, ``norm``)."""

    def __init__(self, in_features, out_features, kernel_size=3, padding=1, groups=1,
                 bias_attr=None):
        super().__init__()
        self.conv = nn.Conv2D(in_features, out_features, kernel_size, padding=padding,
                              groups=groups, bias_attr=bias_attr)
        self.norm = nn.BatchNorm2D(out_features)

    def conv_norm_relu(self, x):
        return F.relu(self.norm(self.conv(x)))


class UpBlock2d(_ConvNormReLU):
    """Decoder block: nearest 2x upsampling, conv, BN, ReLU."""

    def forward(self, x):
        return self.conv_norm_relu(upsample2x(x))


class _DepthwiseSeparable(nn.Layer):
    """Depthwise 3x3 conv, BN, ReLU, then pointwise 1x1 conv, BN, ReLU: the shared part of
    PaddleGAN's ``MobileUpBlock2d`` and ``MobileDownBlock2d`` (same parameter names)."""

    def __init__(self, in_features, out_features, kernel_size=3, padding=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2D(in_features, in_features, kernel_size, padding=padding,
                              groups=in_features, bias_attr=False)
        self.norm = nn.BatchNorm2D(in_features)
        self.conv1 = nn.Conv2D(in_features, out_features, 1, bias_attr=False)
        self.norm1 = nn.BatchNorm2D(out_features)

    def separable(self, x):
        out = F.relu(self.norm(self.conv(x)))
        return F.relu(self.norm1(self.conv1(out)))


class MobileUpBlock2d(_DepthwiseSeparable):
    """Depthwise-separable :class:`UpBlock2d` (PaddleGAN's ``mobile_net``)."""

    def forward(self, x):
        return self.separable(upsample2x(x))


def pool2x(x):
    """2x2 average pooling of ``(N, C, H, W)`` (the down blocks' ``nn.AvgPool2D((2, 2))``)."""
    return F.avg_pool2d(x, kernel_size=2)


class DownBlock2d(_ConvNormReLU):
    """Encoder block: conv, BN, ReLU, 2x2 average pooling."""

    def forward(self, x):
        return pool2x(self.conv_norm_relu(x))


class MobileDownBlock2d(_DepthwiseSeparable):
    """Depthwise-separable :class:`DownBlock2d` (PaddleGAN's ``mobile_net``)."""

    def forward(self, x):
        return pool2x(self.separable(x))


class SameBlock2d(_ConvNormReLU):
    """Conv, BN, ReLU at constant resolution (the generator's first block)."""

    def __init__(self, in_features, out_features, groups=1, kernel_size=3, padding=1,
                 mobile_net=False):
        super().__init__(in_features, out_features, kernel_size, padding, groups,
                         bias_attr=False if mobile_net else None)

    def forward(self, x):
        return self.conv_norm_relu(x)


class Encoder(nn.Layer):
    """Hourglass encoder: ``num_blocks`` down blocks; returns every intermediate feature map."""

    def __init__(self, block_expansion, in_features, num_blocks=3, max_features=256,
                 mobile_net=False):
        super().__init__()
        block = MobileDownBlock2d if mobile_net else DownBlock2d
        self.down_blocks = nn.LayerList([
            block(in_features if i == 0 else min(max_features, block_expansion * 2 ** i),
                  min(max_features, block_expansion * 2 ** (i + 1)), kernel_size=3, padding=1)
            for i in range(num_blocks)])

    def forward(self, x):
        outs = [x]
        for down_block in self.down_blocks:
            outs.append(down_block(outs[-1]))
        return outs


class Decoder(nn.Layer):
    """Hourglass decoder: up blocks with skip connections (concatenated on channels)."""

    def __init__(self, block_expansion, in_features, num_blocks=3, max_features=256,
                 mobile_net=False):
        super().__init__()
        block = MobileUpBlock2d if mobile_net else UpBlock2d
        up_blocks = []
        for i in reversed(range(num_blocks)):
            in_filters = (1 if i == num_blocks - 1 else 2) * min(max_features,
                                                                  block_expansion * 2 ** (i + 1))
            out_filters = min(max_features, block_expansion * 2 ** i)
            up_blocks.append(block(in_filters, out_filters, kernel_size=3, padding=1))
        self.up_blocks = nn.LayerList(up_blocks)
        self.out_filters = block_expansion + in_features

    def forward(self, x):
        x = list(x)
        out = x.pop()
        for up_block in self.up_blocks:
            out = paddle.concat([up_block(out), x.pop()], axis=1)
        return out


class Hourglass(nn.Layer):
    """U-Net-like hourglass; ``out_filters = block_expansion + in_features`` output channels."""

    def __init__(self, block_expansion, in_features, num_blocks=3, max_features=256,
                 mobile_net=False):
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features,
                               mobile_net=mobile_net)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features,
                               mobile_net=mobile_net)
        self.out_filters = self.decoder.out_filters

    def forward(self, x):
        return self.decoder(self.encoder(x))


class AntiAliasInterpolation2d(nn.Layer):
    """Band-limited downsampling: Gaussian blur (sigma ``(1/scale - 1)/2``), then nearest resize.

    Args:
        channels: C of the ``(N, C, H, W)`` input.
        scale: output/input size ratio, e.g. 0.25.
        mobile_net: PaddleGAN's mobile variant (3x3 kernel, sigma 0.25).
    The kernel is a buffer named ``weight`` (``down.weight`` in checkpoints), as in the original.
    Output size is ``floor(H * scale), floor(W * scale)``, the pixels ``torch.nn.functional.
    interpolate(mode='nearest')`` picks.
    """

    def __init__(self, channels, scale, mobile_net=False):
        super().__init__()
        if mobile_net:
            sigma, kernel_size = 0.25, 3
        else:
            sigma = (1 / scale - 1) / 2
            kernel_size = 2 * round(sigma * 4) + 1
        self.ka = kernel_size // 2
        self.kb = self.ka - 1 if kernel_size % 2 == 0 else self.ka
        coords = paddle.arange(kernel_size, dtype='float32') - (kernel_size - 1) / 2
        gauss = paddle.exp(-coords ** 2 / (2 * sigma ** 2 + 1e-9))
        kernel = gauss.reshape([-1, 1]) * gauss.reshape([1, -1])
        kernel = kernel / kernel.sum()
        kernel = kernel.reshape([1, 1, kernel_size, kernel_size]).tile([channels, 1, 1, 1])
        self.register_buffer('weight', kernel)
        self.groups = channels
        self.scale = scale
        inv = 1.0 / scale
        self.step = int(round(inv)) if abs(inv - round(inv)) < 1e-6 else None

    def forward(self, x):
        if self.scale == 1.0:
            return x
        out = F.pad(x, [self.ka, self.kb, self.ka, self.kb])
        out = F.conv2d(out, weight=self.weight, groups=self.groups)
        h, w = x.shape[2], x.shape[3]
        out_h, out_w = int(math.floor(h * self.scale)), int(math.floor(w * self.scale))
        if self.step is not None:
            # nearest resize with an integer factor picks every step-th pixel
            return out[:, :, :out_h * self.step:self.step, :out_w * self.step:self.step]
        return resize_nearest(out, (out_h, out_w))


class ImagePyramide(nn.Layer):
    """Image pyramid for the multi-scale perceptual loss (paper Sec. 3.3).

    ``forward(x)`` returns ``{'prediction_<scale>': (N, C, H*scale, W*scale)}``.
    """

    def __init__(self, scales, num_channels):
        super().__init__()
        self.downs = nn.LayerDict({str(s).replace('.', '-'): AntiAliasInterpolation2d(num_channels, s)
                                   for s in scales})

    def forward(self, x):
        return {'prediction_' + name.replace('-', '.'): down(x) for name, down in self.downs.items()}
