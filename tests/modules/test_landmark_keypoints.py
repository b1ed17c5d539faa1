"""LandmarkKPDetector: keypoints and jacobians measured from FaceMesh landmarks, checked on known
geometry (affine maps, mirror images) of the canonical face."""
import numpy as np
import paddle
import pytest

from ppfom.modules.landmark_keypoints import (FACEMESH_KEYPOINTS, LandmarkKPDetector,
                                              load_canonical_face)

CANONICAL, MIRROR = load_canonical_face()
NAMES = list(FACEMESH_KEYPOINTS)


def keypoints(landmarks, **kwargs):
    detector = LandmarkKPDetector(len(NAMES), **kwargs)
    out = detector(paddle.to_tensor(np.asarray(landmarks, np.float32)))
    return out['value'].numpy().astype(np.float64), out['jacobian'].numpy().astype(np.float64)


def random_face(seed):
    """The canonical face with per-landmark expression noise: not an affine image of it."""
    rng = np.random.default_rng(seed)
    return CANONICAL + rng.normal(0, 0.01, CANONICAL.shape)


@pytest.mark.parametrize('ridge', [0.3, 1.0])
def test_affine_motion_gives_its_jacobian(ridge):
    rng = np.random.default_rng(1)
    face = random_face(0)
    matrix = np.eye(2) + rng.normal(0, 0.15, (2, 2))
    shift = rng.normal(0, 0.1, 2)
    value, jacobian = keypoints([face, face @ matrix.T + shift], ridge=ridge)
    # J_moved = M J_face for every keypoint (Eq. 4: the first-order term of the map)
    relative = jacobian[1] @ np.linalg.inv(jacobian[0])
    np.testing.assert_allclose(relative, np.broadcast_to(matrix, relative.shape), atol=1e-4)
    np.testing.assert_allclose(value[1], value[0] @ matrix.T + shift, atol=1e-5)


def test_canonical_face_has_identity_jacobians_and_group_centroids():
    value, jacobian = keypoints([CANONICAL])
    np.testing.assert_allclose(jacobian[0], np.broadcast_to(np.eye(2), jacobian[0].shape),
                               atol=1e-4)
    centroids = [CANONICAL[idx].mean(axis=0) for idx in FACEMESH_KEYPOINTS.values()]
    np.testing.assert_allclose(value[0], centroids, atol=1e-5)


def test_mirror_image_swaps_left_and_right_keypoints():
    face = random_face(2)
    flipped = face[MIRROR].copy()
    flipped[:, 0] = -flipped[:, 0]
    value, jacobian = keypoints([face, flipped])
    swap = [NAMES.index(n.replace('right', '#').replace('left', 'right').replace('#', 'left'))
            for n in NAMES]
    reflect = np.diag([-1.0, 1.0])
    expected_value = value[0][swap] * [-1, 1]
    # the canonical face is mirror-symmetric about x = c, so a mirrored group's fit is
    # reflect @ J @ reflect
    expected_jacobian = reflect @ jacobian[0][swap] @ reflect
    np.testing.assert_allclose(value[1], expected_value, atol=1e-5)
    np.testing.assert_allclose(jacobian[1], expected_jacobian, atol=1e-4)


def test_canonical_face_is_mirror_symmetric_and_mirror_is_an_involution():
    np.testing.assert_array_equal(MIRROR[MIRROR], np.arange(len(MIRROR)))
    centre = CANONICAL[:, 0].mean()
    np.testing.assert_allclose(CANONICAL[MIRROR, 0], 2 * centre - CANONICAL[:, 0], atol=1e-6)
    np.testing.assert_allclose(CANONICAL[MIRROR, 1], CANONICAL[:, 1], atol=1e-6)
    for name, group in FACEMESH_KEYPOINTS.items():
        partner = name.replace('right', '#').replace('left', 'right').replace('#', 'left')
        assert sorted(MIRROR[group]) == sorted(FACEMESH_KEYPOINTS[partner]), name


def test_wrong_number_of_keypoints_is_an_error():
    with pytest.raises(ValueError, match='num_kp is 10 but 17'):
        LandmarkKPDetector(10)
