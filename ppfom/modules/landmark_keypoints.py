"""Keypoints and jacobians measured from face landmarks instead of learnt (ppfom's bundled model).

FOMM (paper Sec. 3, Eq. 4-6) describes the motion near keypoint ``k`` by its position (``value``)
and the jacobian of the map from an abstract reference frame R to the frame,
``J_k = d T_{X<-R} / dp`` at ``p_k``; the dense motion network then blends the local motions
``T_{S<-D}(z) ~ p_S + J_S J_D^{-1} (z - p_D)``. :class:`KPDetector` learns both without labels.
:class:`LandmarkKPDetector` *measures* them from MediaPipe FaceMesh's 468 landmarks:

- the reference frame R is a canonical frontal face (``canonical``, 468 points in FOMM
  coordinates, the mean face of the training clips after a similarity alignment);
- keypoint ``k`` is a group of landmarks (the upper lip, the right upper eyelid, ...; see
  :data:`FACEMESH_KEYPOINTS`): its ``value`` is the group's centroid in the frame, and its
  ``jacobian`` the linear part of the least-squares affine map from the group's canonical points
  to its points in the frame (a local affine fit, the first-order term of Eq. 4), pulled towards
  the whole face's affine map by a small ridge so that thin groups (an eyelid is nearly a line)
  stay well conditioned. Landmarks that move by one affine map ``M`` give ``J = M J_0`` exactly.

Coordinates are FOMM's: ``x`` then ``y`` in ``[-1, 1]`` over the (cropped) frame.
"""
import os

import numpy as np
import paddle
import paddle.nn as nn

from ..utils.registry import KP_DETECTORS


NUM_LANDMARKS = 468
_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'facemesh_canonical.npz')

#: FaceMesh landmark groups of the bundled model's keypoints ("right" = the person's right, on
#: the image's left). Indices follow MediaPipe's canonical face mesh topology.
FACEMESH_KEYPOINTS = {
    'upper_lip': [185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415],
    'lower_lip': [146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318,
                  324],
    'right_mouth_corner': [61, 185, 146, 78, 191, 95, 76, 62],
    'left_mouth_corner': [291, 409, 375, 308, 415, 324, 306, 292],
    'right_upper_eyelid': [33, 246, 161, 160, 159, 158, 157, 173, 133],
    'right_lower_eyelid': [33, 7, 163, 144, 145, 153, 154, 155, 133],
    'left_upper_eyelid': [263, 466, 388, 387, 386, 385, 384, 398, 362],
    'left_lower_eyelid': [263, 249, 390, 373, 374, 380, 381, 382, 362],
    'right_brow': [70, 63, 105, 66, 107, 46, 53, 52, 65, 55],
    'left_brow': [300, 293, 334, 296, 336, 276, 283, 282, 295, 285],
    'nose': [1, 4, 5, 195, 197, 6, 98, 327, 2, 94, 19],
    'chin': [152, 148, 176, 149, 377, 400, 378, 175, 199, 200],
    'right_jaw': [172, 136, 150, 58, 132, 138, 135, 169],
    'left_jaw': [397, 365, 379, 288, 361, 367, 364, 394],
    'right_cheek': [234, 93, 127, 162, 116, 123, 147, 137],
    'left_cheek': [454, 323, 356, 389, 345, 352, 376, 366],
    'forehead': [10, 109, 67, 338, 297, 151, 108, 337],
}


def load_canonical_face(path=_DATA):
    """``(canonical (468, 2) float32, mirror (468,) int64)`` stored beside this module: the mean
    FaceMesh face in FOMM coordinates of a face crop, and the landmark each landmark becomes
    under a horizontal flip (``tools/make_canonical_face.py`` writes them). Raises
    ``FileNotFoundError`` naming the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path} is missing; write it with tools/make_canonical_face.py')
    with np.load(path) as data:
        return data['canonical'].astype(np.float32), data['mirror'].astype(np.int64)


def group_weights(groups, num_landmarks=NUM_LANDMARKS):
    """``(K, num_landmarks)`` float32: row ``k`` averages the landmarks of group ``k``."""
    weights = np.zeros((len(groups), num_landmarks), np.float32)
    for k, indices in enumerate(groups):
        weights[k, list(indices)] = 1.0 / len(indices)
    return weights


@KP_DETECTORS.register()
class LandmarkKPDetector(nn.Layer):
    """FOMM keypoints (``value``, ``jacobian``) measured from FaceMesh landmarks (see the module
    docstring). It has no trainable parameters.

    Args:
        num_kp: K; must equal the number of ``keypoints`` groups.
        keypoints: ``'facemesh'`` (:data:`FACEMESH_KEYPOINTS`) or a list of landmark-index lists.
        ridge: strength of the pull of each local jacobian towards the whole face's, relative to
            the group's own spread (0: pure local fit).
        canonical: path of the ``.npz`` with the canonical face (default: the bundled one).
        num_channels, estimate_jacobian, and the :class:`KPDetector` width options are accepted
            and ignored, so that a config's ``common_params`` can be shared.

    ``forward(landmarks)``: ``(N, 468, 2)`` float32 in ``[-1, 1]`` (x, y) -> ``{'value':
    (N, K, 2), 'jacobian': (N, K, 2, 2), 'landmarks': (N, 468, 2)}`` (the landmarks themselves,
    for a dense motion network with ``mesh_motion``). Landmarks must be finite (frames without a
    face are the caller's to handle).
    """

    takes_landmarks = True

    def __init__(self, num_kp, keypoints='facemesh', ridge=0.1, canonical=None, **_ignored):
        super().__init__()
        groups = list(FACEMESH_KEYPOINTS.values()) if keypoints == 'facemesh' else keypoints
        if len(groups) != num_kp:
            raise ValueError(f'num_kp is {num_kp} but {len(groups)} keypoint groups are given')
        self.num_kp = num_kp
        canonical_face, _ = load_canonical_face(canonical or _DATA)
        weights = group_weights(groups, len(canonical_face))
        # the whole face as one more group: the global affine map the ridge pulls towards
        weights = np.concatenate([weights, np.full((1, len(canonical_face)),
                                                   1.0 / len(canonical_face), np.float32)])
        moment = self._canonical_moment(canonical_face, weights)
        spread = np.trace(moment, axis1=1, axis2=2)[:, None, None] / 2
        regulariser = np.float32(ridge) * spread * np.eye(2, dtype=np.float32)
        regulariser[-1] = 0                                    # the global fit is not pulled
        self.register_buffer('weights', paddle.to_tensor(weights), persistable=True)
        self.register_buffer('canonical', paddle.to_tensor(canonical_face), persistable=True)
        self.register_buffer('canonical_centroid',
                             paddle.to_tensor(weights @ canonical_face), persistable=True)
        self.register_buffer('ridge_scale', paddle.to_tensor(regulariser[:, 0, 0]),
                             persistable=True)
        self.register_buffer('inverse_moment',
                             paddle.to_tensor(np.linalg.inv(moment + regulariser).astype(np.float32)),
                             persistable=True)

    @staticmethod
    def _canonical_moment(canonical_face, weights):
        """``sum_l w_kl (c_l - nu_k)(c_l - nu_k)^T`` per group: ``(K+1, 2, 2)``."""
        centred = canonical_face[None] - (weights @ canonical_face)[:, None]   # (K+1, L, 2)
        return np.einsum('kl,klp,klq->kpq', weights, centred, centred).astype(np.float32)

    def forward(self, landmarks):
        n = landmarks.shape[0]
        weights = self.weights                                             # (K+1, L)
        value = paddle.matmul(weights, landmarks)                          # (N, K+1, 2)
        # cross moment sum_l w_kl (p_l - mu_k)(c_l - nu_k)^T = sum_l w_kl p_l c_l^T - mu_k nu_k^T,
        # with both point sets first moved to their mean (the fit does not depend on it; it keeps
        # float32 from cancelling digits)
        offset = self.canonical.mean(axis=0)
        canonical, centroid = self.canonical - offset, self.canonical_centroid - offset
        points = landmarks - landmarks.mean(axis=1, keepdim=True)
        points_centroid = paddle.matmul(weights, points)
        outer = points.unsqueeze(-1) * canonical.unsqueeze(0).unsqueeze(-2)   # (N, L, 2, 2)
        cross = paddle.matmul(weights, outer.reshape([n, -1, 4])).reshape([n, -1, 2, 2])
        cross = cross - points_centroid.unsqueeze(-1) * centroid.unsqueeze(0).unsqueeze(-2)
        global_affine = paddle.matmul(cross[:, -1:], self.inverse_moment[-1:])  # (N, 1, 2, 2)
        pulled = cross + self.ridge_scale.reshape([1, -1, 1, 1]) * global_affine
        jacobian = paddle.matmul(pulled, self.inverse_moment.unsqueeze(0))
        return {'value': value[:, :-1], 'jacobian': jacobian[:, :-1], 'landmarks': landmarks}


__all__ = ['FACEMESH_KEYPOINTS', 'LandmarkKPDetector', 'NUM_LANDMARKS', 'group_weights',
           'load_canonical_face']
