"""Backends that run the two FOMM networks for the animation pipeline.

Every backend has the same small interface (numpy in, numpy out, float32):

``keypoints(images)``
    ``images`` ``(N, 3, H, W)`` in ``[0, 1]`` -> ``{'value': (N, K, 2), 'jacobian': (N, K, 2, 2)}``;
    when ``backend.takes_landmarks`` (keypoints measured from face landmarks), ``(N, 468, 2)``
    FaceMesh landmarks in ``[-1, 1]`` (x, y) instead of images.
``set_source(source, kp_source, source_output=None)``
    ``source`` ``(F, 3, H, W)``: one or several source images (faces), with their keypoints
    ``(F, K, 2)`` / ``(F, K, 2, 2)``; does once all the work that depends only on the sources.
    ``source_output``: the sources at the output resolution when it is higher than the
    network's (only for generators with ``compose_deformed``); frames then come at that size.
``animate(kp_driving)``
    keypoint dict with ``F * N`` entries (already normalised), source-major: item ``f * N + n`` is
    driving frame ``n`` for source ``f`` -> ``(F * N, 3, H, W)`` frames in ``[0, 1]``.
"""
from .eager import EagerBackend  # noqa: F401
# the Paddle Inference backend: ppfom.inference.paddle_inference (imported on demand)
