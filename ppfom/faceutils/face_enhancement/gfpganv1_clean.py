"""GFPGANv1Clean: the GFPGAN v1.3 / v1.4 face restoration network, and its weight converter.

Source: Wang et al., "Towards Real-World Blind Face Restoration with Generative Facial Prior",
CVPR 2021 (Sec. 3: degradation-removal U-Net, latent codes, channel-split SFT); reference
implementation GFPGAN 1.3.8 ``gfpgan/archs/gfpganv1_clean_arch.py``. The official inference
(``GFPGANer(arch='clean', channel_multiplier=2)``) builds exactly
``GFPGANv1Clean(out_size=512, channel_multiplier=2, sft_half=True)`` (the defaults here) and loads
``params_ema`` of ``GFPGANv1.3.pth`` / ``GFPGANv1.4.pth`` into it.

Paddle parameter names equal the official ``params_ema`` keys one for one; the only layout change
is that 2-D linear weights (``final_linear``, ``*.modulation``, ``style_mlp.*``) are stored
transposed (``[in, out]``), see :func:`gfpgan_torch_to_paddle`.
"""
import math

import numpy as np
import paddle.nn as nn
import paddle.nn.functional as F

from .stylegan2_clean import StyleGAN2GeneratorCSFT, resize2x


class ResBlock(nn.Layer):
    """Residual block with bilinear resampling: ``lrelu(conv2(resize(lrelu(conv1(x)))))`` plus
    ``skip(resize(x))`` (1x1, no bias). ``mode`` 'down' halves, 'up' doubles the size."""

    def __init__(self, in_channels, out_channels, mode='down'):
        super().__init__()
        self.conv1 = nn.Conv2D(in_channels, in_channels, 3, padding=1)
        self.conv2 = nn.Conv2D(in_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2D(in_channels, out_channels, 1, bias_attr=False)
        if mode not in ('down', 'up'):
            raise ValueError(f"ResBlock mode must be 'down' or 'up', got {mode!r}")
        self.scale_factor = 0.5 if mode == 'down' else 2

    def forward(self, x):
        out = F.leaky_relu(self.conv1(x), 0.2)
        out = resize2x(out, self.scale_factor)
        out = F.leaky_relu(self.conv2(out), 0.2)
        return out + self.skip(resize2x(x, self.scale_factor))


def _sft_branch(channels, out_channels):
    return nn.Sequential(nn.Conv2D(channels, channels, 3, padding=1), nn.LeakyReLU(0.2),
                         nn.Conv2D(channels, out_channels, 3, padding=1))


class GFPGANv1Clean(nn.Layer):
    """GFPGAN v1.3/v1.4: a U-Net encoder-decoder whose features steer a StyleGAN2 prior.

    The U-Net (half the StyleGAN2 width) encodes the degraded face down to 4x4; ``final_linear``
    maps the 4x4 features to one W+ code per synthesis layer (``different_w``); on the way back up
    each level predicts an SFT ``scale`` and ``shift`` that modulate the second half of the
    channels of the StyleGAN2 decoder at that resolution (``sft_half``).

    Args:
        out_size: input and output resolution (512).
        num_style_feat: style code width (512).
        channel_multiplier, narrow: StyleGAN2 width table (2, 1).
        num_mlp: mapping-MLP depth (8; its weights are in the checkpoint but unused because
            ``input_is_latent``).
        input_is_latent, different_w, sft_half: as the official model (all True); only these
            values are supported.

    ``forward(x, return_rgb=False, randomize_noise=True)``: ``x`` ``(N, 3, S, S)`` RGB in
    ``[-1, 1]`` -> ``(image, out_rgbs)``; ``image`` ``(N, 3, S, S)`` roughly in ``[-1, 1]``, not
    clamped (clamp before display); ``out_rgbs`` the U-Net's RGB images at 8..S px (empty unless
    ``return_rgb``). Raises ``ValueError`` for an input that is not ``(N, 3, S, S)``.
    """

    def __init__(self, out_size=512, num_style_feat=512, channel_multiplier=2, num_mlp=8,
                 narrow=1, input_is_latent=True, different_w=True, sft_half=True):
        super().__init__()
        if not (input_is_latent and different_w and sft_half):
            raise ValueError('only the GFPGAN v1.3/v1.4 configuration (input_is_latent, '
                             'different_w and sft_half all True) is implemented')
        if out_size < 8 or out_size & (out_size - 1):
            raise ValueError(f'out_size must be a power of 2 >= 8, got {out_size}')
        self.out_size = out_size
        self.num_style_feat = num_style_feat
        self.input_is_latent = input_is_latent
        unet_narrow = narrow * 0.5
        channels = {4: int(512 * unet_narrow), 8: int(512 * unet_narrow),
                    16: int(512 * unet_narrow), 32: int(512 * unet_narrow),
                    64: int(256 * channel_multiplier * unet_narrow),
                    128: int(128 * channel_multiplier * unet_narrow),
                    256: int(64 * channel_multiplier * unet_narrow),
                    512: int(32 * channel_multiplier * unet_narrow),
                    1024: int(16 * channel_multiplier * unet_narrow)}
        self.log_size = int(math.log2(out_size))

        self.conv_body_first = nn.Conv2D(3, channels[out_size], 1)
        self.conv_body_down = nn.LayerList()
        in_channels = channels[out_size]
        for i in range(self.log_size, 2, -1):
            out_channels = channels[2 ** (i - 1)]
            self.conv_body_down.append(ResBlock(in_channels, out_channels, mode='down'))
            in_channels = out_channels
        self.final_conv = nn.Conv2D(in_channels, channels[4], 3, padding=1)

        self.conv_body_up = nn.LayerList()
        in_channels = channels[4]
        for i in range(3, self.log_size + 1):
            out_channels = channels[2 ** i]
            self.conv_body_up.append(ResBlock(in_channels, out_channels, mode='up'))
            in_channels = out_channels
        self.toRGB = nn.LayerList([nn.Conv2D(channels[2 ** i], 3, 1)
                                   for i in range(3, self.log_size + 1)])
        self.num_latent = self.log_size * 2 - 2
        self.final_linear = nn.Linear(channels[4] * 4 * 4, self.num_latent * num_style_feat)

        self.stylegan_decoder = StyleGAN2GeneratorCSFT(
            out_size=out_size, num_style_feat=num_style_feat, num_mlp=num_mlp,
            channel_multiplier=channel_multiplier, narrow=narrow, sft_half=sft_half)

        self.condition_scale = nn.LayerList()
        self.condition_shift = nn.LayerList()
        for i in range(3, self.log_size + 1):
            c = channels[2 ** i]  # with sft_half the SFT maps have the U-Net width
            self.condition_scale.append(_sft_branch(c, c))
            self.condition_shift.append(_sft_branch(c, c))

    def encode(self, x, return_rgb=False):
        """Run the U-Net.

        ``x`` ``(N, 3, S, S)`` in ``[-1, 1]`` -> ``(style_code, conditions, out_rgbs)``:
        ``style_code`` ``(N, num_latent * num_style_feat)`` (the ``final_linear`` output),
        ``conditions`` ``[scale0, shift0, scale1, ...]`` (level ``j`` at ``8 * 2**j`` px),
        ``out_rgbs`` ``[(N, 3, 8, 8), ..., (N, 3, S, S)]`` when ``return_rgb`` else ``[]``.
        """
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != self.out_size \
                or x.shape[3] != self.out_size:
            raise ValueError(f'GFPGAN expects (N, 3, {self.out_size}, {self.out_size}) RGB in '
                             f'[-1, 1], got shape {list(x.shape)}')
        feat = F.leaky_relu(self.conv_body_first(x), 0.2)
        unet_skips = []
        for block in self.conv_body_down:
            feat = block(feat)
            unet_skips.insert(0, feat)  # deepest first
        feat = F.leaky_relu(self.final_conv(feat), 0.2)
        style_code = self.final_linear(feat.flatten(1))

        conditions, out_rgbs = [], []
        for i, block in enumerate(self.conv_body_up):
            feat = block(feat + unet_skips[i])
            conditions.append(self.condition_scale[i](feat))
            conditions.append(self.condition_shift[i](feat))
            if return_rgb:
                out_rgbs.append(self.toRGB[i](feat))
        return style_code, conditions, out_rgbs

    def decode(self, style_code, conditions, randomize_noise=True):
        """StyleGAN2 synthesis from ``encode``'s outputs -> ``(N, 3, S, S)`` image."""
        latent = style_code.reshape([style_code.shape[0], self.num_latent, self.num_style_feat])
        return self.stylegan_decoder(latent, conditions, input_is_latent=self.input_is_latent,
                                     randomize_noise=randomize_noise)

    def forward(self, x, return_rgb=False, randomize_noise=True):
        style_code, conditions, out_rgbs = self.encode(x, return_rgb=return_rgb)
        return self.decode(style_code, conditions, randomize_noise=randomize_noise), out_rgbs


def _is_linear_weight(key, value):
    return key.endswith('.weight') and np.ndim(value) == 2


def gfpgan_torch_to_paddle(state):
    """Convert an official GFPGANv1Clean PyTorch state dict to :class:`GFPGANv1Clean`'s layout.

    Args:
        state: mapping of torch names to arrays (numpy or anything ``np.asarray`` takes): either
            the ``params_ema`` dict itself or the whole checkpoint ``{'params_ema': ...}``
            (``params_ema`` is what the official inference loads; ``params`` is used only when
            there is no ``params_ema``).
    Returns:
        a new dict with the same keys; float32 numpy arrays; 2-D linear weights transposed from
        torch's ``[out, in]`` to Paddle's ``[in, out]``; everything else unchanged (conv weights
        share the OIHW layout).
    Raises:
        ValueError: the dict is an original-architecture GFPGANv1 (``GFPGANv1.pth``, PaddleGAN's
            ``GFPGAN.pdparams``) or not a GFPGAN state dict at all.
    """
    if isinstance(state, dict) and isinstance(state.get('params_ema'), dict):
        state = state['params_ema']
    elif isinstance(state, dict) and isinstance(state.get('params'), dict):
        state = state['params']
    if not isinstance(state, dict):
        raise ValueError(f'not a GFPGAN state dict: a {type(state).__name__}, not a dict')
    if 'conv_body_first.0.weight' in state:
        raise ValueError('this is the original GFPGANv1 architecture (GFPGANv1.pth or PaddleGAN '
                         'GFPGAN.pdparams), not GFPGANv1Clean: use GFPGANv1.3.pth or '
                         'GFPGANv1.4.pth')
    if 'final_linear.weight' not in state or 'stylegan_decoder.to_rgb1.bias' not in state:
        found = ', '.join(sorted(map(str, state))[:5])
        raise ValueError(f'not a GFPGANv1Clean state dict (found keys {found}, ...); expected the '
                         'params_ema of GFPGANv1.3.pth or GFPGANv1.4.pth')
    out = {}
    for key, value in state.items():
        value = np.asarray(value, dtype=np.float32)
        if _is_linear_weight(key, value):
            value = np.ascontiguousarray(value.T)
        out[key] = value
    return out
