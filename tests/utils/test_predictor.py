"""LayerRunner: a network compiled once to a cached Paddle Inference program gives the eager
network's outputs, reuses its cache, and rejects what it cannot run."""
import os

import numpy as np
import paddle
import pytest

from ppfom.utils.predictor import LayerRunner


class TwoHeads(paddle.nn.Layer):
    """A small conv net with two outputs, as the face networks have."""

    def __init__(self):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, 8, 3, padding=1)
        self.head_a = paddle.nn.Conv2D(8, 4, 1)
        self.head_b = paddle.nn.Conv2D(8, 1, 1)

    def forward(self, x):
        h = paddle.nn.functional.relu(self.conv(x))
        return self.head_a(h).mean(axis=[2, 3]), self.head_b(h)


@pytest.fixture()
def net():
    paddle.seed(3)
    layer = TwoHeads()
    layer.eval()
    return layer


def test_program_equals_eager_and_is_cached(net, tmp_path):
    x = np.random.default_rng(0).random((3, 3, 16, 16), np.float32)
    eager = LayerRunner(net, (-1, 3, 16, 16), key='w1', backend='eager')
    compiled = LayerRunner(net, (-1, 3, 16, 16), key='w1', name='twoheads',
                           backend='inference', cache_dir=str(tmp_path))
    assert eager.predictor is None and compiled.predictor is not None
    for batch in (x, x[:1]):          # the batch size is free
        want, got = eager(batch), compiled(batch)
        assert [g.shape for g in got] == [w.shape for w in want] == [(len(batch), 4),
                                                                     (len(batch), 1, 16, 16)]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-5, rtol=0)
    # the eager layer is still eager after compiling (to_static worked on a copy)
    assert not hasattr(net.forward, 'concrete_program')
    # one folder per key; a second runner with the same key reuses it without writing
    folders = os.listdir(tmp_path)
    assert len(folders) == 1 and folders[0].startswith('twoheads-')
    params = os.path.join(tmp_path, folders[0], 'net.pdiparams')
    stamp = os.stat(params).st_mtime_ns
    again = LayerRunner(net, (-1, 3, 16, 16), key='w1', name='twoheads', backend='inference',
                        cache_dir=str(tmp_path))
    np.testing.assert_allclose(again(x)[1], eager(x)[1], atol=1e-5, rtol=0)
    assert os.stat(params).st_mtime_ns == stamp
    # other weights (another key): another program
    LayerRunner(net, (-1, 3, 16, 16), key='w2', name='twoheads', backend='inference',
                cache_dir=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 2


def test_unknown_backend(net):
    with pytest.raises(ValueError, match="backend must be one of auto, inference, eager"):
        LayerRunner(net, (-1, 3, 16, 16), key='w', backend='onnx')


def test_auto_is_inference_on_cpu(net, tmp_path):
    runner = LayerRunner(net, (-1, 3, 16, 16), key='w', cache_dir=str(tmp_path))
    assert runner.backend == ('inference' if paddle.device.get_device() == 'cpu' else 'eager')
