"""Multi-scale patch discriminator of FOMM (original ``modules/discriminator.py``; pix2pix-like)."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.nn.utils import spectral_norm

from ...modules.first_order import kp2gaussian
from ...utils.registry import DISCRIMINATORS


class DownBlock2d(nn.Layer):
    """4x4 conv (no padding), optional instance norm, LeakyReLU(0.2), optional 2x2 average pool."""

    def __init__(self, in_features, out_features, norm=False, kernel_size=4, pool=False, sn=False):
        super().__init__()
        self.conv = nn.Conv2D(in_features, out_features, kernel_size)
        if sn:
            self.conv = spectral_norm(self.conv)
        self.norm = nn.InstanceNorm2D(out_features) if norm else None
        self.pool = pool

    def forward(self, x):
        out = self.conv(x)
        if self.norm is not None:
            out = self.norm(out)
        out = F.leaky_relu(out, 0.2)
        if self.pool:
            out = F.avg_pool2d(out, 2)
        return out


class Discriminator(nn.Layer):
    """One patch discriminator.

    Args:
        num_channels: image channels. block_expansion, max_features, num_blocks: widths/depth.
        sn: spectral normalisation on every conv. use_kp: also feed the keypoint heatmaps
            (``num_kp`` channels, Gaussian of variance ``kp_variance``).

    ``forward(x, kp=None)``: ``x`` ``(N, C, H, W)`` -> ``(feature_maps, prediction_map)``: the list
    of the ``num_blocks`` block outputs and the ``(N, 1, h, w)`` realness map (LSGAN: 1 = real).
    """

    def __init__(self, num_channels=3, block_expansion=64, num_blocks=4, max_features=512,
                 sn=False, use_kp=False, num_kp=10, kp_variance=0.01, **kwargs):
        super().__init__()
        blocks = []
        for i in range(num_blocks):
            in_f = num_channels + num_kp * use_kp if i == 0 \
                else min(max_features, block_expansion * 2 ** i)
            blocks.append(DownBlock2d(in_f, min(max_features, block_expansion * 2 ** (i + 1)),
                                      norm=i != 0, kernel_size=4, pool=i != num_blocks - 1, sn=sn))
        self.down_blocks = nn.LayerList(blocks)
        self.conv = nn.Conv2D(min(max_features, block_expansion * 2 ** num_blocks), 1, 1)
        if sn:
            self.conv = spectral_norm(self.conv)
        self.use_kp = use_kp
        self.kp_variance = kp_variance

    def forward(self, x, kp=None):
        out = x
        if self.use_kp:
            out = paddle.concat([out, kp2gaussian(kp, x.shape[2:], self.kp_variance)], axis=1)
        feature_maps = []
        for block in self.down_blocks:
            out = block(out)
            feature_maps.append(out)
        return feature_maps, self.conv(out)


@DISCRIMINATORS.register()
class FirstOrderDiscriminator(nn.Layer):
    """Multi-scale discriminator: one :class:`Discriminator` per pyramid scale.

    Args:
        scales: e.g. ``[1]`` or ``[1, 0.5]``; the input pyramid must have ``prediction_<scale>``.
        **kwargs: :class:`Discriminator` arguments (``block_expansion``, ``num_blocks``,
            ``max_features``, ``sn``, ``use_kp``, ``num_kp``, ``num_channels``, ...).

    ``forward(pyramid, kp=None)`` -> ``{'feature_maps_<scale>': [...], 'prediction_map_<scale>':
    (N, 1, h, w)}``.
    """

    def __init__(self, scales=(1,), **kwargs):
        super().__init__()
        self.scales = list(scales)
        self.discs = nn.LayerDict({str(s).replace('.', '-'): Discriminator(**kwargs)
                                   for s in self.scales})

    def forward(self, pyramid, kp=None):
        out = {}
        for name, disc in self.discs.items():
            scale = name.replace('-', '.')
            feature_maps, prediction_map = disc(pyramid['prediction_' + scale], kp)
            out['feature_maps_' + scale] = feature_maps
            out['prediction_map_' + scale] = prediction_map
        return out
