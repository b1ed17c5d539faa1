"""Backends that run the two FOMM networks for the animation pipeline.

Every backend has the same small interface (numpy in, numpy out, float32):

``keypoints(images)``
    ``images`` ``(N, 3, H, W)`` in ``[0, 1]`` -> ``{'value': (N, K, 2), 'jacobian': (N, K, 2, 2)}``.
``set_source(source, kp_source)``
    ``source`` ``(1, 3, H, W)``; does once all the work that depends only on the source.
``animate(kp_driving)``
    keypoint dict with N entries (already normalised) -> ``(N, 3, H, W)`` frames in ``[0, 1]``.
"""
from .eager import EagerBackend  # noqa: F401
