"""Test helpers: a small FOMM (fixture A's seeded weights) saved as a ppfom model, empty files."""
import json
import os

import numpy as np
import paddle
import yaml

from ppfom.utils.checkpoint import torch_to_paddle_state


def empty_file(folder, name):
    """Create ``folder/name`` with 0 bytes (an upload or a download that failed); its path."""
    path = os.path.join(str(folder), name)
    open(path, 'wb').close()
    return path


def original_to_paddlegan(model_params):
    """The original FOMM YAML's model_params, in ppfom's (PaddleGAN's) layout."""
    return {'common_params': model_params['common_params'],
            'generator': {'kp_detector_cfg': model_params['kp_detector_params'],
                          'generator_cfg': model_params['generator_params']}}


def load_fixture(fixtures_dir, name):
    data = np.load(os.path.join(fixtures_dir, f'fomm_fixture_{name}.npz'))
    with open(os.path.join(fixtures_dir, f'fomm_fixture_{name}.json')) as f:
        meta = json.load(f)
    return data, meta


def fixture_torch_state(data):
    """``{'kp_detector': {torch key: array}, 'generator': {...}}`` of a fixture."""
    return {n: {k[len(n) + 1:]: data[k] for k in data.files if k.startswith(n + '/')}
            for n in ('kp_detector', 'generator')}


def write_small_model(fixtures_dir, folder, name='A'):
    """Write fixture ``name``'s networks as ``small.pdparams`` (PaddleGAN layout) and their
    config as ``small.yaml`` in ``folder``; return ``(config_path, weight_path)``."""
    data, meta = load_fixture(fixtures_dir, name)
    state = {n: torch_to_paddle_state(sd) for n, sd in fixture_torch_state(data).items()}
    weight_path = os.path.join(folder, 'small.pdparams')
    config_path = os.path.join(folder, 'small.yaml')
    paddle.save(state, weight_path)
    with open(config_path, 'w') as f:
        yaml.safe_dump({'model': original_to_paddlegan(meta['config']['model_params'])}, f)
    return config_path, weight_path
