"""GPEN-512 in PaddleGAN's layout: exact checkpoint layout, per-layer numpy checks, batching,
weights download/offline error, and the enhancer interface.

There is no reference output for GPEN: PaddleGAN's ``GPEN-512.pdparams`` cannot be downloaded
here. The layout (``paddlegan_keys/param_names_gpen512.txt``, read off PaddleGAN's own class)
must load exactly, each building block is checked against a plain numpy evaluation of its
definition (StyleGAN2: Karras et al. 2020; upfirdn2d), and a reduced-width GPEN runs on a real
face crop with identical per-image results for batches of 1 and 3.
"""
import math
import os

import cv2
import imageio.v3 as iio
import numpy as np
import paddle
import pytest

from ppfom.faceutils.face_enhancement import GPEN, GPENEnhancer, EnhancerWeightsError
from ppfom.faceutils.face_enhancement.gpen import (ConvLayer, EqualLinear, ModulatedConv2D,
                                                   Upsample, make_fir_kernel, upfirdn2d)
from ppfom.utils.download import DownloadError
from ppfom.utils.registry import ENHANCERS, build_from_config


def gpen_test_weights(keys_and_shapes, seed=0):
    """Seeded GPEN weights for the reference check (also tests/data/make_gpen_reference.py).

    One ``default_rng(seed)``; every key draws ``prod(shape)`` float32 normals ``z`` in order:
    weights ``z`` (equalised learning rate: N(0, 1) is the trained scale), modulation biases
    ``1 + 0.1 z``, other biases ``0.1 z``, noise strengths ``0.5 z`` (non-zero, so the encoder
    features matter), noise buffers ``z``; the FIR ``upsample.kernel`` is the fixed [1,3,3,1] x4.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in keys_and_shapes:
        z = rng.standard_normal(shape, dtype=np.float32)
        if key.endswith('upsample.kernel'):
            z = make_fir_kernel([1, 3, 3, 1], 4)
        elif key.endswith('modulation.bias'):
            z = z * np.float32(0.1) + np.float32(1)
        elif key.endswith('bias'):
            z = z * np.float32(0.1)
        elif key.endswith('noise.weight'):
            z = z * np.float32(0.5)
        out[key] = z
    return out


TINY = dict(size=64, style_dim=16, n_mlp=2, narrow=1 / 16)  # 64 px, 32..8 channels


def _layout(fixtures_dir):
    out = []
    with open(os.path.join(fixtures_dir, 'paddlegan_keys', 'param_names_gpen512.txt')) as f:
        for line in f:
            if line.strip() and not line.startswith('#'):
                key, shape = line.split(' ', 1)
                out.append((key, [int(s) for s in shape.strip(' []\n').split(',')]))
    return out


def _np_upfirdn(x, kernel, up, down, p0, p1):
    """upfirdn2d by its definition: zero insertion, zero padding, true convolution, decimation."""
    n, c, h, w = x.shape
    u = np.zeros((n, c, h * up, w * up), np.float64)
    u[:, :, ::up, ::up] = x
    u = np.pad(u, ((0, 0), (0, 0), (p0, p1), (p0, p1)))
    kh, kw = kernel.shape
    ho, wo = u.shape[2] - kh + 1, u.shape[3] - kw + 1
    out = np.zeros((n, c, ho, wo))
    for a in range(kh):
        for b in range(kw):  # convolution: kernel index runs against the input index
            out += kernel[kh - 1 - a, kw - 1 - b] * u[:, :, a:a + ho, b:b + wo]
    return out[:, :, ::down, ::down]


def _np_modulated_weight(conv, style):
    lin = conv.modulation
    s = style @ (lin.weight.numpy() * lin.scale) + lin.bias.numpy() * lin.lr_mul
    w = conv.weight.numpy()[0][None] * conv.scale * s[:, None, :, None, None]
    if conv.demodulate:
        w = w / np.sqrt((w ** 2).sum(axis=(2, 3, 4), keepdims=True) + 1e-8)
    return w  # (B, out, in, k, k)


def test_layout_is_paddlegans_exactly(fixtures_dir):
    layout = _layout(fixtures_dir)
    assert len(layout) == 164
    with paddle.LazyGuard():  # shapes only; the values come from the "file" below
        net = GPEN(size=512, style_dim=512, n_mlp=8)
    ours = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    assert ours == layout  # every key, shape and the order
    # a PaddleGAN GPEN-512.pdparams has no noise buffers: it must load as it is
    state = {k: np.full(s, i, np.float32) for i, (k, s) in enumerate(layout)
             if not k.startswith('generator.noises.')}
    from ppfom.faceutils.face_enhancement import check_and_load
    check_and_load(net, state, 'GPEN-512.pdparams', optional_prefixes=('generator.noises.',))
    for key in ('ecd3.0.1.weight', 'generator.to_rgbs.6.conv.modulation.weight',
                'final_linear.0.weight'):
        np.testing.assert_array_equal(net.state_dict()[key].numpy(), state[key])
    with pytest.raises(EnhancerWeightsError, match='missing: ecd0.0.0.weight'):
        check_and_load(net, {k: v for k, v in state.items() if k != 'ecd0.0.0.weight'}, 'x',
                       optional_prefixes=('generator.noises.',))
    bad = dict(state, **{'final_linear.0.weight': np.zeros([512, 8192], np.float32)})
    with pytest.raises(EnhancerWeightsError, match=r'wrong shape: final_linear.0.weight'):
        check_and_load(net, bad, 'x', optional_prefixes=('generator.noises.',))


def reference_face(data_dir):
    """The real face crop of the stored reference: ``(1, 3, 64, 64)`` in ``[-1, 1]``."""
    face = iio.imread(os.path.join(data_dir, 'images', 'paddlegan_fom_source.png'))
    face = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)
    return (face.astype(np.float32) / 255 * 2 - 1).transpose(2, 0, 1)[None]


def test_matches_paddlegans_gpen_on_a_real_face(data_dir):
    """Against PaddleGAN's own GPEN (ppgan 2.1.0) at a reduced size, same seeded weights:
    tests/data/make_gpen_reference.py made the stored output (a 512 run matched bit for bit
    too). The tolerance only absorbs thread-count effects; a wrong convention moves it by O(1)."""
    ref = np.load(os.path.join(os.path.dirname(__file__), '..', 'data', 'gpen64_ppgan210.npz'))
    with paddle.LazyGuard():
        net = GPEN(size=64, style_dim=64, n_mlp=2, channel_multiplier=1)
    keys_and_shapes = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    assert [k for k, _ in keys_and_shapes] == list(ref['keys'])
    from ppfom.faceutils.face_enhancement import check_and_load
    check_and_load(net, gpen_test_weights(keys_and_shapes), 'recipe')
    with paddle.no_grad():
        out = net(paddle.to_tensor(reference_face(data_dir))).numpy()
    err = np.abs(out - ref['output']).max()
    assert err < 1e-4 * max(1.0, np.abs(ref['output']).max()), err


def test_upfirdn2d_matches_definition():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    kernel = make_fir_kernel([1, 2, 3, 4])  # asymmetric: a missing flip shows
    for up, down, pad in ((1, 1, (2, 1)), (2, 1, (2, 1)), (1, 2, (2, 2)), (2, 1, (1, 1))):
        got = upfirdn2d(paddle.to_tensor(x), paddle.to_tensor(kernel), up, down, pad).numpy()
        want = _np_upfirdn(x, kernel, up, down, *pad)
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=str((up, down, pad)))


def test_fir_upsample_keeps_a_constant_image():
    """[1,3,3,1] x4 upsampling is a normalised interpolator: flat stays flat (away from the
    zero-padded border) and the size doubles."""
    up = Upsample([1, 3, 3, 1])
    out = up(paddle.full([1, 3, 8, 8], 0.7)).numpy()
    assert out.shape == (1, 3, 16, 16)
    np.testing.assert_allclose(out[:, :, 2:-2, 2:-2], 0.7, rtol=1e-6)


@pytest.mark.parametrize('upsample', [False, True])
def test_modulated_conv_matches_numpy(upsample):
    paddle.seed(2)
    conv = ModulatedConv2D(4, 3, 3, style_dim=6, upsample=upsample)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    style = rng.standard_normal((2, 6)).astype(np.float32)
    got = conv(paddle.to_tensor(x), paddle.to_tensor(style)).numpy()
    w = _np_modulated_weight(conv, style)
    if upsample:  # transposed conv, stride 2: every input sample scatters a k x k patch
        t = np.zeros((2, 3, 11, 11))
        for p in range(3):
            for q in range(3):
                t[:, :, p:p + 10:2, q:q + 10:2] += np.einsum('boc,bchw->bohw', w[..., p, q], x)
        want = _np_upfirdn(t, make_fir_kernel([1, 3, 3, 1], 4), 1, 1, 1, 1)
        assert got.shape == (2, 3, 10, 10)
    else:
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        want = sum(np.einsum('boc,bchw->bohw', w[..., p, q], xp[:, :, p:p + 5, q:q + 5])
                   for p in range(3) for q in range(3))
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_equal_linear_and_downsampling_conv_match_numpy():
    paddle.seed(4)
    rng = np.random.default_rng(4)
    lin = EqualLinear(8, 5, lr_mul=0.01, activation='fused_lrelu')
    lin.bias.set_value(rng.standard_normal(5).astype(np.float32) * 50)
    x = rng.standard_normal((3, 8)).astype(np.float32)
    pre = x @ lin.weight.numpy() * (0.01 / math.sqrt(8)) + lin.bias.numpy() * 0.01
    want = np.where(pre > 0, pre, 0.2 * pre) * math.sqrt(2)
    np.testing.assert_allclose(lin(paddle.to_tensor(x)).numpy(), want, rtol=1e-5, atol=1e-6)

    layer = ConvLayer(2, 3, 3, downsample=True)  # blur (pad 2, 2) -> 3x3 stride-2 conv
    img = rng.standard_normal((1, 2, 8, 8)).astype(np.float32)
    blurred = _np_upfirdn(img, make_fir_kernel([1, 3, 3, 1]), 1, 1, 2, 2)  # 9x9
    weight = layer[1].weight.numpy() / math.sqrt(2 * 9)
    pre = sum(np.einsum('oc,bchw->bohw', weight[:, :, p, q], blurred[:, :, p:p + 7:2, q:q + 7:2])
              for p in range(3) for q in range(3)) + layer[2].bias.numpy()[None, :, None, None]
    want = np.where(pre > 0, pre, 0.2 * pre) * math.sqrt(2)
    got = layer(paddle.to_tensor(img)).numpy()
    assert got.shape == (1, 3, 4, 4)
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.fixture(scope='module')
def tiny_weights(tmp_path_factory):
    paddle.seed(5)
    net = GPEN(**TINY)
    path = str(tmp_path_factory.mktemp('gpen') / 'GPEN-tiny.pdparams')
    state = {k: v for k, v in net.state_dict().items() if not k.startswith('generator.noises.')}
    for k, v in state.items():  # non-zero noise-injection strengths: the encoder skips matter
        if k.endswith('noise.weight'):
            v.set_value(paddle.to_tensor([0.5]))
    paddle.save(state, path)
    return path


@pytest.fixture(scope='module')
def faces(data_dir):
    face = iio.imread(os.path.join(data_dir, 'images', 'paddlegan_fom_source.png'))  # 256 crop
    batch = np.stack([face, face[:, ::-1], np.rot90(face).copy()])
    return batch.astype(np.float32).transpose(0, 3, 1, 2) / 255


def test_enhancer_batches_of_one_and_three_agree(tiny_weights, faces):
    enhancer = GPENEnhancer(weight_path=tiny_weights, batch_size=2, **TINY)
    together = enhancer.enhance(faces)  # network calls of 2 and 1 (a partial batch)
    assert together.shape == faces.shape and together.dtype == np.float32
    assert together.min() >= 0 and together.max() <= 1
    alone = np.concatenate([enhancer.enhance(faces[i:i + 1]) for i in range(3)])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert np.abs(together[0] - together[1]).mean() > 1e-3  # outputs follow their inputs
    # a paddle tensor in, a paddle tensor out; any crop size
    t = enhancer.enhance(paddle.to_tensor(faces[:2, :, :45, :45]))
    assert isinstance(t, paddle.Tensor) and t.shape == [2, 3, 45, 45]
    assert enhancer.enhance(faces[:0]).shape == (0, 3, 256, 256)


def test_enhancer_builds_from_registry(tiny_weights, faces):
    enhancer = build_from_config(dict(name='gpen', weight_path=tiny_weights, **TINY), ENHANCERS)
    assert isinstance(enhancer, GPENEnhancer) and 'gfpgan' in ENHANCERS
    np.testing.assert_array_equal(enhancer.enhance(faces[:1]),
                                  GPENEnhancer(weight_path=tiny_weights, **TINY)
                                  .enhance(faces[:1]))


def test_enhancer_rejects_bad_input(tiny_weights, faces):
    enhancer = GPENEnhancer(weight_path=tiny_weights, **TINY)
    for bad, match in ((faces * 255, r'\[0, 1\]'), ((faces * 255).astype(np.uint8), 'float'),
                       (faces[:, :, :, :200], 'square'), (faces[0], r'\(N, 3, H, H\)'),
                       (faces.tolist(), 'numpy array or a paddle Tensor')):
        with pytest.raises(ValueError, match=match):
            enhancer.enhance(bad)
    with pytest.raises(FileNotFoundError, match='--enhancer_weights'):
        GPENEnhancer(weight_path=tiny_weights + '.missing', **TINY)
    with pytest.raises(EnhancerWeightsError, match='does not fit GPEN'):
        GPENEnhancer(weight_path=tiny_weights, **dict(TINY, size=32))  # a 64 px file, 32 px net


def test_download_success_and_offline_error(tiny_weights, faces, tmp_path, monkeypatch):
    monkeypatch.setenv('PPFOM_HOME', str(tmp_path / 'cache'))
    url = 'file://' + tiny_weights
    enhancer = GPENEnhancer(url=url, **TINY)
    assert enhancer.weight_path == str(tmp_path / 'cache' / 'GPEN-tiny.pdparams')
    np.testing.assert_array_equal(enhancer.enhance(faces[:1]),
                                  GPENEnhancer(weight_path=tiny_weights, **TINY)
                                  .enhance(faces[:1]))
    missing = 'file://' + str(tmp_path / 'offline' / 'GPEN-512.pdparams')
    with pytest.raises(DownloadError) as info:
        GPENEnhancer(url=missing)
    message = str(info.value)
    assert '\n' not in message
    for part in ('GPEN-512.pdparams', missing, '--enhancer_weights'):
        assert part in message, (part, message)
