"""Keypoint prior: pull chosen keypoints towards face landmarks (ppfom's bundled model only)."""
import paddle


def keypoint_prior_loss(kp_value, landmarks, keypoints):
    """Mean absolute distance between keypoints and their landmark anchors.

    Args:
        kp_value: ``(N, K, 2)`` keypoints in ``[-1, 1]`` (x then y) from the keypoint detector.
        landmarks: ``(N, M, 2)`` anchors in the same coordinates
            (:mod:`ppfom.datasets.landmarks`); ``NaN`` where no face was found (left out).
        keypoints: keypoint indices; ``keypoints[m]`` is pulled towards anchor ``m`` (anchors past
            ``len(keypoints)`` are not used).
    Returns:
        scalar tensor (unweighted; 0 when no anchor is known).

    Not in FOMM, whose keypoints are fully unsupervised: with the few identities of the bundled
    model's training clips they did not stay on the same part of an unseen face (see
    ``docs/dev/bundled_model_plan.md``). Config: ``loss_weights.keypoint_prior`` and
    ``train_params.landmark_keypoints``.
    """
    landmarks = paddle.to_tensor(landmarks, dtype=kp_value.dtype) \
        if not isinstance(landmarks, paddle.Tensor) else landmarks.astype(kp_value.dtype)
    landmarks = landmarks[:, :len(keypoints)]
    chosen = paddle.index_select(kp_value, paddle.to_tensor(list(keypoints), dtype='int64'), axis=1)
    known = paddle.isfinite(landmarks)
    target = paddle.where(known, landmarks, paddle.zeros_like(landmarks))
    mask = known.astype(kp_value.dtype)
    return ((chosen - target).abs() * mask).sum() / paddle.clip(mask.sum(), min=1.0)
