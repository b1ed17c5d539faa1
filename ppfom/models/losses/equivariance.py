"""Equivariance constraints on the keypoints (paper Sec. 3.3, Eq. 10-11; original ``Transform``).

A known random warp ``T`` (affine + thin-plate spline) is applied to the driving frame ``X``. The
keypoints of the warped frame ``Y = X o T``, mapped back with ``T``, must equal the keypoints of
``X`` (value loss), and the jacobians must satisfy ``J_X = T'(p_Y) J_Y`` (jacobian loss).
"""
import numpy as np
import paddle
import paddle.nn.functional as F

from ...modules.first_order import inverse_2x2, make_coordinate_grid


class Transform:
    """Random affine + TPS warp of normalised coordinates, one per batch item.

    Args:
        bs: batch size N.
        sigma_affine: std of the noise added to the identity ``2x3`` affine matrix.
        sigma_tps: std of the TPS control-point weights (TPS off when ``None``).
        points_tps: the TPS control points are a ``points_tps x points_tps`` grid over ``[-1, 1]^2``.
        seeds: optional list of N integers; item ``i`` draws its warp from
            ``numpy.random.default_rng(seeds[i])``, so a sample's warp does not depend on how the
            batch is split across devices. Without seeds, numpy's global generator is used.

    As in the original, the TPS term uses L1 distances ``r = |x - c_x| + |y - c_y|``,
    ``U(r) = r^2 log(r + 1e-6)``, and the same scalar offset is added to x and y.
    """

    def __init__(self, bs, sigma_affine, sigma_tps=None, points_tps=None, seeds=None):
        if seeds is not None and len(seeds) != bs:
            raise ValueError(f'Transform: {len(seeds)} seeds for a batch of {bs}')
        self.bs = bs
        self.tps = sigma_tps is not None and points_tps is not None
        n_tps = points_tps ** 2 if self.tps else 0
        rngs = [np.random.default_rng(int(s)) for s in seeds] if seeds is not None \
            else [np.random] * bs
        theta = np.zeros((bs, 2, 3), np.float32)
        params = np.zeros((bs, 1, n_tps), np.float32)
        for i, rng in enumerate(rngs):
            theta[i] = rng.normal(0.0, sigma_affine, (2, 3))
            if self.tps:
                params[i] = rng.normal(0.0, sigma_tps, (1, n_tps))
        theta += np.eye(2, 3, dtype=np.float32)
        self.theta = paddle.to_tensor(theta)                        # (N, 2, 3)
        if self.tps:
            self.control_points = make_coordinate_grid((points_tps, points_tps)).reshape([1, 1, -1, 2])
            self.control_params = paddle.to_tensor(params)          # (N, 1, P)

    def _tps_terms(self, coordinates):
        """Distances ``r`` ``(N, M, P)`` and signed offsets ``(N, M, P, 2)`` to the control points."""
        diff = coordinates.unsqueeze(2) - self.control_points      # (N, M, P, 2)
        return diff.abs().sum(-1), diff

    def warp_coordinates(self, coordinates):
        """Warp ``(N, M, 2)`` normalised (x, y) points -> ``(N, M, 2)``; differentiable."""
        theta = self.theta.unsqueeze(1)                               # (N, 1, 2, 3)
        out = paddle.matmul(theta[..., :2], coordinates.unsqueeze(-1)) + theta[..., 2:]
        out = out.squeeze(-1)
        if self.tps:
            r, _ = self._tps_terms(coordinates)
            u = r ** 2 * paddle.log(r + 1e-6) * self.control_params  # (N, M, P)
            out = out + u.sum(axis=2, keepdim=True)
        return out

    def jacobian(self, coordinates):
        """``d warp / d (x, y)`` at ``(N, M, 2)`` points -> ``(N, M, 2, 2)`` (rows: output x, y).

        Closed form of what the original gets with ``torch.autograd.grad``; differentiable with
        respect to ``coordinates`` (the jacobian loss back-propagates through it).
        """
        jac = self.theta[:, :, :2].unsqueeze(1).expand([self.bs, coordinates.shape[1], 2, 2])
        if self.tps:
            r, diff = self._tps_terms(coordinates)
            du_dr = (2 * r * paddle.log(r + 1e-6) + r ** 2 / (r + 1e-6)) * self.control_params
            grad = (du_dr.unsqueeze(-1) * paddle.sign(diff)).sum(axis=2)  # (N, M, 2)
            jac = jac + grad.unsqueeze(2)                               # same row for x and y
        return jac

    def transform_frame(self, frame):
        """Resample ``frame`` ``(N, C, H, W)`` at the warped grid (reflection padding)."""
        n, _, h, w = frame.shape
        grid = make_coordinate_grid((h, w), frame.dtype).reshape([1, h * w, 2]).expand([n, h * w, 2])
        grid = self.warp_coordinates(grid).reshape([n, h, w, 2])
        return F.grid_sample(frame, grid, mode='bilinear', padding_mode='reflection',
                             align_corners=True)


def equivariance_value_loss(kp_driving, kp_transformed, transform):
    """``mean |p_X - T(p_Y)|`` (Eq. 10); keypoint dicts with ``value`` ``(N, K, 2)``."""
    return (kp_driving['value'] - transform.warp_coordinates(kp_transformed['value'])).abs().mean()


def equivariance_jacobian_loss(kp_driving, kp_transformed, transform):
    """``mean |I - J_X^-1 T'(p_Y) J_Y|`` (Eq. 11); dicts with ``jacobian`` ``(N, K, 2, 2)``."""
    jacobian_transformed = paddle.matmul(transform.jacobian(kp_transformed['value']),
                                         kp_transformed['jacobian'])
    value = paddle.matmul(inverse_2x2(kp_driving['jacobian']), jacobian_transformed)
    eye = paddle.eye(2, dtype=value.dtype).reshape([1, 1, 2, 2])
    return (eye - value).abs().mean()
