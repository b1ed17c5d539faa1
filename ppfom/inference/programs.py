"""The three programs the export traces (:mod:`ppfom.inference.export` writes them):

``kp_detector``
    ``image`` ``(N, 3, H, W)`` -> ``value`` ``(N, K, 2)``, ``jacobian`` ``(N, K, 2, 2)``; for a
    detector that reads landmarks (:class:`LandmarkKPDetector`), ``landmarks`` ``(N, L, 2)``
    in ``[-1, 1]`` -> the same.
``source_encoder``
    ``source`` ``(1, 3, H, W)`` -> ``source_table`` ``(1, h'*w', C')`` (the generator's encoder
    features, ``h' = H/2^d``, channels-last) and ``source_small`` ``(1, 3, h, w)`` (the source
    downsampled for the dense motion network, ``h = H * scale_factor``).
``generator``
    ``source_table``, ``source_small``, ``kp_source_value`` ``(1, K, 2)``,
    ``kp_driving_value`` ``(N, K, 2)``, ``kp_source_jacobian`` ``(1, K, 2, 2)``,
    ``kp_driving_jacobian`` ``(N, K, 2, 2)`` -> ``prediction`` ``(N, 3, H, W)`` in ``[0, 1]``.
    Generators with ``compose_deformed`` also take ``source_image`` ``(1, 3, H_out, W_out)``
    and give ``prediction`` ``(N, 3, H_out, W_out)``: at the network size that is the
    generator's own prediction, above it :meth:`OcclusionAwareGenerator.compose_at`.
    Generators whose dense motion network has ``mesh_motion`` also take
    ``kp_source_landmarks`` ``(1, L, 2)`` and ``kp_driving_landmarks`` ``(N, L, 2)``.

They compute what :class:`KPDetector.forward` and :class:`OcclusionAwareGenerator.forward`
compute (same layers, same weights, equal up to float rounding), calling the networks' own
layers and helpers; only the keypoint and motion geometry is written again, as float64 matmuls
(oneDNN is slow at the eager code's trailing-axis broadcasts and would run it in bf16).
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..models.generators.occlusion_aware import border_keep_mask, border_weight
from ..modules.first_order import inverse_2x2
from ..modules.mesh_motion import piecewise_affine_motion
from ..modules.resize import resize_bilinear
from .rewrites import sample_rows

SOURCE_OUTPUTS = ('source_table', 'source_small')   # outputs of the source encoder, in order
GEOMETRY_DTYPE = 'float64'  # keypoint and motion maths inside the exported generator


def _grid_xy(h, w):
    """``(2, h*w)`` float64: x and y of every pixel in ``[-1, 1]``, the values of
    :func:`~ppfom.modules.first_order.make_coordinate_grid`, as numpy (a constant of the traced
    program: tensors cannot be read back while tracing)."""
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


class KeypointProgram(nn.Layer):
    """:class:`KPDetector` returning ``(value, jacobian)`` (no heatmap)."""

    def __init__(self, kp_detector):
        super().__init__()
        self.net = kp_detector

    def forward(self, image):
        net = self.net
        x = net.down(image) if net.scale_factor != 1 else image
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


class LandmarkKeypointProgram(nn.Layer):
    """:class:`~ppfom.modules.landmark_keypoints.LandmarkKPDetector` returning ``(value,
    jacobian)``: its own forward, in float32 (a few small matmuls; the backends never run this
    program in bf16)."""

    def __init__(self, kp_detector):
        super().__init__()
        self.net = kp_detector

    def forward(self, landmarks):
        kp = self.net(landmarks)
        return kp['value'], kp['jacobian']


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
        if dense is not None and dense.scale_factor != 1:
            small = dense.down(source)
        else:
            # a copy: a program whose output is its own input cannot be loaded ("more than one
            # shadow output named with source")
            small = paddle.assign(source)
        return table, small


class FrameProgram(nn.Layer):
    """:meth:`OcclusionAwareGenerator.forward` on cached source tensors, prediction only.

    Same maths as ``DenseMotionNetwork.forward`` followed by the generator's ``deform_input``,
    ``apply_occlusion`` and ``decode``, with the batch-1 source tensors broadcast to the ``N``
    driving frames.
    """

    def __init__(self, generator, has_jacobian, feature_size, image_size, output_size=None):
        super().__init__()
        self.net = generator
        self.has_jacobian = has_jacobian
        self.feature_size = tuple(int(s) for s in feature_size)
        self.image_size = tuple(int(s) for s in image_size)
        self.output_size = tuple(int(s) for s in (output_size or image_size))
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
            jac = paddle.matmul(kp_source['jacobian'], inverse_2x2(kp_driving['jacobian']))
        else:
            jac = paddle.broadcast_to(eye, [n, k, 2, 2])
        shift = src - paddle.matmul(jac, drv)                       # (N, K, 2, 1)
        motion = paddle.matmul(paddle.concat([jac, shift], axis=-1), homogeneous)
        identity = paddle.broadcast_to(grid.reshape([1, 1, 2, h * w]), [n, 1, 2, h * w])
        motions = [identity, motion]
        if dense.mesh_motion:                                       # the landmark mesh's motion
            mesh = piecewise_affine_motion(homogeneous, dense.mesh_points(kp_source),
                                           dense.mesh_points(kp_driving), dense.mesh_triangles)
            motions.append(mesh.unsqueeze(1))
            heatmap = paddle.concat([heatmap, paddle.zeros_like(heatmap[:, :1])], axis=1)
        motion = paddle.concat(motions, axis=1)                     # (N, M, 2, h*w)
        m = dense.num_motions
        # Eq. 7 input: the source warped by each sparse motion -> (N, M, C, h, w)
        repeated = paddle.broadcast_to(small.unsqueeze(1), [n, m, c, h, w])
        # float32 before the transpose: oneDNN fuses transpose + reshape and has no float64 kernel
        sample_grid = motion.astype(small.dtype).transpose([0, 1, 3, 2]).reshape([-1, h, w, 2])
        deformed = F.grid_sample(repeated.reshape([-1, c, h, w]), sample_grid, mode='bilinear',
                                 padding_mode='zeros', align_corners=True)
        deformed = deformed.reshape([-1, m, c, h, w])
        heatmap = heatmap.reshape([-1, m, 1, h, w]).astype(small.dtype)
        inp = paddle.concat([heatmap, deformed], axis=2).reshape([-1, m * (c + 1), h, w])
        prediction = dense.hourglass(inp)
        # Eq. 8: mask-weighted sum of the sparse motions
        mask = F.softmax(dense.mask(prediction).astype(geo), axis=1)
        mask = mask.reshape([-1, m, 1, h * w])
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
            weight = paddle.to_tensor(border_weight(h, w).astype(np.float64))
            weight = weight.reshape([1, 1, h, w])
            identity = paddle.to_tensor(_grid_xy(h, w)).reshape([1, 2, h, w])
            deformation = weight * deformation + (1 - weight) * identity
        return deformation

    def _compose(self, source_image, decoded, deformation, occlusion):
        """``compose_deformed``: ``O * deform_input(source) + (1 - O) * decoded`` with the
        occlusion map ``O`` resized bilinearly to the source image, ``(1, 3, H_out, W_out)``;
        above the network size ``decoded`` is resized bilinearly too (``compose_at``)."""
        h, w = self.output_size
        if (h, w) != self.image_size:
            # transposed around the resize: Paddle 3.3.1's oneDNN matmul reads a convolution's
            # output (here the decoder's, in oneDNN's blocked layout) as if it were plain
            # (measured: errors up to 0.9); a transpose makes it plain (a reshape crashes)
            decoded = resize_bilinear(decoded.transpose([0, 1, 3, 2]), (w, h))
            decoded = decoded.transpose([0, 1, 3, 2])
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
                keep = paddle.to_tensor(border_keep_mask(h, w).astype(np.float64))
                keep = keep.reshape([1, 1, h, w])
                occlusion = keep * occlusion + (1 - keep)
            occlusion = occlusion.reshape([-1, h * w])
        out = sample_rows(table, deformation.reshape([-1, 2, h * w]), (h, w), occlusion)
        return out.reshape([-1, int(table.shape[2]), h, w])

    def forward(self, source_table, source_small, kp_source_value, kp_driving_value,
                kp_source_jacobian=None, kp_driving_jacobian=None, source_image=None,
                kp_source_landmarks=None, kp_driving_landmarks=None):
        n = paddle.shape(kp_driving_value)[0]
        geo = GEOMETRY_DTYPE
        kp_source = {'value': kp_source_value.astype(geo)}
        kp_driving = {'value': kp_driving_value.astype(geo)}
        if kp_source_landmarks is not None:
            kp_source['landmarks'] = kp_source_landmarks.astype(geo)
            kp_driving['landmarks'] = kp_driving_landmarks.astype(geo)
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
