"""tools/convert_weights.py on real PyTorch checkpoint files (both torch serialisation formats)."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch  # requirements-dev.txt installs the CPU build; only this test writes .pth files
import yaml

from ppfom.models.networks import load_networks
from ppfom.utils.config import load_config
from ppfom.utils.checkpoint import CheckpointError
from ppfom.models.convert import convert_fomm_checkpoint

from helpers import fixture_torch_state, load_fixture, original_to_paddlegan
from utils.test_checkpoint import run_networks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_original_checkpoint(data, path, zip_format):
    """What the original train.py saves: state dicts (with BN counters) plus optimizer/epoch."""
    state = {}
    for net, sd in fixture_torch_state(data).items():
        state[net] = {k: torch.from_numpy(np.array(v)) for k, v in sd.items()}
        for key in list(state[net]):
            if key.endswith('running_mean'):
                state[net][key[:-len('running_mean')] + 'num_batches_tracked'] = torch.tensor(7)
    state['epoch'] = 99
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)


@pytest.mark.parametrize('zip_format', [True, False], ids=['zip', 'legacy'])
def test_converted_checkpoint_reproduces_the_original(fixtures_dir, tmp_path, zip_format):
    data, meta = load_fixture(fixtures_dir, 'A')
    src, dst = str(tmp_path / 'vox-cpk.pth.tar'), str(tmp_path / 'vox-cpk.pdparams')
    write_original_checkpoint(data, src, zip_format)
    config = str(tmp_path / 'model.yaml')
    with open(config, 'w') as f:
        yaml.safe_dump({'model': original_to_paddlegan(meta['config']['model_params'])}, f)

    result = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'convert_weights.py'),
                             src, dst, '-c', config], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    nets = load_networks(load_config(config).model, dst)
    np.testing.assert_allclose(run_networks(*nets, data), data['out/prediction'],
                               atol=meta['suggested_atol']['out/prediction'])


def test_converter_refuses_weights_of_another_config(fixtures_dir, tmp_path):
    data, _ = load_fixture(fixtures_dir, 'A')
    src, dst = str(tmp_path / 'a.pth.tar'), str(tmp_path / 'a.pdparams')
    write_original_checkpoint(data, src, True)
    with pytest.raises(CheckpointError, match='do not match'):
        convert_fomm_checkpoint(src, dst, os.path.join(ROOT, 'configs', 'firstorder_vox_256.yaml'))
    assert not os.path.exists(dst)
