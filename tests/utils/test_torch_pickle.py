"""The torch-free checkpoint reader against two real torch.save files (zip and legacy format).

tests/data/tiny_*.pth were written by torch 2.13 with tests/data/make_torch_checkpoints.py; the
expected values below are the same formulas evaluated with numpy.
"""
import collections
import os

import numpy as np
import pytest

from ppfom.utils.torch_pickle import PickledObject, TorchCheckpointError, load_torch_checkpoint

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data')


def expected_tensors():
    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / np.float32(8) - np.float32(1.5)
    return {
        'conv.weight': base,
        'conv.bias': np.array([0.5, -0.25, 3.0], np.float32),
        'view_t': base[1].T,
        'bn.num_batches_tracked': np.array(7, np.int64),
        'half': (np.arange(6, dtype=np.float32) / 4).astype(np.float16),
        'bf16': np.arange(5, dtype=np.float32) - 2,   # exactly representable in bfloat16
        'double': np.arange(4, dtype=np.float64) * 0.1,
        'int32': np.arange(-3, 3, dtype=np.int32),
        'uint8': np.arange(250, 256, dtype=np.uint8),
        'bool': np.array([True, False, True]),
        'empty': np.zeros((0, 3), np.float32),
        'param': np.full((2, 2), 2, np.float32),
    }


@pytest.mark.parametrize('name', ['tiny_zip.pth', 'tiny_legacy.pth'])
def test_reads_real_torch_files(name):
    ckpt = load_torch_checkpoint(os.path.join(DATA, name))
    gen = ckpt['generator']
    assert isinstance(gen, collections.OrderedDict)
    want = expected_tensors()
    assert list(gen) == list(want)
    for key, value in want.items():
        got = gen[key]
        assert isinstance(got, np.ndarray), key
        assert got.dtype == value.dtype and got.shape == value.shape, key
        np.testing.assert_array_equal(got, value, err_msg=key)
        assert got.flags.c_contiguous
    np.testing.assert_array_equal(ckpt['kp_detector']['kp.weight'],
                                  np.arange(6, dtype=np.float32).reshape(3, 2))
    assert ckpt['epoch'] == 99 and ckpt['name'] == 'tiny'
    assert isinstance(ckpt['args'], PickledObject)
    assert ckpt['args'].cls == 'argparse.Namespace' and ckpt['args'].state == {'lr': 0.5}


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'not a pickle at all')
    with pytest.raises(TorchCheckpointError, match='not'):
        load_torch_checkpoint(str(bad))
    with pytest.raises(FileNotFoundError):
        load_torch_checkpoint(str(tmp_path / 'missing.pth'))


def test_truncated_legacy_file(tmp_path):
    data = open(os.path.join(DATA, 'tiny_legacy.pth'), 'rb').read()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:-10])
    with pytest.raises(TorchCheckpointError, match='truncated'):
        load_torch_checkpoint(str(cut))
