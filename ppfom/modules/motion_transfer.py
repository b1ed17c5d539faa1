"""Keypoint normalisation for animation (paper Sec. 4, "relative motion transfer"): how the
driving motion is moved onto the source's keypoints before the generator runs."""
import numpy as np
import paddle
from scipy.spatial import ConvexHull, QhullError

from .first_order import inverse_2x2


def keypoint_hull_area(value):
    """Area of the convex hull of one frame's keypoints ``(K, 2)`` (numpy or tensor), in
    normalised units (the full frame is 4). Raises ``ValueError`` for degenerate keypoints."""
    points = np.asarray(value, dtype=np.float64)
    try:
        return ConvexHull(points).volume
    except QhullError as exc:
        raise ValueError('keypoints are collinear or coincide; cannot adapt the movement scale '
                         '(run without --adapt_scale)') from exc


def movement_scale(kp_source, kp_driving_initial):
    """``sqrt(area(hull(kp_source)) / area(hull(kp_driving_initial)))`` of the first batch item:
    how much larger the source's face is than the driving face (``adapt_movement_scale``)."""
    return float(np.sqrt(keypoint_hull_area(kp_source['value'][0].numpy()))
                 / np.sqrt(keypoint_hull_area(kp_driving_initial['value'][0].numpy())))


def normalize_kp(kp_source, kp_driving, kp_driving_initial, adapt_movement_scale=False,
                 use_relative_movement=False, use_relative_jacobian=False):
    """Transfer the driving motion relative to the first driving frame onto the source.

    With ``use_relative_movement``::

        value    = kp_source.value + (kp_driving.value - kp_driving_initial.value) * scale
        landmarks: the same as value (keypoint dicts of a LandmarkKPDetector carry them)
        jacobian = (J_driving @ inverse(J_driving_initial)) @ J_source     (use_relative_jacobian)

    where ``scale = sqrt(area(hull(kp_source)) / area(hull(kp_driving_initial)))`` when
    ``adapt_movement_scale`` else 1 (areas of the first item of the batch, as in the original).

    Args:
        kp_source: dict, ``value`` ``(1 or N, K, 2)``, ``jacobian`` ``(1 or N, K, 2, 2)``.
        kp_driving: dict, ``(N, K, 2)`` / ``(N, K, 2, 2)``, one entry per driving frame.
        kp_driving_initial: dict, ``(1, K, 2)`` / ``(1, K, 2, 2)``: the driving frame that matches
            the source's pose (frame 0, or the ``--best_frame``).
    Returns:
        a new keypoint dict shaped like ``kp_driving``; without relative movement, ``kp_driving``'s
        own tensors (absolute transfer).
    """
    scale = movement_scale(kp_source, kp_driving_initial) if adapt_movement_scale else 1.0
    kp_new = dict(kp_driving)
    if use_relative_movement:
        for key in ('value', 'landmarks'):
            if key in kp_driving:
                kp_new[key] = (kp_driving[key] - kp_driving_initial[key]) * scale + kp_source[key]
        if use_relative_jacobian and 'jacobian' in kp_driving:
            jacobian_diff = paddle.matmul(kp_driving['jacobian'],
                                          inverse_2x2(kp_driving_initial['jacobian']))
            kp_new['jacobian'] = paddle.matmul(jacobian_diff, kp_source['jacobian'])
    return kp_new
