"""GPEN: GAN-prior embedded network for blind face restoration, in PaddleGAN's layout.

(Over 400 lines on purpose: a port of one upstream network, StyleGAN2 layers and the GPEN
encoder together, kept in the upstream's order so it can be read side by side with it.)

Source: Yang et al., "GAN Prior Embedded Network for Blind Face Restoration in the Wild",
CVPR 2021 (Sec. 3: a CNN encoder whose per-level features replace StyleGAN2's noise inputs);
reference implementations yangxy/GPEN ``face_model/gpen_model.py`` (``FullGenerator``) and
PaddleGAN ``ppgan/models/generators/gpen.py`` + ``generator_gpen.py`` (``GPEN(size=512,
style_dim=512, n_mlp=8)``), whose ``GPEN-512.pdparams`` is what PaddleGAN's
``first-order-demo --face_enhancement`` downloads. Parameter names and shapes here are exactly
PaddleGAN's (``ecd0.0.0.weight`` ... ``generator.to_rgbs.6.conv.modulation.bias``), so that file
loads unchanged.

Unlike GFPGAN's 'clean' StyleGAN2, this is the original StyleGAN2 (rosinality's port):
equalised learning rate (weights scaled by ``1/sqrt(fan_in)`` at run time), FIR up/down-sampling
with the ``[1, 3, 3, 1]`` kernel (upfirdn2d), ``FusedLeakyReLU`` (bias, LeakyReLU(0.2),
``*sqrt(2)``) and, GPEN's change, noise *concatenated* to the features (``is_concat``): the
"noise" of every synthesis layer is the encoder feature map of that resolution, so the output is
deterministic.
"""
import itertools
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def make_fir_kernel(k, gain=1.0):
    """Separable FIR kernel ``outer(k, k) / sum * gain`` as a ``(K, K)`` float32 array."""
    k = np.asarray(k, dtype=np.float32)
    k = np.outer(k, k) if k.ndim == 1 else k
    return (k / k.sum() * gain).astype(np.float32)


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Upsample by zero insertion, pad, FIR-filter and downsample (StyleGAN2's ``upfirdn2d``).

    Every channel is treated alike: ``x`` ``(N, C, H, W)``; ``up`` inserts ``up - 1`` zeros after
    every sample; ``pad = (p0, p1)`` zero-pads before/after on both axes (non-negative here);
    the result is convolved (true convolution: flipped kernel) with ``kernel`` ``(K, K)`` and
    keeps every ``down``-th sample. Output size ``(H*up + p0 + p1 - K) // down + 1``.
    """
    n, c, h, w = x.shape
    if up > 1:
        zeros = paddle.zeros([n, c, h, w, up - 1], dtype=x.dtype)
        x = paddle.concat([x.unsqueeze(-1), zeros], axis=-1).reshape([n, c, h, w * up])
        zeros = paddle.zeros([n, c, h, up - 1, w * up], dtype=x.dtype)
        x = paddle.concat([x.unsqueeze(3), zeros], axis=3).reshape([n, c, h * up, w * up])
    p0, p1 = pad
    if p0 < 0 or p1 < 0:
        raise ValueError(f'upfirdn2d: negative padding {pad} is not supported')
    if p0 or p1:
        x = F.pad(x, [p0, p1, p0, p1])
    kh, kw = kernel.shape
    weight = paddle.flip(kernel, [0, 1]).reshape([1, 1, kh, kw]).expand([c, 1, kh, kw])
    return F.conv2d(x, weight, stride=down, groups=c)


class Blur(nn.Layer):
    """FIR low-pass filter ``upfirdn2d(x, kernel, pad=pad)``; the kernel is a non-persistent
    buffer (not in checkpoints). ``upsample_factor`` scales the kernel by ``factor**2`` (it
    follows a stride-2 transposed convolution)."""

    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__()
        self.register_buffer('kernel', paddle.to_tensor(
            make_fir_kernel(kernel, gain=upsample_factor ** 2)), persistable=False)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Layer):
    """2x FIR upsampling of the RGB skip; its kernel is a persistent buffer (``upsample.kernel``
    is in PaddleGAN's checkpoints)."""

    def __init__(self, kernel, factor=2):
        super().__init__()
        self.factor = factor
        self.register_buffer('kernel', paddle.to_tensor(make_fir_kernel(kernel, factor ** 2)),
                             persistable=True)
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


def fused_leaky_relu(x, bias, negative_slope=0.2, scale=math.sqrt(2.0)):
    """``LeakyReLU(x + bias[c]) * sqrt(2)`` over channel axis 1."""
    shape = [1, bias.shape[0]] + [1] * (x.ndim - 2)
    return F.leaky_relu(x + bias.reshape(shape), negative_slope) * scale


class FusedLeakyReLU(nn.Layer):
    """Bias + LeakyReLU(0.2) + gain sqrt(2); parameter ``bias`` ``(C,)``."""

    def __init__(self, channels):
        super().__init__()
        self.bias = self.create_parameter([channels],
                                          default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


class EqualConv2D(nn.Layer):
    """Convolution with equalised learning rate: ``conv(x, weight / sqrt(fan_in))``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = self.create_parameter([out_channels, in_channels, kernel_size, kernel_size],
                                            default_initializer=nn.initializer.Normal())
        self.bias = self.create_parameter(
            [out_channels], default_initializer=nn.initializer.Constant(0.0)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.stride = stride
        self.padding = padding

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride,
                        padding=self.padding)


class EqualLinear(nn.Layer):
    """Linear layer with equalised learning rate, PaddleGAN layout (``weight`` ``[in, out]``).

    ``y = x @ (weight * lr_mul / sqrt(in)) + bias * lr_mul``, followed by
    :func:`fused_leaky_relu` when ``activation == 'fused_lrelu'``.
    """

    def __init__(self, in_dim, out_dim, bias_init=0.0, lr_mul=1.0, activation=None):
        super().__init__()
        self.weight = self.create_parameter([in_dim, out_dim],
                                            default_initializer=nn.initializer.Normal(
                                                0.0, 1.0 / lr_mul))
        self.bias = self.create_parameter([out_dim],
                                          default_initializer=nn.initializer.Constant(bias_init))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        if activation not in (None, 'fused_lrelu'):
            raise ValueError(f"activation must be None or 'fused_lrelu', got {activation!r}")
        self.activation = activation

    def forward(self, x):
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class ConvLayer(nn.Sequential):
    """``[Blur] -> EqualConv2D -> FusedLeakyReLU`` (StyleGAN2 discriminator block, used as
    GPEN's encoder). ``downsample`` blurs (pad so the stride-2 conv halves the size) first."""

    def __init__(self, in_channels, out_channels, kernel_size, downsample=False,
                 blur_kernel=(1, 3, 3, 1)):
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2D(in_channels, out_channels, kernel_size, stride=stride,
                                  padding=padding, bias=False))
        layers.append(FusedLeakyReLU(out_channels))
        super().__init__(*layers)


class PixelNorm(nn.Layer):
    """``x / sqrt(mean(x^2 over axis 1) + 1e-8)``."""

    def forward(self, x):
        return x * paddle.rsqrt(paddle.mean(x * x, axis=1, keepdim=True) + 1e-8)


class ModulatedConv2D(nn.Layer):
    """Modulated convolution of the original StyleGAN2 (Karras et al. 2020, Eq. 1-3).

    ``w[b] = weight / sqrt(C_in k^2) * s[b]`` with ``s = modulation(style)`` (bias init 1);
    ``demodulate`` divides each output filter by ``sqrt(sum w^2 + 1e-8)``. ``upsample`` uses a
    stride-2 transposed convolution followed by a ``[1,3,3,1]`` blur (x4 gain); otherwise a
    'same' convolution.

    ``forward(x, style)``: ``x`` ``(N, C_in, H, W)``, ``style`` ``(N, style_dim)`` ->
    ``(N, C_out, H', W')`` with ``H' = 2H`` when upsampling.
    """

    def __init__(self, in_channels, out_channels, kernel_size, style_dim, demodulate=True,
                 upsample=False, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.upsample = upsample
        self.demodulate = demodulate
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1),
                             upsample_factor=factor)
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = self.create_parameter(
            [1, out_channels, in_channels, kernel_size, kernel_size],
            default_initializer=nn.initializer.Normal())
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)

    def modulated_weight(self, style):
        """Per-sample weights ``(N, C_out, C_in, k, k)`` for ``style`` ``(N, style_dim)``."""
        b = style.shape[0]
        s = self.modulation(style).reshape([b, 1, self.in_channels, 1, 1])
        weight = self.scale * self.weight * s
        if self.demodulate:
            demod = paddle.rsqrt((weight * weight).sum(axis=[2, 3, 4]) + 1e-8)
            weight = weight * demod.reshape([b, self.out_channels, 1, 1, 1])
        return weight

    def forward(self, x, style):
        b, c, h, w = x.shape
        k = self.kernel_size
        weight = self.modulated_weight(style)
        x = x.reshape([1, b * c, h, w])
        if self.upsample:
            # conv2d_transpose weights are (C_in, C_out / groups, k, k)
            weight = weight.transpose([0, 2, 1, 3, 4]).reshape([b * c, self.out_channels, k, k])
            out = F.conv2d_transpose(x, weight, stride=2, padding=0, groups=b)
            out = out.reshape([b, self.out_channels, out.shape[2], out.shape[3]])
            return self.blur(out)
        weight = weight.reshape([b * self.out_channels, c, k, k])
        out = F.conv2d(x, weight, padding=self.padding, groups=b)
        return out.reshape([b, self.out_channels, out.shape[2], out.shape[3]])


class NoiseInjection(nn.Layer):
    """``concat([x, weight * noise], axis=1)`` (GPEN, ``is_concat``) or ``x + weight * noise``;
    ``noise=None`` draws ``(N, 1, H, W)`` Gaussian noise."""

    def __init__(self, is_concat=True):
        super().__init__()
        self.weight = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))
        self.is_concat = is_concat

    def forward(self, x, noise=None):
        if noise is None:
            noise = paddle.randn([x.shape[0], 1, x.shape[2], x.shape[3]], dtype=x.dtype)
        if self.is_concat:
            return paddle.concat([x, self.weight * noise], axis=1)
        return x + self.weight * noise


class ConstantInput(nn.Layer):
    """Learnt ``(1, C, 4, 4)`` input (parameter ``input``), repeated over the batch."""

    def __init__(self, channels, size=4):
        super().__init__()
        self.input = self.create_parameter([1, channels, size, size],
                                           default_initializer=nn.initializer.Normal())

    def forward(self, batch):
        return self.input.expand([batch] + self.input.shape[1:])


class StyledConv(nn.Layer):
    """Modulated conv -> noise injection -> FusedLeakyReLU (on ``2 * C_out`` channels when the
    noise is concatenated)."""

    def __init__(self, in_channels, out_channels, kernel_size, style_dim, upsample=False,
                 blur_kernel=(1, 3, 3, 1), is_concat=True):
        super().__init__()
        self.conv = ModulatedConv2D(in_channels, out_channels, kernel_size, style_dim,
                                    upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection(is_concat=is_concat)
        self.activate = FusedLeakyReLU(out_channels * 2 if is_concat else out_channels)

    def forward(self, x, style, noise=None):
        return self.activate(self.noise(self.conv(x, style), noise=noise))


class ToRGB(nn.Layer):
    """1x1 modulated conv (no demodulation) + ``bias`` ``(1, 3, 1, 1)``, plus the FIR-upsampled
    previous RGB ``skip``."""

    def __init__(self, in_channels, style_dim, upsample=True, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.bias = self.create_parameter([1, 3, 1, 1],
                                          default_initializer=nn.initializer.Constant(0.0))
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2D(in_channels, 3, 1, style_dim, demodulate=False)

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


def gpen_channels(channel_multiplier=2, narrow=1):
    """Channels per resolution (StyleGAN2's table, scaled by ``narrow``)."""
    return {4: int(512 * narrow), 8: int(512 * narrow), 16: int(512 * narrow),
            32: int(512 * narrow), 64: int(256 * channel_multiplier * narrow),
            128: int(128 * channel_multiplier * narrow), 256: int(64 * channel_multiplier * narrow),
            512: int(32 * channel_multiplier * narrow), 1024: int(16 * channel_multiplier * narrow),
            2048: int(8 * channel_multiplier * narrow)}


class StyleGANv2Generator(nn.Layer):
    """StyleGAN2 synthesis network with concatenated noise, as in GPEN (PaddleGAN names).

    ``style`` = PixelNorm + ``n_mlp`` EqualLinear(lr_mul) layers; ``noises.noise_i`` buffers
    exist for layout compatibility only (GPEN always passes its encoder features as noise, and
    ``GPEN-512.pdparams`` does not contain them).
    """

    def __init__(self, size, style_dim, n_mlp, channel_multiplier=2, narrow=1,
                 blur_kernel=(1, 3, 3, 1), lr_mlp=0.01, is_concat=True):
        super().__init__()
        self.size = size
        self.style_dim = style_dim
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation='fused_lrelu')
            for _ in range(n_mlp)])
        channels = gpen_channels(channel_multiplier, narrow)
        mult = 2 if is_concat else 1
        self.input = ConstantInput(channels[4])
        self.conv1 = StyledConv(channels[4], channels[4], 3, style_dim, blur_kernel=blur_kernel,
                                is_concat=is_concat)
        self.to_rgb1 = ToRGB(channels[4] * mult, style_dim, upsample=False)
        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2

        self.convs = nn.LayerList()
        self.to_rgbs = nn.LayerList()
        self.noises = nn.Layer()
        for layer_idx in range(self.num_layers):
            res = 2 ** ((layer_idx + 5) // 2)
            self.noises.register_buffer(f'noise_{layer_idx}', paddle.zeros([1, 1, res, res]),
                                        persistable=True)
        in_channels = channels[4]
        for i in range(3, self.log_size + 1):
            out_channels = channels[2 ** i]
            self.convs.append(StyledConv(in_channels * mult, out_channels, 3, style_dim,
                                         upsample=True, blur_kernel=blur_kernel,
                                         is_concat=is_concat))
            self.convs.append(StyledConv(out_channels * mult, out_channels, 3, style_dim,
                                         blur_kernel=blur_kernel, is_concat=is_concat))
            self.to_rgbs.append(ToRGB(out_channels * mult, style_dim, blur_kernel=blur_kernel))
            in_channels = out_channels

    def forward(self, style, noise):
        """``style`` ``(N, style_dim)`` (Z space: the mapping MLP is applied), ``noise`` a list of
        ``num_layers`` maps, ``noise[0]`` at 4 px, then two per resolution 8..size ->
        ``(N, 3, size, size)``."""
        w = self.style(style)
        latent = w.unsqueeze(1).expand([w.shape[0], self.n_latent, w.shape[1]])
        out = self.conv1(self.input(w.shape[0]), latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(self.convs[::2], self.convs[1::2],
                                                        noise[1::2], noise[2::2], self.to_rgbs):
            out = conv1(out, latent[:, i], noise=noise1)
            out = conv2(out, latent[:, i + 1], noise=noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip


class GPEN(nn.Layer):
    """GPEN face restoration network (PaddleGAN ``GPEN``; 512 px model: ``size=512,
    style_dim=512, n_mlp=8``).

    The encoder ``ecd0..ecd{log2(size)-2}`` (1x1 conv, then stride-2 blur-convs down to 4x4)
    maps the face to ``final_linear`` -> a style code in Z, and each encoder feature map is
    injected (concatenated) as the noise of the synthesis layers of the same resolution.

    ``forward(x)``: ``x`` ``(N, 3, size, size)`` RGB in ``[-1, 1]`` -> ``(N, 3, size, size)``
    roughly in ``[-1, 1]`` (not clamped). Raises ``ValueError`` for another input shape.
    """

    def __init__(self, size=512, style_dim=512, n_mlp=8, channel_multiplier=2, narrow=1,
                 blur_kernel=(1, 3, 3, 1), lr_mlp=0.01, is_concat=True):
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f'size must be a power of 2 >= 8, got {size}')
        self.size = size
        channels = gpen_channels(channel_multiplier, narrow)
        self.log_size = int(math.log2(size))
        self.generator = StyleGANv2Generator(size, style_dim, n_mlp, channel_multiplier, narrow,
                                             blur_kernel, lr_mlp, is_concat)
        self.ecd0 = nn.Sequential(ConvLayer(3, channels[size], 1))
        in_channels = channels[size]
        self.names = [f'ecd{i}' for i in range(self.log_size - 1)]
        for i in range(self.log_size, 2, -1):
            out_channels = channels[2 ** (i - 1)]
            setattr(self, self.names[self.log_size - i + 1], nn.Sequential(
                ConvLayer(in_channels, out_channels, 3, downsample=True,
                          blur_kernel=blur_kernel)))
            in_channels = out_channels
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 4 * 4, style_dim,
                                                      activation='fused_lrelu'))

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != self.size or x.shape[3] != self.size:
            raise ValueError(f'GPEN expects (N, 3, {self.size}, {self.size}) RGB in [-1, 1], '
                             f'got shape {list(x.shape)}')
        feats = []
        for name in self.names:
            x = getattr(self, name)(x)
            feats.append(x)
        style = self.final_linear(x.flatten(1))
        # coarse to fine, each resolution twice, minus one at 4x4 (one layer there)
        noise = list(itertools.chain.from_iterable((f, f) for f in feats))[::-1][1:]
        return self.generator(style, noise)
