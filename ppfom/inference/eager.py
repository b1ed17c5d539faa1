"""Eager (dynamic graph) backend: the networks run as Paddle layers."""
import numpy as np
import paddle


def kp_to_numpy(kp):
    """Keep ``value``, ``jacobian`` and ``landmarks`` of a keypoint dict, as numpy arrays."""
    return {k: v.numpy() for k, v in kp.items() if k in ('value', 'jacobian', 'landmarks')}


def kp_to_tensor(kp):
    return {k: paddle.to_tensor(np.ascontiguousarray(v, dtype=np.float32)) for k, v in kp.items()}


class EagerBackend:
    """Runs ``kp_detector`` and ``generator`` eagerly under ``paddle.no_grad``.

    The sources' encoder features are computed once in :meth:`set_source` and reused for every
    batch of driving frames (the generator's ``source_features`` argument).
    """

    name = 'eager'

    def __init__(self, kp_detector, generator):
        self.kp_detector = kp_detector.eval()
        self.generator = generator.eval()
        #: the keypoint detector reads FaceMesh landmarks ``(N, 468, 2)``, not images
        self.takes_landmarks = bool(getattr(kp_detector, 'takes_landmarks', False))
        self._source = None

    @paddle.no_grad()
    def keypoints(self, images):
        return kp_to_numpy(self.kp_detector(paddle.to_tensor(images)))

    @paddle.no_grad()
    def set_source(self, source, kp_source, source_output=None):
        """``source_output``: the same sources at the output resolution, for generators that
        compose the warped source (``compose_deformed``) above their own resolution."""
        source = paddle.to_tensor(source)
        self._source = (source, kp_to_tensor(kp_source), self.generator.encode_source(source))
        self._source_output = None if source_output is None else paddle.to_tensor(source_output)

    @paddle.no_grad()
    def animate(self, kp_driving):
        if self._source is None:
            raise RuntimeError('call set_source() before animate()')
        source, kp_source, features = self._source
        repeats = kp_driving['value'].shape[0] // source.shape[0]
        expand = lambda t: paddle.repeat_interleave(t, repeats, axis=0)  # noqa: E731
        out = self.generator(expand(source), kp_driving=kp_to_tensor(kp_driving),
                             kp_source={k: expand(v) for k, v in kp_source.items()},
                             source_features=expand(features))
        if self._source_output is not None:
            return self.generator.compose_at(out, expand(self._source_output)).numpy()
        return out['prediction'].numpy()
