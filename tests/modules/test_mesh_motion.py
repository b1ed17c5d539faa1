"""The landmark mesh's piecewise-affine motion (ppfom/modules/mesh_motion.py) on known geometry,
and the dense motion network's use of it as one more candidate motion."""
import numpy as np
import paddle
import pytest

from ppfom.modules.dense_motion import DenseMotionNetwork
from ppfom.modules.first_order import make_coordinate_grid
from ppfom.modules.landmark_keypoints import load_canonical_face
from ppfom.modules.mesh_motion import border_anchors, mesh_triangles, piecewise_affine_motion
from ppfom.modules.motion_transfer import normalize_kp


@pytest.fixture(scope='module')
def mesh():
    canonical, _ = load_canonical_face()
    anchors = border_anchors()
    return np.concatenate([canonical, anchors]), mesh_triangles(canonical, anchors)


def homogeneous_grid(size):
    grid = make_coordinate_grid((size, size)).reshape([-1, 2]).numpy().T
    return np.concatenate([grid, np.ones((1, grid.shape[1]), np.float32)])


def motion(grid, source, driving, triangles):
    return piecewise_affine_motion(paddle.to_tensor(grid), paddle.to_tensor(source),
                                   paddle.to_tensor(driving), paddle.to_tensor(triangles)).numpy()


def signed_areas(points, triangles):
    a, b, c = (points[triangles[:, i]] for i in range(3))
    return ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1])
            - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])) / 2


def test_triangles_are_counter_clockwise_and_tile_the_frame(mesh):
    points, triangles = mesh
    areas = signed_areas(points.astype(np.float64), triangles)
    assert (areas > 0).all()
    # the anchors span the frame [-1, 1]^2 (area 4) and Delaunay triangles do not overlap
    assert areas.sum() == pytest.approx(4.0, abs=1e-5)


def test_an_affine_move_of_the_mesh_gives_the_inverse_map(mesh):
    """Every vertex moved by ``d = M s + b``: the backward motion is ``M^-1 (z - b)`` wherever
    ``z`` lies inside the moved mesh; a second item with an unmoved mesh gives the identity."""
    points, triangles = mesh
    m = np.array([[1.1, 0.2], [-0.15, 0.9]], np.float32)
    b = np.array([0.05, -0.1], np.float32)
    grid = homogeneous_grid(32)
    driving = np.stack([points @ m.T + b, points]).astype(np.float32)
    out = motion(grid, points[None].astype(np.float32), driving, triangles)
    assert out.shape == (2, 2, 32 * 32)
    expected = np.linalg.inv(m) @ (grid[:2] - b[:, None])
    inside = (np.abs(expected) <= 1).all(axis=0)
    assert inside.mean() > 0.8
    np.testing.assert_allclose(out[0][:, inside], expected[:, inside], atol=1e-5)
    np.testing.assert_allclose(out[1], grid[:2], atol=1e-6)


def test_moved_landmarks_move_their_triangles_and_the_border_stays(mesh):
    """The jaw drops (every landmark below the lips' midline moves down, an opening mouth): each
    moved landmark's driving position maps back to its source position (vertices map to
    vertices), pixels far from the mouth and on the border keep the identity."""
    points, triangles = mesh
    canonical_count = len(points) - len(border_anchors())
    lower_lip = [146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324]
    midline = (points[13, 1] + points[14, 1]) / 2           # inner upper / lower lip
    jaw = [i for i in range(canonical_count) if points[i, 1] > midline]
    assert set(lower_lip) <= set(jaw)
    driving = points.copy()
    driving[jaw, 1] += 0.06
    grid = homogeneous_grid(64)
    out = motion(grid, points[None].astype(np.float32), driving[None].astype(np.float32),
                 triangles)[0]
    displacement = out - grid[:2]
    border = (np.abs(grid[:2]) == 1).any(axis=0)
    np.testing.assert_allclose(displacement[:, border], 0, atol=1e-6)
    above = grid[1] < points[:canonical_count, 1].min() - 0.05     # above the forehead
    assert above.any() and np.abs(displacement[:, above]).max() < 1e-5
    at_vertices = np.concatenate([driving[jaw].T, np.ones((1, len(jaw)))])
    back = motion(at_vertices.astype(np.float32), points[None].astype(np.float32),
                  driving[None].astype(np.float32), triangles)[0]
    np.testing.assert_allclose(back.T, points[jaw], atol=1e-5)
    assert canonical_count == 468


def test_folded_triangles_are_skipped(mesh):
    """A driving mesh with one vertex pushed through its neighbours: no point maps to NaN/inf,
    and points away from the fold keep the identity."""
    points, triangles = mesh
    driving = points.copy()
    driving[1] = driving[1] + [0.0, 0.4]          # the nose tip far below the chin line
    grid = homogeneous_grid(32)
    out = motion(grid, points[None].astype(np.float32), driving[None].astype(np.float32),
                 triangles)[0]
    assert np.isfinite(out).all()
    assert np.abs(out - grid[:2])[:, (np.abs(grid[:2]) == 1).any(axis=0)].max() < 1e-6


def kp_dict(landmarks, k=3):
    n = len(landmarks)
    return {'value': paddle.zeros([n, k, 2]), 'jacobian': paddle.eye(2).expand([n, k, 2, 2]),
            'landmarks': paddle.to_tensor(landmarks)}


def test_dense_motion_takes_the_mesh_motion_as_its_last_candidate(mesh):
    points, _ = mesh
    landmarks = points[:468][None].astype(np.float32)
    moved = landmarks.copy()
    moved[..., 0] += 0.1                                  # the face shifted right
    paddle.seed(0)
    network = DenseMotionNetwork(block_expansion=8, num_blocks=2, max_features=16, num_kp=3,
                                 num_channels=3, estimate_occlusion_map=True, mesh_motion=True)
    source = paddle.rand([1, 3, 32, 32])
    out = network(source, kp_driving=kp_dict(moved), kp_source=kp_dict(landmarks))
    assert out['mask'].shape == [1, 5, 32, 32]          # identity, 3 keypoints, the mesh
    sparse = network.create_sparse_motions(source, kp_dict(moved), kp_dict(landmarks)).numpy()
    grid = homogeneous_grid(32)[:2].T.reshape(32, 32, 2)
    centre = (slice(12, 20), slice(12, 20))             # inside the face: shifted back by 0.1
    shift = sparse[0, -1][centre] - grid[centre]
    np.testing.assert_allclose(shift, np.broadcast_to([-0.1, 0], shift.shape), atol=1e-5)
    with pytest.raises(ValueError, match='landmarks'):
        network(source, kp_driving={'value': paddle.zeros([1, 3, 2])},
                kp_source={'value': paddle.zeros([1, 3, 2])})


def test_relative_transfer_moves_landmarks_like_keypoints():
    source = kp_dict(np.zeros((1, 468, 2), np.float32) + 0.1)
    initial = kp_dict(np.zeros((1, 468, 2), np.float32))
    driving = kp_dict(np.full((2, 468, 2), 0.05, np.float32))
    out = normalize_kp(source, driving, initial, use_relative_movement=True)
    np.testing.assert_allclose(out['landmarks'].numpy(), 0.15, atol=1e-7)
