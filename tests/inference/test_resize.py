"""ppfom.modules.resize against F.interpolate (the ops it replaces in exported programs)."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from ppfom.modules.resize import (bilinear_matrix, resize_bilinear, resize_nearest,
                                  upsample_nearest2x)


def _rand(shape, seed=0):
    return paddle.to_tensor(np.random.default_rng(seed).standard_normal(shape).astype('float32'))


@pytest.mark.parametrize('shape', [(2, 3, 4, 5), (1, 16, 8, 8), (3, 1, 1, 7)])
def test_upsample_nearest2x_is_interpolate(shape):
    x = _rand(shape)
    ours = upsample_nearest2x(x).numpy()
    ref = F.interpolate(x, scale_factor=2, mode='nearest').numpy()
    assert ours.shape == ref.shape
    assert np.array_equal(ours, ref)


@pytest.mark.parametrize('shape,size', [
    ((2, 2, 64, 64), (256, 256)),   # the generator's deformation field, vox-256
    ((1, 2, 32, 32), (128, 128)),
    ((1, 1, 16, 24), (64, 48)),     # non-square, different factors per axis
    ((2, 3, 10, 7), (23, 5)),       # non-integer factors, up on one axis and down on the other
    ((1, 1, 64, 64), (64, 64)),     # unchanged
    ((1, 4, 9, 9), (3, 3)),         # downsampling
])
def test_resize_bilinear_is_interpolate(shape, size):
    x = _rand(shape, seed=1)
    ours = resize_bilinear(x, size).numpy()
    ref = F.interpolate(x, size=size, mode='bilinear', align_corners=False).numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)


def test_bilinear_matrix_known_values():
    # 2 -> 4 pixels, half-pixel centres: 0, 0.25, 0.75, 1 of the way from pixel 0 to pixel 1
    expected = np.array([[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]], np.float32)
    np.testing.assert_allclose(bilinear_matrix(2, 4), expected, atol=0)
    assert np.allclose(bilinear_matrix(13, 5).sum(axis=1), 1.0)


@pytest.mark.parametrize('shape,size', [((2, 3, 10, 7), (23, 5)), ((1, 3, 64, 64), (21, 21)),
                                        ((1, 3, 5, 5), (10, 10))])
def test_resize_nearest_is_interpolate(shape, size):
    x = _rand(shape, seed=2)
    ours = resize_nearest(x, size).numpy()
    ref = F.interpolate(x, size=size, mode='nearest').numpy()
    assert np.array_equal(ours, ref)


def test_resize_rejects_bad_size():
    with pytest.raises(ValueError, match='height, width'):
        resize_bilinear(_rand((1, 1, 4, 4)), (0, 4))
