"""ppfom's networks have exactly the parameter names and shapes of PaddleGAN's published weights."""
import os

import pytest

from ppfom.models.networks import build_networks
from ppfom.utils.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_key_list(path):
    """``{'kp_detector': {key: shape}, 'generator': {...}}`` from a paddlegan_keys file."""
    sections, current = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith('## '):
                current = sections.setdefault(line.split()[1], {})
            elif line and not line.startswith('#'):
                key, shape = line.split(' ', 1)
                current[key] = tuple(int(s) for s in shape.strip('[]').split(',') if s.strip())
    return sections


@pytest.mark.parametrize('config,keys', [
    ('firstorder_vox_256.yaml', 'param_names_vox256.txt'),
    ('firstorder_vox_512.yaml', 'param_names_vox256.txt'),
    ('firstorder_vox_mobile_256.yaml', 'param_names_vox_mobile256.txt'),
])
def test_state_dict_matches_paddlegan(fixtures_dir, config, keys):
    expected = read_key_list(os.path.join(fixtures_dir, 'paddlegan_keys', keys))
    kp_detector, generator = build_networks(load_config(os.path.join(ROOT, 'configs', config)).model)
    for name, net in (('kp_detector', kp_detector), ('generator', generator)):
        ours = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        assert set(ours) == set(expected[name]), (
            f'{name}: missing {sorted(set(expected[name]) - set(ours))[:5]}, '
            f'unexpected {sorted(set(ours) - set(expected[name]))[:5]}')
        wrong = {k: (ours[k], expected[name][k]) for k in ours if ours[k] != expected[name][k]}
        assert not wrong, f'{name}: wrong shapes {list(wrong.items())[:5]}'
