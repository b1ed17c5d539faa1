"""Checkpoint layouts: PaddleGAN published weights, trainer checkpoints, strict key checks."""
import os

import numpy as np
import paddle
import pytest

from ppfom.models.networks import load_networks
from ppfom.utils.config import load_config
from ppfom.utils.checkpoint import CheckpointError, atomic_save, load_fomm_state

from helpers import load_fixture, write_small_model


def run_networks(kp_detector, generator, data):
    source = paddle.to_tensor(data['input/source'])
    driving = paddle.to_tensor(data['input/driving'])
    with paddle.no_grad():
        kp_s, kp_d = kp_detector(source), kp_detector(driving)
        return generator(source, kp_driving=kp_d, kp_source=kp_s)['prediction'].numpy()


def test_paddlegan_layout_round_trip(fixtures_dir, tmp_path):
    config, weights = write_small_model(fixtures_dir, str(tmp_path))
    data, _ = load_fixture(fixtures_dir, 'A')
    first = run_networks(*load_networks(load_config(config).model, weights), data)
    np.testing.assert_allclose(first, data['out/prediction'], atol=1e-3)

    # save what was loaded, in the published layout, and load it again: identical outputs
    kp_detector, generator = load_networks(load_config(config).model, weights)
    again = str(tmp_path / 'again.pdparams')
    paddle.save({'generator': generator.state_dict(), 'kp_detector': kp_detector.state_dict()},
                again)
    second = run_networks(*load_networks(load_config(config).model, again), data)
    np.testing.assert_array_equal(first, second)


def test_paddlegan_trainer_checkpoint_layout(fixtures_dir, tmp_path):
    """PaddleGAN's trainer saves the full generator as 'Gen_Full' (kp_extractor./generator.)."""
    _, weights = write_small_model(fixtures_dir, str(tmp_path))
    state = paddle.load(weights, return_numpy=True)
    gen_full = {f'kp_extractor.{k}': v for k, v in state['kp_detector'].items()}
    gen_full.update({f'generator.{k}': v for k, v in state['generator'].items()})
    path = str(tmp_path / 'epoch_1_checkpoint.pdparams')
    paddle.save({'Gen_Full': gen_full, 'epoch': 1}, path)
    loaded = load_fomm_state(path)
    for net in ('kp_detector', 'generator'):
        assert set(loaded[net]) == set(state[net])
        for key in state[net]:
            np.testing.assert_array_equal(loaded[net][key], state[net][key])


def test_mismatched_weights_are_an_error_naming_keys(fixtures_dir, tmp_path):
    os.makedirs(tmp_path / 'a')
    os.makedirs(tmp_path / 'c')
    config_a, _ = write_small_model(fixtures_dir, str(tmp_path / 'a'))
    _, weights_c = write_small_model(fixtures_dir, str(tmp_path / 'c'), name='C')
    with pytest.raises(CheckpointError) as err:
        load_networks(load_config(config_a).model, weights_c)
    message = str(err.value)
    assert 'wrong shape' in message and 'kp_detector' in message
    assert '\n' not in message


@pytest.mark.parametrize('content', [b'', b'not a checkpoint at all' * 10])
def test_unreadable_weights(tmp_path, content):
    path = tmp_path / 'broken.pdparams'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match='broken.pdparams'):
        load_fomm_state(str(path))


def test_missing_weights_and_torch_file(tmp_path):
    with pytest.raises(CheckpointError, match='not found'):
        load_fomm_state(str(tmp_path / 'nope.pdparams'))
    torch_file = tmp_path / 'vox-cpk.pth.tar'
    torch_file.write_bytes(b'x')
    with pytest.raises(CheckpointError, match='convert_weights.py'):
        load_fomm_state(str(torch_file))


def test_atomic_save_keeps_previous_file_on_failure(tmp_path):
    path = str(tmp_path / 'ckpt.pdparams')
    atomic_save({'a': np.ones(3, np.float32)}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError('boom')
    with pytest.raises(Exception):
        atomic_save({'a': Unpicklable()}, path)
    np.testing.assert_array_equal(paddle.load(path, return_numpy=True)['a'], np.ones(3))
    assert os.listdir(tmp_path) == ['ckpt.pdparams']
