"""GFPGANv1Clean (GFPGAN v1.3/v1.4) against the reference fixture, and its weight converter.

The fixture (``../shared/fixtures/gfpgan_fixture.*``, FACE_FIXTURES_NOTES.md Sec. 3) holds the
outputs of the official PyTorch GFPGANv1Clean (gfpgan 1.3.8) for a real 512 face with seeded
weights regenerated bit-exactly by ``recipe.make_weights``; ``randomize_noise=False``.
Tolerances from the notes: image atol 1e-4, intermediates atol 2e-5 (1 vs 2 threads alone moves
them by 7e-6 / 2e-6), uint8 image +-1 on a few pixels. Typical porting mistakes move the image by
1e-5 (demod eps) to 5 (``sensitivity.json``).
"""
import json
import os
import sys
import types

import numpy as np
import paddle
import pytest

from ppfom.faceutils.face_enhancement import GFPGANEnhancer, GFPGANv1Clean, \
    gfpgan_torch_to_paddle
from ppfom.faceutils.face_enhancement.stylegan2_clean import ModulatedConv2d

IMAGE_ATOL = 1e-4
INTERMEDIATE_ATOL = 2e-5


def _fake_torch_pickle(monkeypatch, mapping):
    """Stand in for ppfom.utils.torch_pickle (a torch-free .pth reader kept on its own branch):
    ``load_torch_checkpoint(path)`` returns ``mapping[file name]``, the dict a real .pth would
    hold."""
    module = types.ModuleType('ppfom.utils.torch_pickle')

    def load_torch_checkpoint(path, data_only=False):
        return mapping[os.path.basename(path)]
    module.load_torch_checkpoint = load_torch_checkpoint
    monkeypatch.setitem(sys.modules, 'ppfom.utils.torch_pickle', module)


@pytest.fixture(scope='module')
def fixture(fixtures_dir):
    js = json.load(open(os.path.join(fixtures_dir, 'gfpgan_fixture.json')))
    npz = dict(np.load(os.path.join(fixtures_dir, 'gfpgan_fixture.npz')))
    return js, npz


@pytest.fixture(scope='module')
def reference_run(fixture, fixtures_dir, tmp_path_factory):
    """Official .pth dict (recipe weights under ``params_ema``) -> tools/convert_gfpgan.py ->
    GFPGANEnhancer(weight_path=converted) -> one enhance() on the fixture face, plus the U-Net
    intermediates."""
    js, npz = fixture
    torch_state = _make_weights(fixtures_dir, js['keys_and_shapes'], js['weights']['seed'])
    tmp = tmp_path_factory.mktemp('gfpgan')
    src, dst = str(tmp / 'GFPGANv1.4.pth'), str(tmp / 'GFPGANv1.4.pdparams')
    open(src, 'wb').close()
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
    try:
        import convert_gfpgan
    finally:
        sys.path.pop(0)
    with pytest.MonkeyPatch.context() as mp:
        _fake_torch_pickle(mp, {os.path.basename(src): {'params_ema': torch_state, 'params': {}}})
        convert_gfpgan.main([src, dst])
    enhancer = GFPGANEnhancer(weight_path=dst, batch_size=1)
    captured = {}

    def restore_with_intermediates(x):  # the enhancer's only network call, run once
        style_code, conditions, out_rgbs = enhancer.net.encode(x, return_rgb=True)
        captured.update(input=x.numpy(), style_code=style_code.numpy(), out_rgbs=[
            r.numpy() for r in out_rgbs], conditions=[c.numpy() for c in conditions])
        return enhancer.net.decode(style_code, conditions, randomize_noise=False)
    enhancer.restore = restore_with_intermediates
    faces = (npz['input_rgb_u8'].astype(np.float32) / 255).transpose(2, 0, 1)[None]
    enhanced = enhancer.enhance(faces)
    return dict(captured, torch_state=torch_state, enhanced=enhanced, dst=dst, net=enhancer.net)


def test_parameter_names_are_the_official_ones(fixture, reference_run):
    js, _ = fixture
    net = reference_run['net']  # a default GFPGANv1Clean()
    ours = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    official = [(k, [int(s) for s in shape]) for k, shape in js['keys_and_shapes']]
    assert [k for k, _ in ours] == [k for k, _ in official]
    for (key, shape), (_, ref_shape) in zip(ours, official):
        # nn.Linear stores [in, out]; torch stores [out, in]
        expected = ref_shape[::-1] if len(ref_shape) == 2 else ref_shape
        assert shape == expected, key
    assert sum(int(np.prod(s)) for _, s in ours) == js['num_params_total']


def test_image_matches_reference(reference_run, fixture):
    _, npz = fixture
    got = reference_run['enhanced'][0]
    want = np.clip((npz['image'][0] + 1) / 2, 0, 1)  # enhance() returns [0, 1]
    err = np.abs(got - want).max()
    assert err < IMAGE_ATOL / 2, err
    got_u8 = np.round(got * 255).astype(np.int16).transpose(1, 2, 0)
    diff = np.abs(got_u8 - npz['image_u8_rgb'].astype(np.int16))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (diff.max(), (diff > 0).sum())


def test_unet_rgbs_match_reference(reference_run, fixture):
    _, npz = fixture
    assert len(reference_run['out_rgbs']) == 7
    for i, rgb in enumerate(reference_run['out_rgbs']):
        assert rgb.shape == npz[f'out_rgb{i}'].shape
        err = np.abs(rgb - npz[f'out_rgb{i}']).max()
        assert err < INTERMEDIATE_ATOL, (i, err)


def test_style_code_and_sft_conditions_match_reference(reference_run, fixture):
    js, npz = fixture
    err = np.abs(reference_run['style_code'] - npz['style_code']).max()
    assert err < INTERMEDIATE_ATOL, err
    conditions = reference_run['conditions']
    assert len(conditions) == 14
    for i in range(2):
        for j, name in enumerate(('cond_scale', 'cond_shift')):
            err = np.abs(conditions[2 * i + j] - npz[f'{name}{i}']).max()
            assert err < INTERMEDIATE_ATOL, (name, i, err)
    # the deeper conditions are stored as statistics only
    for i in range(2, 7):
        for j, name in enumerate(('cond_scale', 'cond_shift')):
            stats = js['stats']['conditions'][f'{name}{i}']
            c = conditions[2 * i + j]
            assert list(c.shape) == stats['shape']
            assert abs(c.mean() - stats['mean']) < 1e-4 and abs(c.std() - stats['std']) < 1e-4


def test_enhancer_feeds_the_reference_input(reference_run, fixture):
    _, npz = fixture
    err = np.abs(reference_run['input'] - npz['input']).max()
    assert err < 1e-6, err  # (u8/255)*2-1 vs (u8/255-0.5)/0.5: rounding only


def test_converter_transposes_linears_only(reference_run):
    torch_state = reference_run['torch_state']
    converted = gfpgan_torch_to_paddle(torch_state)
    assert list(converted) == list(torch_state)
    linears = [k for k, v in torch_state.items() if v.ndim == 2]
    # final_linear, 8 style_mlp layers; modulations: style_conv1, to_rgb1, 14 style_convs, 7 to_rgbs
    assert 'final_linear.weight' in linears and len(linears) == 1 + 8 + 2 + 14 + 7
    for key, value in torch_state.items():
        if value.ndim == 2:
            assert converted[key].flags.c_contiguous and np.array_equal(converted[key], value.T)
        else:
            assert np.may_share_memory(converted[key], value)  # passed through, not copied
    assert os.path.getsize(reference_run['dst']) > 4 * sum(v.size for v in converted.values())


def test_converter_rejects_other_architectures(fixtures_dir):
    original = json.load(open(os.path.join(fixtures_dir, 'gfpganv1_original_keys.json')))
    state = {k: np.zeros([1], np.float32) for k, _ in original['keys_and_shapes']}
    with pytest.raises(ValueError, match='original GFPGANv1'):
        gfpgan_torch_to_paddle(state)
    with pytest.raises(ValueError, match='not a GFPGANv1Clean'):
        gfpgan_torch_to_paddle({'conv1.weight': np.zeros([1], np.float32)})


def test_modulated_conv_matches_plain_numpy():
    """The 'clean' modulated conv (upsample mode) against a direct numpy evaluation."""
    paddle.seed(3)
    conv = ModulatedConv2d(4, 3, 3, num_style_feat=5, demodulate=True, sample_mode='upsample')
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 3)).astype(np.float32)
    style = np.random.default_rng(1).standard_normal((2, 5)).astype(np.float32)
    got = conv(paddle.to_tensor(x), paddle.to_tensor(style)).numpy()

    lin_w, lin_b = conv.modulation.weight.numpy(), conv.modulation.bias.numpy()
    s = style @ lin_w + lin_b                              # (2, 4)
    w = conv.weight.numpy()[0][None] * s[:, None, :, None, None]
    w = w / np.sqrt((w ** 2).sum(axis=(2, 3, 4), keepdims=True) + 1e-8)

    def up1d(n):  # bilinear x2, half-pixel centres, edge-clamped: 1-D weights per output
        m = np.zeros((2 * n, n))
        for o in range(2 * n):
            src = max((o + 0.5) / 2 - 0.5, 0)
            i0 = min(int(np.floor(src)), n - 1)
            i1 = min(i0 + 1, n - 1)
            m[o, i0] += 1 - (src - i0)
            m[o, i1] += src - i0
        return m
    m = up1d(3)
    xu = np.einsum('ph,bchw,qw->bcpq', m, x, m)
    xp = np.pad(xu, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((2, 3, 6, 6))
    for p in range(3):
        for q in range(3):
            want += np.einsum('boc,bchw->bohw', w[:, :, :, p, q], xp[:, :, p:p + 6, q:q + 6])
    np.testing.assert_allclose(got, want, atol=1e-5)


def _make_weights(fixtures_dir, keys_and_shapes, seed):
    sys.path.insert(0, fixtures_dir)
    try:
        from recipe import make_weights
    finally:
        sys.path.remove(fixtures_dir)
    return make_weights(keys_and_shapes, seed)


def _tiny_torch_state(fixtures_dir, seed=0):
    """A torch-layout state dict for a small GFPGANv1Clean, from the fixture's weight recipe
    (its gains keep every activation O(1), with non-zero noise)."""
    with paddle.LazyGuard():
        net = GFPGANv1Clean(**TINY)
    keys_and_shapes = [(k, list(v.shape)[::-1] if len(v.shape) == 2 else list(v.shape))
                       for k, v in net.state_dict().items()]
    return _make_weights(fixtures_dir, keys_and_shapes, seed)


TINY = dict(out_size=32, num_style_feat=16, channel_multiplier=1, narrow=0.125, num_mlp=2)


def test_enhancer_reads_pth_and_caches_conversion(tmp_path, monkeypatch, data_dir,
                                                  fixtures_dir):
    """A .pth (given or downloaded) is converted once; the cached .pdparams is used next time.
    The noise is fixed by default and random with randomize_noise=True."""
    import imageio.v3 as iio
    torch_state = _tiny_torch_state(fixtures_dir)
    pth = tmp_path / 'src' / 'GFPGANtiny.pth'
    pth.parent.mkdir()
    pth.write_bytes(b'not really torch')
    _fake_torch_pickle(monkeypatch, {pth.name: {'params_ema': torch_state}})
    monkeypatch.setenv('PPFOM_HOME', str(tmp_path / 'cache'))
    url = 'file://' + str(pth)

    face = iio.imread(os.path.join(data_dir, 'images', 'paddlegan_fom_source.png'))
    faces = np.stack([face, face[:, ::-1]]).astype(np.float32).transpose(0, 3, 1, 2) / 255
    direct = GFPGANEnhancer(weight_path=str(pth), **TINY).enhance(faces)
    downloaded = GFPGANEnhancer(url=url, **TINY)
    cached = str(tmp_path / 'cache' / 'GFPGANtiny.pdparams')
    assert os.path.isfile(cached)
    np.testing.assert_array_equal(downloaded.enhance(faces), direct)
    pth.unlink()
    os.remove(str(tmp_path / 'cache' / 'GFPGANtiny.pth'))
    again = GFPGANEnhancer(url=url, **TINY)
    assert again.weight_path == cached
    out = again.enhance(faces)
    np.testing.assert_array_equal(out, direct)
    assert out.shape == faces.shape and out.dtype == np.float32
    assert np.abs(out - faces).mean() > 1e-3  # the network did something
    np.testing.assert_allclose(again.enhance(faces[1:]), out[1:], atol=1e-5)  # batch of 1

    noisy = GFPGANEnhancer(weight_path=cached, randomize_noise=True, **TINY)
    a, b = noisy.enhance(faces[:1]), noisy.enhance(faces[:1])
    assert np.abs(a - b).max() > 1e-3


def test_offline_error_names_file_url_flag_and_conversion(tmp_path, monkeypatch):
    monkeypatch.setenv('PPFOM_HOME', str(tmp_path / 'cache'))
    url = 'file://' + str(tmp_path / 'nowhere' / 'GFPGANv1.4.pth')
    with pytest.raises(Exception) as info:
        GFPGANEnhancer(url=url)
    message = str(info.value)
    assert type(info.value).__name__ == 'DownloadError'
    assert '\n' not in message
    for part in ('GFPGANv1.4.pth', url, '--enhancer_weights',
                 'tools/convert_gfpgan.py GFPGANv1.4.pth GFPGANv1.4.pdparams'):
        assert part in message, (part, message)


def test_convert_cli_errors_are_one_line(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
    try:
        import convert_gfpgan
    finally:
        sys.path.pop(0)
    with pytest.raises(SystemExit) as info:
        convert_gfpgan.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'out.pdparams')])
    assert info.value.code == 1 and 'missing.pth not found' in capsys.readouterr().err
    src = tmp_path / 'GFPGANv1.pth'
    src.write_bytes(b'')
    _fake_torch_pickle(monkeypatch, {src.name: {'params_ema': {
        'conv_body_first.0.weight': np.zeros([16, 3, 1, 1], np.float32)}}})
    with pytest.raises(SystemExit) as info:
        convert_gfpgan.main([str(src), str(tmp_path / 'out.pdparams')])
    err = capsys.readouterr().err
    assert info.value.code == 1 and 'original GFPGANv1' in err and err.count('\n') == 1
    assert not os.path.exists(tmp_path / 'out.pdparams')
