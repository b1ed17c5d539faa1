"""The FOMM networks against the original PyTorch implementation (../shared/fixtures)."""
import numpy as np
import paddle
import pytest

from ppfom.models.networks import build_networks
from ppfom.modules.motion_transfer import movement_scale, normalize_kp
from ppfom.utils.checkpoint import load_into, torch_to_paddle_state

from helpers import load_fixture, original_to_paddlegan


def build_from_fixture(data, meta):
    kp_detector, generator = build_networks(
        original_to_paddlegan(meta['config']['model_params']))
    for name, net in (('kp_detector', kp_detector), ('generator', generator)):
        prefix = name + '/'
        state = torch_to_paddle_state({k[len(prefix):]: data[k] for k in data.files
                                       if k.startswith(prefix)})
        load_into(net, state, name)
        net.eval()
    return kp_detector, generator


def run_reference_protocol(data, kp_detector, generator):
    """What the fixture recipe ran: absolute motion, then normalize_kp (all options on)."""
    t = {k: paddle.to_tensor(data[f'input/{k}']) for k in ('source', 'driving', 'driving_initial')}
    out = {}
    with paddle.no_grad():
        kp = {k: kp_detector(v) for k, v in t.items()}
        for k, v in kp.items():
            out[f'out/kp_{k}/value'] = v['value']
            out[f'out/kp_{k}/jacobian'] = v['jacobian']
        gen = generator(t['source'], kp_driving=kp['driving'], kp_source=kp['source'])
        for key in ('prediction', 'occlusion_map', 'deformation', 'sparse_deformed', 'mask',
                    'deformed'):
            out[f'out/{key}'] = gen[key]
        kp_norm = normalize_kp(kp['source'], kp['driving'], kp['driving_initial'],
                               adapt_movement_scale=True, use_relative_movement=True,
                               use_relative_jacobian=True)
        out['out/norm/value'] = kp_norm['value']
        out['out/norm/jacobian'] = kp_norm['jacobian']
        out['out/norm/adapt_movement_scale'] = movement_scale(kp['source'], kp['driving_initial'])
        gen = generator(t['source'], kp_driving=kp_norm, kp_source=kp['source'])
        for key in ('prediction', 'occlusion_map', 'deformation', 'mask'):
            out[f'out/norm_{key}'] = gen[key]
    return {k: np.asarray(v) if not isinstance(v, paddle.Tensor) else v.numpy()
            for k, v in out.items()}


@pytest.mark.parametrize('name', ['A', 'C'])
def test_matches_original_fomm(fixtures_dir, name):
    data, meta = load_fixture(fixtures_dir, name)
    kp_detector, generator = build_from_fixture(data, meta)
    ours = run_reference_protocol(data, kp_detector, generator)
    expected_keys = {k for k in data.files if k.startswith('out/')}
    assert expected_keys == set(ours), 'the fixture and this test disagree on the outputs'
    failures = []
    for key in sorted(expected_keys):
        ref = data[key]
        # the scalar scale has no suggested bound: use the keypoints' own
        atol = meta['suggested_atol'].get(key, meta['suggested_atol']['out/norm/value'])
        assert ours[key].shape == ref.shape, key
        err = float(np.abs(ours[key] - ref).max())
        if err > atol:
            failures.append(f'{key}: max abs err {err:.3g} > atol {atol:.3g}')
    assert not failures, '\n'.join(failures)
