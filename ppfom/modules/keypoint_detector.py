"""Unsupervised keypoint detector (paper Sec. 3.1 and 3.3).

A port of the original ``modules/keypoint_detector.py`` (PaddleGAN:
``ppgan/modules/keypoint_detector.py``), kept in the upstream's structure; the few constructor lines it shares with the dense motion
network (the anti-aliased downsampling) are the upstream's own.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..utils.registry import KP_DETECTORS
from .first_order import AntiAliasInterpolation2d, Hourglass, conv_head, make_coordinate_grid


@KP_DETECTORS.register()
class KPDetector(nn.Layer):
    """Predicts K keypoints and the local affine transform (jacobian) around each.

    Args:
        block_expansion, max_features, num_blocks: hourglass widths and depth.
        num_kp: K. num_channels: image channels (3).
        temperature: softmax temperature of the heatmaps (0.1).
        estimate_jacobian: also predict ``jacobian`` (first-order term, Eq. 4).
        scale_factor: the image is downsampled by this factor first (0.25 for 256 models).
        single_jacobian_map: one jacobian map shared by all keypoints.
        pad: padding of the heads (0 in the published models).
        mobile_net: PaddleGAN's lightweight variant.

    ``forward(x)``: ``x`` ``(N, C, H, W)`` in ``[0, 1]`` -> dict ``value`` ``(N, K, 2)`` in
    ``[-1, 1]`` (x, y), ``jacobian`` ``(N, K, 2, 2)`` and ``heatmap`` ``(N, K, h, w)`` (softmax over
    space, sums to 1).
    """

    def __init__(self, block_expansion, num_kp, num_channels, max_features, num_blocks,
                 temperature, estimate_jacobian=False, scale_factor=1,
                 single_jacobian_map=False, pad=0, mobile_net=False):
        super().__init__()
        self.predictor = Hourglass(block_expansion, in_features=num_channels,
                                   max_features=max_features, num_blocks=num_blocks,
                                   mobile_net=mobile_net)
        features = self.predictor.out_filters
        self.kp = conv_head(features, num_kp, mobile_net, pad, pad, relu=False)
        if estimate_jacobian:
            self.num_jacobian_maps = 1 if single_jacobian_map else num_kp
            self.jacobian = conv_head(features, 4 * self.num_jacobian_maps, mobile_net, pad, pad,
                                     relu=False)
            # start at the identity transform, as the original does
            last = self.jacobian[-1] if mobile_net else self.jacobian
            convs = list(self.jacobian) if mobile_net else [self.jacobian]
            for conv in convs:
                conv.weight.set_value(paddle.zeros(conv.weight.shape, 'float32'))
            last.bias.set_value(paddle.to_tensor([1., 0., 0., 1.] * self.num_jacobian_maps,
                                                 dtype='float32'))
        else:
            self.jacobian = None
        self.temperature = temperature
        self.scale_factor = scale_factor
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor,
                                                 mobile_net=mobile_net)

    @staticmethod
    def gaussian2kp(heatmap):
        """Keypoint = expected coordinate under the heatmap: ``(N, K, h, w)`` -> ``(N, K, 2)``."""
        grid = make_coordinate_grid(heatmap.shape[2:], heatmap.dtype)
        return (heatmap.unsqueeze(-1) * grid).sum(axis=(2, 3))

    def forward(self, x):
        if self.scale_factor != 1:
            x = self.down(x)
        feature_map = self.predictor(x)
        prediction = self.kp(feature_map)
        n, k, h, w = prediction.shape
        heatmap = F.softmax(prediction.reshape([n, k, -1]) / self.temperature, axis=2)
        heatmap = heatmap.reshape([n, k, h, w])
        out = {'value': self.gaussian2kp(heatmap), 'heatmap': heatmap}
        if self.jacobian is not None:
            jacobian_map = self.jacobian(feature_map).reshape([n, self.num_jacobian_maps, 4, h, w])
            jacobian = (heatmap.unsqueeze(2) * jacobian_map).sum(axis=(3, 4))
            out['jacobian'] = jacobian.reshape([n, k, 2, 2])
        return out
