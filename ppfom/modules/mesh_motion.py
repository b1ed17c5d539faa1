"""The landmark mesh's own motion: one more candidate motion for the dense motion network.

FOMM (paper Sec. 3, Eq. 4) approximates the backward motion ``T_{S<-D}`` near each keypoint by
its first-order Taylor expansion. With FaceMesh's 468 landmarks there is a finer description at
hand: the piecewise-affine map of the landmark mesh. The mesh is triangulated once, on the
canonical face (Delaunay, with :func:`border_anchors` on the frame's border so that the
triangles cover the whole frame and the border stays put); for a pixel ``z`` of the driving
frame inside triangle ``t`` (vertices ``d_0, d_1, d_2`` in the driving frame, ``s_0, s_1, s_2``
in the source) ::

    T_mesh(z) = s_0 + E_s E_d^{-1} (z - d_0),    E_x = [x_1 - x_0, x_2 - x_0]

i.e. the point of the source with the same barycentric coordinates in the same triangle. It moves
the lips apart when the driver's mouth opens (stretching the source's closed lips over the
opening: a warp cannot draw teeth) and the eyelids when the driver blinks; the dense motion
network picks it where it fits, beside the K keypoint motions and the identity, and the
occlusion map and decoder fill what no warp can show.

Coordinates are FOMM's: ``x`` then ``y`` in ``[-1, 1]``.
"""
import numpy as np
import paddle
from scipy.spatial import Delaunay

from .first_order import inverse_2x2

#: anchor points per side of the frame border (corners included), fixed by the mesh motion
BORDER_ANCHORS_PER_SIDE = 8


def border_anchors(per_side=BORDER_ANCHORS_PER_SIDE):
    """``(4 * per_side - 4, 2)`` float32 points evenly spaced along the border of ``[-1, 1]^2``
    (x, y; the corners included once)."""
    t = np.linspace(-1, 1, per_side, dtype=np.float32)
    inner = t[1:-1]
    return np.concatenate([np.stack([t, np.full_like(t, -1)], 1),
                           np.stack([t, np.full_like(t, 1)], 1),
                           np.stack([np.full_like(inner, -1), inner], 1),
                           np.stack([np.full_like(inner, 1), inner], 1)]).astype(np.float32)


def mesh_triangles(canonical, anchors):
    """Delaunay triangles ``(T, 3)`` int64 of ``canonical`` ``(L, 2)`` followed by ``anchors``
    ``(A, 2)`` (vertex indices into their concatenation), each ordered counter-clockwise in
    ``x, y`` (positive ``det E``), so that a triangle whose driving ``det E`` is not positive has
    folded over. Raises ``ValueError`` when the points cannot be triangulated."""
    points = np.concatenate([canonical, anchors]).astype(np.float64)
    if not np.isfinite(points).all():
        raise ValueError('the canonical face has NaN/inf points; rewrite it with '
                         'tools/make_canonical_face.py')
    triangles = Delaunay(points).simplices.astype(np.int64)
    a, b, c = (points[triangles[:, i]] for i in range(3))
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    triangles[det < 0] = triangles[det < 0][:, [0, 2, 1]]
    return triangles


def _edges(points, triangles):
    """Triangle vertices of ``points`` ``(N, V, 2)``: ``x_0`` ``(N, T, 2, 1)`` and ``E``
    ``(N, T, 2, 2)`` (columns ``x_1 - x_0``, ``x_2 - x_0``)."""
    t = triangles.shape[0]
    corners = paddle.gather(points, triangles.reshape([-1]), axis=1).reshape([-1, t, 3, 2])
    origin = corners[:, :, 0]
    edges = paddle.stack([corners[:, :, 1] - origin, corners[:, :, 2] - origin], axis=-1)
    return origin.unsqueeze(-1), edges


def piecewise_affine_motion(homogeneous_grid, source_points, driving_points, triangles,
                            min_det=1e-8):
    """``T_mesh`` (module docstring) at every grid point.

    Args:
        homogeneous_grid: ``(3, P)``: rows x, y, 1 of the P points ``z`` of the driving frame
            (e.g. :func:`~ppfom.modules.first_order.make_coordinate_grid` flattened).
        source_points: ``(1 or N, V, 2)`` mesh vertices in the source (landmarks then anchors).
        driving_points: ``(N, V, 2)`` the same vertices in the driving frame.
        triangles: ``(T, 3)`` int64 vertex indices, counter-clockwise (:func:`mesh_triangles`).
        min_det: driving triangles with ``det E`` at most this (folded or collapsed) are skipped.
    Returns:
        ``(N, 2, P)``: the source point for each ``z``, same dtype as the points. A point inside
        no unfolded triangle (outside the mesh) takes the affine map of the triangle it is
        closest to being inside of (largest smallest barycentric coordinate).

    Written with batch-size-free shapes (reshape with -1, broadcasting) so that the exported
    programs call it as it is.
    """
    t = triangles.shape[0]
    d0, ed = _edges(driving_points, triangles)
    s0, es = _edges(source_points, triangles)
    det = ed[..., 0, 0] * ed[..., 1, 1] - ed[..., 0, 1] * ed[..., 1, 0]        # (N, T)
    folded = (det <= min_det).astype(ed.dtype)
    eye = paddle.eye(2, dtype=ed.dtype)
    safe = ed + folded.unsqueeze(-1).unsqueeze(-1) * (eye - ed)     # folded: any invertible E
    inverse = inverse_2x2(safe)
    # barycentric coordinates (l1, l2) = E_d^{-1} (z - d_0) as one affine map of [x; y; 1]
    # (-d0 inside the matmul: Paddle 3.3's oneDNN passes fuse a negation that follows a matmul
    # into a fused_matmul that has no float64 kernel)
    to_barycentric = paddle.concat([inverse, paddle.matmul(inverse, -d0)], axis=-1)  # (N,T,2,3)
    # with l0 = 1 - l1 - l2 as a third row: [x; y; 1] -> (l0, l1, l2) for every triangle and
    # point, as one (3T, 3) x (3, P) product per item, laid out (N, 3, T, P) so that the
    # smallest coordinate is a minimum of three contiguous (T, P) blocks (a batched 3x3 matmul
    # per triangle and a reduction over a middle axis were each 10x slower). Which triangle
    # holds a point is decided in float32 (Paddle's float64 CPU kernels are 10x slower here; a
    # point on an edge may go to either neighbour, whose maps agree there); the chosen map is
    # applied in the points' own dtype.
    ones = paddle.zeros_like(to_barycentric[:, :, :1]) + paddle.to_tensor(
        np.array([0, 0, 1], np.float64)).astype(to_barycentric.dtype)          # (N,T,1,3)
    first = ones - to_barycentric[:, :, :1] - to_barycentric[:, :, 1:]
    # (float32 before the transpose: oneDNN fuses transpose + reshape, with no float64 kernel)
    rows = paddle.concat([first, to_barycentric], axis=2).astype('float32')
    rows = rows.transpose([0, 2, 1, 3]).reshape([-1, 3 * t, 3])                # (N,3T,3)
    p = homogeneous_grid.shape[1]
    barycentric = paddle.matmul(rows, homogeneous_grid.astype('float32'))
    barycentric = barycentric.reshape([-1, 3, t, p])                           # (N,3,T,P)
    inside = paddle.minimum(paddle.minimum(barycentric[:, 0], barycentric[:, 1]),
                            barycentric[:, 2]) - 1e4 * folded.astype('float32').unsqueeze(-1)
    best = paddle.argmax(inside, axis=1)                                        # (N, P)
    # the affine map of each triangle, s_0 + E_s (l1, l2) = [E_s | s_0] [l1; l2; 1], as one
    # matmul of homogeneous matrices (an add after a matmul would be fused by oneDNN's passes
    # into a fused_matmul with no float64 kernel)
    affine = paddle.matmul(paddle.concat([es, s0], axis=-1),
                           paddle.concat([to_barycentric, ones], axis=-2))     # (N,T,2,3)
    chosen = paddle.take_along_axis(affine.reshape([-1, t, 6]), best.unsqueeze(-1),
                                    axis=1, broadcast=True)                     # (N,P,6)
    x, y = homogeneous_grid[0], homogeneous_grid[1]
    point_x = chosen[:, :, 0] * x + chosen[:, :, 1] * y + chosen[:, :, 2]
    point_y = chosen[:, :, 3] * x + chosen[:, :, 4] * y + chosen[:, :, 5]
    return paddle.stack([point_x, point_y], axis=1)


__all__ = ['BORDER_ANCHORS_PER_SIDE', 'border_anchors', 'mesh_triangles',
           'piecewise_affine_motion']
