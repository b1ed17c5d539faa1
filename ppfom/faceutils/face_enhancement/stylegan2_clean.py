"""StyleGAN2 generator, 'clean' variant (no custom CUDA ops), as used by GFPGAN v1.3 / v1.4.

Source: GFPGAN 1.3.8 ``gfpgan/archs/stylegan2_clean_arch.py`` (``StyleGAN2GeneratorClean``) and
``gfpganv1_clean_arch.py`` (``StyleGAN2GeneratorCSFT``); Karras et al., "Analyzing and Improving
the Image Quality of StyleGAN", CVPR 2020, Sec. 2.2 (weight demodulation).

The 'clean' variant differs from the original StyleGAN2: weights are scaled at init instead of at
run time, every resampling is ``bilinear`` with ``align_corners=False`` (no FIR blur), and the
activation is a plain LeakyReLU(0.2) after ``x * sqrt(2)``, noise and bias.

A port of upstream code: the lines it shares with ``gpen.py`` (rosinality's original StyleGAN2)
are the two upstreams' own. Parameter names equal the PyTorch ones (``style_convs.0.modulated_conv.weight`` ...); only the
2-D linear weights are stored transposed (Paddle's ``[in, out]``).
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def resize2x(x, scale):
    """Bilinear resize by ``scale`` (2 or 0.5), half-pixel centres (torch ``align_corners=False``).

    ``x`` ``(N, C, H, W)`` -> ``(N, C, H*scale, W*scale)``; downsampling by 0.5 equals a 2x2 mean.
    """
    return F.interpolate(x, scale_factor=scale, mode='bilinear', align_corners=False,
                         align_mode=0)


class NormStyleCode(nn.Layer):
    """``x / sqrt(mean(x^2) + 1e-8)`` over the style dimension of ``(N, D)`` codes."""

    def forward(self, x):
        return x * paddle.rsqrt(paddle.mean(x * x, axis=1, keepdim=True) + 1e-8)


class ModulatedConv2d(nn.Layer):
    """Style-modulated convolution (StyleGAN2 Eq. 1-3), one weight per sample.

    ``w'[b] = weight * s[b]`` over input channels, ``s = modulation(style)``; with ``demodulate``,
    ``w''[b, o] = w'[b, o] / sqrt(sum_{i,kh,kw} w'[b, o]^2 + eps)``. ``sample_mode`` 'upsample'
    resizes the input bilinearly by 2 *before* the convolution (zero padding ``k // 2``).

    ``forward(x, style)``: ``x`` ``(N, C_in, H, W)``, ``style`` ``(N, num_style_feat)`` ->
    ``(N, C_out, H', W')``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, num_style_feat, demodulate=True,
                 sample_mode=None, eps=1e-8):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.sample_mode = sample_mode
        self.eps = eps
        self.modulation = nn.Linear(num_style_feat, in_channels)
        std = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.weight = self.create_parameter(
            [1, out_channels, in_channels, kernel_size, kernel_size],
            default_initializer=nn.initializer.Normal(0.0, std))
        self.padding = kernel_size // 2

    def forward(self, x, style):
        b, c, h, w = x.shape
        style = self.modulation(style).reshape([b, 1, c, 1, 1])
        weight = self.weight * style  # (b, out, in, k, k)
        if self.demodulate:
            demod = paddle.rsqrt((weight * weight).sum(axis=[2, 3, 4]) + self.eps)
            weight = weight * demod.reshape([b, self.out_channels, 1, 1, 1])
        weight = weight.reshape([b * self.out_channels, c, self.kernel_size, self.kernel_size])
        if self.sample_mode == 'upsample':
            x = resize2x(x, 2)
        elif self.sample_mode == 'downsample':
            x = resize2x(x, 0.5)
        h, w = x.shape[2:]
        out = F.conv2d(x.reshape([1, b * c, h, w]), weight, padding=self.padding, groups=b)
        return out.reshape([b, self.out_channels, out.shape[2], out.shape[3]])


class StyleConv(nn.Layer):
    """Modulated conv, then ``* sqrt(2)``, ``+ weight * noise`` (noise ``(N or 1, 1, H, W)``, one
    learnt scalar ``weight``), ``+ bias`` ``(1, C, 1, 1)`` and LeakyReLU(0.2).

    ``forward(x, style, noise=None)``: ``noise=None`` draws fresh Gaussian noise.
    """

    def __init__(self, in_channels, out_channels, kernel_size, num_style_feat, demodulate=True,
                 sample_mode=None):
        super().__init__()
        self.modulated_conv = ModulatedConv2d(in_channels, out_channels, kernel_size,
                                              num_style_feat, demodulate=demodulate,
                                              sample_mode=sample_mode)
        self.weight = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))
        self.bias = self.create_parameter([1, out_channels, 1, 1],
                                          default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x, style, noise=None):
        out = self.modulated_conv(x, style) * math.sqrt(2.0)
        if noise is None:
            b, _, h, w = out.shape
            noise = paddle.randn([b, 1, h, w], dtype=out.dtype)
        out = out + self.weight * noise
        out = out + self.bias
        return F.leaky_relu(out, 0.2)


class ToRGB(nn.Layer):
    """1x1 modulated conv to RGB (no demodulation) + bias; adds the bilinearly 2x-upsampled
    ``skip`` image of the previous level when given.

    ``forward(x, style, skip=None)``: ``x`` ``(N, C, H, W)`` -> ``(N, 3, H, W)``.
    """

    def __init__(self, in_channels, num_style_feat, upsample=True):
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(in_channels, 3, 1, num_style_feat,
                                              demodulate=False)
        self.bias = self.create_parameter([1, 3, 1, 1],
                                          default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x, style, skip=None):
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            if self.upsample:
                skip = resize2x(skip, 2)
            out = out + skip
        return out


class ConstantInput(nn.Layer):
    """The learnt ``(1, C, size, size)`` input of the synthesis network, repeated over the batch."""

    def __init__(self, num_channel, size):
        super().__init__()
        self.weight = self.create_parameter([1, num_channel, size, size],
                                            default_initializer=nn.initializer.Normal())

    def forward(self, batch):
        return self.weight.expand([batch] + self.weight.shape[1:])


def stylegan2_channels(channel_multiplier, narrow):
    """Channels per resolution of the StyleGAN2 synthesis network (GFPGAN's table)."""
    return {4: int(512 * narrow), 8: int(512 * narrow), 16: int(512 * narrow),
            32: int(512 * narrow), 64: int(256 * channel_multiplier * narrow),
            128: int(128 * channel_multiplier * narrow), 256: int(64 * channel_multiplier * narrow),
            512: int(32 * channel_multiplier * narrow),
            1024: int(16 * channel_multiplier * narrow)}


class StyleGAN2GeneratorCSFT(nn.Layer):
    """StyleGAN2 'clean' synthesis network with spatial feature transforms (SFT) from GFPGAN.

    Args:
        out_size: output resolution (a power of 2; 512 for GFPGAN v1.3/v1.4).
        num_style_feat: style code width (512).
        num_mlp: layers of the mapping MLP ``style_mlp`` (8; not used when the input is latent).
        channel_multiplier, narrow: width table (2 and 1 for v1.3/v1.4).
        sft_half: modulate only the second half of the channels (True for v1.3/v1.4).

    Buffers ``noises.noise0..`` ``(1, 1, R, R)`` hold the fixed noise used when
    ``randomize_noise=False``; they are part of the official checkpoints.
    """

    def __init__(self, out_size, num_style_feat=512, num_mlp=8, channel_multiplier=2, narrow=1,
                 sft_half=False):
        super().__init__()
        self.num_style_feat = num_style_feat
        self.sft_half = sft_half
        mlp = [NormStyleCode()]
        for _ in range(num_mlp):
            mlp += [nn.Linear(num_style_feat, num_style_feat), nn.LeakyReLU(0.2)]
        self.style_mlp = nn.Sequential(*mlp)

        channels = stylegan2_channels(channel_multiplier, narrow)
        self.constant_input = ConstantInput(channels[4], size=4)
        self.style_conv1 = StyleConv(channels[4], channels[4], 3, num_style_feat)
        self.to_rgb1 = ToRGB(channels[4], num_style_feat, upsample=False)

        self.log_size = int(math.log2(out_size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.num_latent = self.log_size * 2 - 2

        self.style_convs = nn.LayerList()
        self.to_rgbs = nn.LayerList()
        self.noises = nn.Layer()
        in_channels = channels[4]
        for layer_idx in range(self.num_layers):
            res = 2 ** ((layer_idx + 5) // 2)
            self.noises.register_buffer(f'noise{layer_idx}', paddle.zeros([1, 1, res, res]),
                                        persistable=True)
        for i in range(3, self.log_size + 1):
            out_channels = channels[2 ** i]
            self.style_convs.append(StyleConv(in_channels, out_channels, 3, num_style_feat,
                                              sample_mode='upsample'))
            self.style_convs.append(StyleConv(out_channels, out_channels, 3, num_style_feat))
            self.to_rgbs.append(ToRGB(out_channels, num_style_feat, upsample=True))
            in_channels = out_channels

    def forward(self, styles, conditions, input_is_latent=False, randomize_noise=True):
        """Synthesise an image.

        Args:
            styles: ``(N, num_latent, num_style_feat)`` W+ codes (or ``(N, num_style_feat)``,
                repeated to every layer).
            conditions: ``[scale0, shift0, scale1, shift1, ...]``, level ``j`` at 8*2^j px; with
                ``sft_half`` each has half the channels of that level.
            input_is_latent: the codes are already in W (skip ``style_mlp``).
            randomize_noise: fresh noise per call (the official inference default), else the
                stored ``noises`` buffers (deterministic).
        Returns:
            ``(N, 3, out_size, out_size)`` image, roughly in ``[-1, 1]`` (not clamped).
        """
        if not input_is_latent:
            styles = self.style_mlp(styles) if styles.ndim == 2 else \
                self.style_mlp(styles.reshape([-1, styles.shape[-1]])).reshape(styles.shape)
        latent = styles if styles.ndim == 3 else \
            styles.unsqueeze(1).expand([styles.shape[0], self.num_latent, styles.shape[1]])
        if randomize_noise:
            noise = [None] * self.num_layers
        else:
            noise = [getattr(self.noises, f'noise{i}') for i in range(self.num_layers)]

        out = self.constant_input(latent.shape[0])
        out = self.style_conv1(out, latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(self.style_convs[::2],
                                                        self.style_convs[1::2],
                                                        noise[1::2], noise[2::2], self.to_rgbs):
            out = conv1(out, latent[:, i], noise=noise1)
            if i < len(conditions):  # SFT after the upsampling conv of each level
                if self.sft_half:
                    out_same, out_sft = paddle.split(out, 2, axis=1)
                    out_sft = out_sft * conditions[i - 1] + conditions[i]
                    out = paddle.concat([out_same, out_sft], axis=1)
                else:
                    out = out * conditions[i - 1] + conditions[i]
            out = conv2(out, latent[:, i + 1], noise=noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip
