"""tools/grow_weights.py: a 64 px talk model grown into the 128 px candidate
(configs/firstorder_talk128.yaml) keeps every learnt tensor and takes the config-made anti-alias
kernel of its new scale_factor, so the grown model's dense motion sees the 128 px source as the
old one saw the 64 px source."""
import os
import subprocess
import sys

import numpy as np
import paddle

from conftest import ROOT

from ppfom.models.networks import build_networks
from ppfom.utils.config import get_config
from ppfom.utils.safe_pickle import load_pdparams


def test_grow_talk64_into_128px(tmp_path):
    old_path = os.path.join(ROOT, 'ppfom', 'weights', 'ppfom_talk64.pdparams')
    config = os.path.join(ROOT, 'configs', 'firstorder_talk128.yaml')
    out = tmp_path / 'grown.pdparams'
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'grow_weights.py'),
                             '-c', config, '--weights', old_path, '--out', str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "dense_motion_network.down.weight (3, 1, 5, 5) -> (3, 1, 13, 13) (the new config's " \
           "own value)" in result.stdout
    old, grown = load_pdparams(old_path, True), load_pdparams(str(out), True)
    _, generator = build_networks(get_config(config).model)
    fresh = {k: v.numpy() for k, v in generator.state_dict().items()}
    for name, value in grown['generator'].items():
        expected = fresh[name] if name == 'dense_motion_network.down.weight' \
            else old['generator'][name]
        assert np.array_equal(np.asarray(value), np.asarray(expected)), name
    # the new kernel is a normalised Gaussian (sigma (1/0.25 - 1)/2 = 1.5), not the old one
    kernel = np.asarray(grown['generator']['dense_motion_network.down.weight'])[0, 0]
    assert abs(kernel.sum() - 1) < 1e-5 and kernel.argmax() == 6 * 13 + 6
    # and the grown weights load into the 128 px model
    generator.set_state_dict({k: paddle.to_tensor(v) for k, v in grown['generator'].items()})
