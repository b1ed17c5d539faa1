"""Dense motion network: from sparse keypoint motions to a dense flow and an occlusion map
(paper Sec. 3.2, Eq. 4-8).

A port of the original ``modules/dense_motion.py`` (PaddleGAN: ``ppgan/modules/dense_motion.py``),
kept in the upstream's structure (its constructor shares a few lines with the keypoint
detector's, as upstream).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .first_order import (AntiAliasInterpolation2d, Hourglass, conv_head, inverse_2x2,
                          kp2gaussian, make_coordinate_grid)
from .mesh_motion import border_anchors, mesh_triangles, piecewise_affine_motion


class DenseMotionNetwork(nn.Layer):
    """Predicts the dense backward flow ``T_{S<-D}`` and the occlusion map.

    Args:
        block_expansion, num_blocks, max_features: hourglass widths and depth.
        num_kp: K. num_channels: image channels.
        estimate_occlusion_map: also predict ``occlusion_map`` (Sec. 3.2).
        scale_factor: works on the source downsampled by this factor (0.25).
        kp_variance: variance of the keypoint Gaussians (0.01).
        mobile_net: PaddleGAN's lightweight variant.
        mesh_motion: ppfom: one more candidate motion, the piecewise-affine motion of the face
            landmark mesh (:mod:`ppfom.modules.mesh_motion`); the keypoint dicts must then carry
            ``landmarks`` ``(N, L, 2)`` (:class:`LandmarkKPDetector` does). Its heatmap channel
            is zero, like the background's. The triangles (of the bundled canonical face) are a
            buffer saved with the weights.

    ``forward(source_image, kp_driving, kp_source)`` with ``source_image`` ``(N, C, H, W)`` in
    ``[0, 1]`` returns, at ``h, w = H*scale_factor, W*scale_factor`` and with ``M = K+1``
    candidate motions (``K+2`` with ``mesh_motion``):
    ``sparse_deformed`` ``(N, M, C, h, w)``, ``mask`` ``(N, M, h, w)`` (softmax weights M_k),
    ``deformation`` ``(N, h, w, 2)`` (sampling grid into the source, x then y in ``[-1, 1]``) and
    ``occlusion_map`` ``(N, 1, h, w)`` in ``(0, 1)``. Raises ``ValueError`` when
    ``mesh_motion`` is on and the keypoints have no ``landmarks``.
    """

    def __init__(self, block_expansion, num_blocks, max_features, num_kp, num_channels,
                 estimate_occlusion_map=False, scale_factor=1, kp_variance=0.01,
                 mobile_net=False, mesh_motion=False):
        super().__init__()
        self.num_motions = num_kp + 1 + int(bool(mesh_motion))
        self.hourglass = Hourglass(block_expansion=block_expansion,
                                   in_features=self.num_motions * (num_channels + 1),
                                   max_features=max_features, num_blocks=num_blocks,
                                   mobile_net=mobile_net)
        self.mask = conv_head(self.hourglass.out_filters, self.num_motions, mobile_net)
        self.occlusion = (conv_head(self.hourglass.out_filters, 1, mobile_net)
                          if estimate_occlusion_map else None)
        self.num_kp = num_kp
        self.scale_factor = scale_factor
        self.kp_variance = kp_variance
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor,
                                                 mobile_net=mobile_net)
        self.mesh_motion = bool(mesh_motion)
        if self.mesh_motion:
            from .landmark_keypoints import load_canonical_face
            anchors = border_anchors()
            triangles = mesh_triangles(load_canonical_face()[0], anchors)
            self.register_buffer('mesh_anchors', paddle.to_tensor(anchors), persistable=True)
            self.register_buffer('mesh_triangles', paddle.to_tensor(triangles), persistable=True)

    def mesh_points(self, kp):
        """The mesh vertices of a keypoint dict: its ``landmarks`` ``(N, L, 2)`` followed by the
        border anchors, ``(N, L + A, 2)``."""
        if 'landmarks' not in kp:
            raise ValueError('this dense motion network uses the landmark mesh motion: the '
                             "keypoints need 'landmarks' (a LandmarkKPDetector gives them)")
        landmarks = kp['landmarks']
        anchors = self.mesh_anchors.astype(landmarks.dtype)
        # (a batch size read at run time: the exported generator calls this too)
        anchors = paddle.broadcast_to(anchors.unsqueeze(0), [paddle.shape(landmarks)[0]]
                                      + list(anchors.shape))
        return paddle.concat([landmarks, anchors], axis=1)

    def create_heatmap_representations(self, source_image, kp_driving, kp_source):
        """Eq. 6: ``H_k(z) = G(z; kp_driving_k) - G(z; kp_source_k)``, plus a zero background
        channel. Returns ``(N, K+1, 1, h, w)``."""
        spatial_size = source_image.shape[2:]
        heatmap = (kp2gaussian(kp_driving, spatial_size, self.kp_variance)
                   - kp2gaussian(kp_source, spatial_size, self.kp_variance))
        background = paddle.zeros_like(heatmap[:, :1])
        parts = [background, heatmap] + ([background] if self.mesh_motion else [])
        return paddle.concat(parts, axis=1).unsqueeze(2)

    def create_sparse_motions(self, source_image, kp_driving, kp_source):
        """Eq. 4: ``T_{S<-D}(z) ~ kp_source_k + J_k (z - kp_driving_k)`` with
        ``J_k = jacobian_source_k @ inverse(jacobian_driving_k)``; channel 0 is the identity
        (background); with ``mesh_motion`` the mesh motion ``T_mesh`` is the last channel.
        Returns ``(N, M, h, w, 2)``."""
        n, _, h, w = source_image.shape
        identity_grid = make_coordinate_grid((h, w), kp_source['value'].dtype).reshape([1, 1, h, w, 2])
        coordinate_grid = identity_grid - kp_driving['value'].reshape([n, self.num_kp, 1, 1, 2])
        if 'jacobian' in kp_driving:
            jacobian = paddle.matmul(kp_source['jacobian'], inverse_2x2(kp_driving['jacobian']))
            jacobian = jacobian.reshape([n, self.num_kp, 1, 1, 2, 2])
            coordinate_grid = (jacobian * coordinate_grid.unsqueeze(-2)).sum(-1)
        driving_to_source = coordinate_grid + kp_source['value'].reshape([n, self.num_kp, 1, 1, 2])
        identity_grid = identity_grid.expand([n, 1, h, w, 2])
        motions = [identity_grid, driving_to_source]
        if self.mesh_motion:
            grid = identity_grid[:1, 0].reshape([h * w, 2]).transpose([1, 0])
            homogeneous = paddle.concat([grid, paddle.ones([1, h * w], grid.dtype)], axis=0)
            mesh = piecewise_affine_motion(homogeneous, self.mesh_points(kp_source),
                                           self.mesh_points(kp_driving), self.mesh_triangles)
            motions.append(mesh.transpose([0, 2, 1]).reshape([n, 1, h, w, 2]))
        return paddle.concat(motions, axis=1)

    def create_deformed_source_image(self, source_image, sparse_motions):
        """Eq. 7 input: the source warped by each of the M sparse motions,
        ``(N, M, C, h, w)``."""
        n, c, h, w = source_image.shape
        k1 = self.num_motions
        source_repeat = source_image.unsqueeze(1).expand([n, k1, c, h, w]).reshape([n * k1, c, h, w])
        sparse_deformed = F.grid_sample(source_repeat, sparse_motions.reshape([n * k1, h, w, 2]),
                                        mode='bilinear', padding_mode='zeros', align_corners=True)
        return sparse_deformed.reshape([n, k1, c, h, w])

    def forward(self, source_image, kp_driving, kp_source):
        if self.scale_factor != 1:
            source_image = self.down(source_image)
        n, _, h, w = source_image.shape
        heatmap_representation = self.create_heatmap_representations(source_image, kp_driving,
                                                                     kp_source)
        sparse_motion = self.create_sparse_motions(source_image, kp_driving, kp_source)
        deformed_source = self.create_deformed_source_image(source_image, sparse_motion)
        out = {'sparse_deformed': deformed_source}

        hourglass_input = paddle.concat([heatmap_representation, deformed_source], axis=2)
        prediction = self.hourglass(hourglass_input.reshape([n, -1, h, w]))

        # Eq. 8: the dense motion is the mask-weighted sum of the sparse motions
        mask = F.softmax(self.mask(prediction), axis=1)
        out['mask'] = mask
        out['deformation'] = (sparse_motion * mask.unsqueeze(-1)).sum(axis=1)
        if self.occlusion is not None:
            out['occlusion_map'] = F.sigmoid(self.occlusion(prediction))
        return out
