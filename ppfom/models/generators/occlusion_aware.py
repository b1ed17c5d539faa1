"""Occlusion-aware generator (paper Sec. 3.2, Fig. 2): encode the source, warp its features with
the dense motion, mask them with the occlusion map, decode."""
import functools

import cv2
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...modules.dense_motion import DenseMotionNetwork
from ...modules.first_order import (DownBlock2d, MobileDownBlock2d, MobileResBlock2d,
                                    MobileUpBlock2d, ResBlock2d, SameBlock2d, UpBlock2d,
                                    conv_head, make_coordinate_grid)
from ...utils.registry import GENERATORS

BORDER_PAD = 5  # PaddleGAN's inference-only border blend width, in feature pixels


def border_keep_mask(h, w):
    """``(h, w)`` float32: 1 inside, 0 within ``BORDER_PAD`` px of the border (PaddleGAN's
    inference-only occlusion keep mask)."""
    inside = np.zeros((h, w), np.float32)
    inside[BORDER_PAD:h - BORDER_PAD, BORDER_PAD:w - BORDER_PAD] = 1.0
    return inside


@functools.lru_cache(maxsize=8)
def border_weight(h, w):
    """``(h, w)`` float32 weight, 1 inside and smoothly 0 within ``BORDER_PAD`` px of the border
    (:func:`border_keep_mask` blurred): PaddleGAN's inference-only motion blend to identity."""
    return cv2.GaussianBlur(border_keep_mask(h, w), (9, 9), 0.0, borderType=cv2.BORDER_ISOLATED)


@GENERATORS.register()
class OcclusionAwareGenerator(nn.Layer):
    """Generator that moves the source image along the motion given by the keypoints.

    Args:
        num_channels: image channels (3). num_kp: K.
        block_expansion, max_features: widths of the Johnson-style encoder/decoder.
        num_down_blocks, num_bottleneck_blocks: depth.
        estimate_occlusion_map: use the occlusion map of Sec. 3.2.
        dense_motion_params: kwargs of :class:`DenseMotionNetwork` (no motion module if None).
        estimate_jacobian: accepted for config compatibility (the keypoints carry it).
        inference: PaddleGAN's inference-only tweak that blends the motion field to identity and
            the occlusion map to 1 near the border. Not part of the original model and off by
            default (parity with the published behaviour).
        mobile_net: PaddleGAN's lightweight variant.
        compose_deformed: ppfom's bundled model only (not in the paper, off for every published
            checkpoint): ``prediction = O * deformed + (1 - O) * decoded``, with the occlusion map
            ``O`` resized to the image, so that visible regions are the source's own pixels moved
            by the dense motion and the decoder only paints what the source does not show.
        resize_displacement: ppfom's bundled model only (off for every published checkpoint):
            where the motion field is resized to the image or feature size (``deform_input``),
            resize the displacement ``deformation - identity`` and add the identity grid of the
            new size. FOMM resizes the sampling grid itself, which with ``align_corners=False``
            zooms a no-motion warp by ``(s_new - 1) / (s_new - s_new / s_old)`` about the
            centre (63/62 for a 32 px field on a 64 px image): measured on held-out clips, that
            alone cost the bundled model an L1 of 0.010-0.015 with the driving frame equal to
            the source, as much as the whole static baseline of a calm clip.

    ``forward(source_image, kp_driving, kp_source)``: ``source_image`` ``(N, C, H, W)`` in
    ``[0, 1]``, keypoint dicts with ``value`` ``(N, K, 2)`` and ``jacobian`` ``(N, K, 2, 2)``.
    Returns a dict with ``prediction`` ``(N, C, H, W)`` in ``[0, 1]``, ``deformed`` (the source
    warped by the dense motion, ``(N, C, H, W)``), and the dense motion outputs ``mask``,
    ``sparse_deformed``, ``deformation``, ``occlusion_map``.
    """

    def __init__(self, num_channels, num_kp, block_expansion, max_features, num_down_blocks,
                 num_bottleneck_blocks, estimate_occlusion_map=False, dense_motion_params=None,
                 estimate_jacobian=False, inference=False, mobile_net=False,
                 compose_deformed=False, resize_displacement=False):
        super().__init__()
        self.dense_motion_network = None
        if dense_motion_params is not None:
            self.dense_motion_network = DenseMotionNetwork(
                num_kp=num_kp, num_channels=num_channels,
                estimate_occlusion_map=estimate_occlusion_map, mobile_net=mobile_net,
                **dense_motion_params)

        if mobile_net:
            self.first = nn.Sequential(
                SameBlock2d(num_channels, num_channels, kernel_size=3, padding=1, mobile_net=True),
                SameBlock2d(num_channels, num_channels, kernel_size=3, padding=1, mobile_net=True),
                SameBlock2d(num_channels, block_expansion, kernel_size=3, padding=1,
                            mobile_net=True))
        else:
            self.first = SameBlock2d(num_channels, block_expansion, kernel_size=(7, 7),
                                     padding=(3, 3))

        def width(i):
            return min(max_features, block_expansion * 2 ** i)

        down, up, res = ((MobileDownBlock2d, MobileUpBlock2d, MobileResBlock2d) if mobile_net
                         else (DownBlock2d, UpBlock2d, ResBlock2d))
        self.down_blocks = nn.LayerList([
            down(width(i), width(i + 1), kernel_size=(3, 3), padding=(1, 1))
            for i in range(num_down_blocks)])
        self.up_blocks = nn.LayerList([
            up(width(num_down_blocks - i), width(num_down_blocks - i - 1), kernel_size=(3, 3),
               padding=(1, 1))
            for i in range(num_down_blocks)])
        self.bottleneck = nn.Sequential()
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_sublayer('r' + str(i), res(width(num_down_blocks),
                                                           kernel_size=(3, 3), padding=(1, 1)))
        self.final = conv_head(block_expansion, num_channels, mobile_net)
        self.estimate_occlusion_map = estimate_occlusion_map
        self.num_channels = num_channels
        # PaddleGAN's and ppfom's options (see above)
        self.inference, self.mobile_net = inference, mobile_net
        self.compose_deformed, self.resize_displacement = compose_deformed, resize_displacement
        if compose_deformed and not (estimate_occlusion_map and dense_motion_params):
            raise ValueError('compose_deformed needs dense_motion_params and estimate_occlusion_map')

    def deform_input(self, inp, deformation):
        """Warp ``inp`` ``(N, C, H, W)`` with the sampling grid ``deformation`` ``(N, h, w, 2)``,
        resized bilinearly to ``(H, W)`` first when needed (its displacement from the identity
        with ``resize_displacement``)."""
        _, h_old, w_old, _ = deformation.shape
        _, _, h, w = inp.shape
        if h_old != h or w_old != w:
            if self.resize_displacement:
                deformation = deformation - make_coordinate_grid(
                    (h_old, w_old), deformation.dtype).reshape([1, h_old, w_old, 2])
            deformation = deformation.transpose([0, 3, 1, 2])
            deformation = F.interpolate(deformation, size=(h, w), mode='bilinear',
                                        align_corners=False)
            deformation = deformation.transpose([0, 2, 3, 1])
            if self.resize_displacement:
                deformation = deformation + make_coordinate_grid(
                    (h, w), deformation.dtype).reshape([1, h, w, 2])
        if self.inference:
            weight = paddle.to_tensor(border_weight(h, w)).reshape([1, h, w, 1])
            identity = make_coordinate_grid((h, w), inp.dtype).reshape([1, h, w, 2])
            deformation = weight * deformation + (1 - weight) * identity
        return F.grid_sample(inp, deformation, mode='bilinear', padding_mode='zeros',
                             align_corners=True)

    def encode_source(self, source_image):
        """Encoder features of the source, ``(N, C', H/2^d, W/2^d)``; depends on the source only,
        so a caller animating many frames may compute it once and pass it to ``forward``."""
        out = self.first(source_image)
        for block in self.down_blocks:
            out = block(out)
        return out

    def apply_occlusion(self, features, occlusion_map):
        """Multiply the warped features by the occlusion map, resized to their size."""
        if features.shape[2:] != occlusion_map.shape[2:]:
            occlusion_map = F.interpolate(occlusion_map, size=features.shape[2:],
                                          mode='bilinear', align_corners=False)
        if self.inference and not self.mobile_net:
            h, w = occlusion_map.shape[2:]
            keep = paddle.to_tensor(border_keep_mask(h, w)).reshape([1, 1, h, w])
            occlusion_map = keep * occlusion_map + (1 - keep)
        return features * occlusion_map

    def decode(self, features):
        """Bottleneck and decoder: features -> ``(N, C, H, W)`` image in ``[0, 1]``."""
        out = self.bottleneck(features)
        for block in self.up_blocks:
            out = block(out)
        return F.sigmoid(self.final(out))

    def compose_at(self, output_dict, source_image):
        """Re-render a ``compose_deformed`` prediction at the resolution of ``source_image``.

        The motion (``deformation``), the occlusion map and the decoded image come from a forward
        pass at the network's own (lower) resolution; the visible regions are then the
        high-resolution source's own pixels, warped: ``O * warp(source) + (1 - O) * decoded``,
        each map resized bilinearly. ``source_image`` is ``(N, C, H, W)`` in ``[0, 1]``.
        """
        if not self.compose_deformed:
            raise ValueError('compose_at needs a generator built with compose_deformed=True')
        size = source_image.shape[2:]
        resize = lambda x: F.interpolate(x, size=size, mode='bilinear', align_corners=False)  # noqa: E731
        visible = resize(output_dict['occlusion_map'])
        deformed = self.deform_input(source_image, output_dict['deformation'])
        return visible * deformed + (1 - visible) * resize(output_dict['decoded'])

    def forward(self, source_image, kp_driving, kp_source, source_features=None):
        out = self.encode_source(source_image) if source_features is None else source_features
        output_dict = {}
        if self.dense_motion_network is not None:
            dense_motion = self.dense_motion_network(source_image=source_image,
                                                     kp_driving=kp_driving, kp_source=kp_source)
            output_dict.update(dense_motion)
            deformation = dense_motion['deformation']
            out = self.deform_input(out, deformation)
            if 'occlusion_map' in dense_motion:
                out = self.apply_occlusion(out, dense_motion['occlusion_map'])
            output_dict['deformed'] = self.deform_input(source_image, deformation)
        output_dict['prediction'] = self.decode(out)
        if self.compose_deformed:
            visible = F.interpolate(output_dict['occlusion_map'], size=source_image.shape[2:],
                                    mode='bilinear', align_corners=False)
            output_dict['decoded'] = output_dict['prediction']
            output_dict['prediction'] = (visible * output_dict['deformed']
                                         + (1 - visible) * output_dict['decoded'])
        return output_dict
