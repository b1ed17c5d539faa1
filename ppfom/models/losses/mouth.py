"""ppfom (landmark-driven bundled model only): an extra L1 on the mouth region.

The mouth is a few pixels of a 64x64 training frame, and most training pairs show it nearly
closed in both frames, so the reconstruction pyramid (Sec. 3.3) barely asks the dense motion
network and the decoder to open it. ``loss_weights.mouth_l1`` adds the mean L1 inside a soft
box around the driving frame's lips (FaceMesh landmarks, the same the keypoints come from).
"""
import paddle

from ...modules.landmark_keypoints import FACEMESH_KEYPOINTS
from ...modules.first_order import make_coordinate_grid

MOUTH = sorted(set(FACEMESH_KEYPOINTS['upper_lip'] + FACEMESH_KEYPOINTS['lower_lip']
                   + FACEMESH_KEYPOINTS['right_mouth_corner']
                   + FACEMESH_KEYPOINTS['left_mouth_corner']))


def mouth_mask(landmarks, size, margin=0.2):
    """Soft box around the lips: ``(N, 1, H, W)`` in ``[0, 1]``.

    Args:
        landmarks: ``(N, 468, 2)`` FaceMesh landmarks in ``[-1, 1]`` (x, y).
        size: ``(H, W)`` of the mask. margin: the box is the lips' bounding box grown by this
            fraction of its width on every side.
    """
    lips = paddle.gather(landmarks, paddle.to_tensor(MOUTH), axis=1)      # (N, M, 2)
    low, high = lips.min(axis=1), lips.max(axis=1)                        # (N, 2)
    centre, half = (low + high) / 2, (high - low) / 2
    half = half + margin * 2 * half[:, :1]                                # grow by the width
    grid = make_coordinate_grid(size, landmarks.dtype).unsqueeze(0)       # (1, H, W, 2)
    distance = (grid - centre.reshape([-1, 1, 1, 2])).abs() / half.reshape([-1, 1, 1, 2])
    # 1 inside the box, falling linearly to 0 at 1.5 times its size
    inside = paddle.clip((1.5 - distance) * 2, 0, 1)
    return (inside[..., 0] * inside[..., 1]).unsqueeze(1)


def mouth_l1_loss(prediction, driving, driving_landmarks):
    """Mean absolute difference inside :func:`mouth_mask`: ``(N, 3, H, W)`` images in
    ``[0, 1]`` -> scalar."""
    mask = mouth_mask(driving_landmarks, prediction.shape[2:])
    return ((prediction - driving).abs() * mask).sum() / (mask.sum() * prediction.shape[1] + 1e-6)
