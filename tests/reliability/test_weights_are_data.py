"""Weights are data (issue 15, case 14): every weights and checkpoint reader refuses crafted
files that would run code, creating nothing; real files load bit-identically to paddle.load."""
import glob
import os
import random
import sys

import numpy as np
import paddle
import pytest

from faults import ROOT, TINY_CONFIG
from malicious import (fomm_like, payloads, write_pdparams, write_torch_legacy,
                       write_torch_zip)
from ppfom.utils.checkpoint import CheckpointError, load_fomm_state
from ppfom.utils.safe_pickle import UnsafePickleError, WeightsReadError, load_pdparams
from ppfom.utils.torch_pickle import PickledObject, load_torch_checkpoint

PAYLOADS = sorted(payloads('x'))


@pytest.mark.parametrize('kind', PAYLOADS)
def test_pdparams_payload_refused_and_nothing_created(tmp_path, kind):
    marker = str(tmp_path / 'created')
    path = write_pdparams(tmp_path / 'evil.pdparams', fomm_like(payloads(marker)[kind]))
    with pytest.raises(UnsafePickleError, match='evil.pdparams asks to run .*refused'):
        load_pdparams(path)
    with pytest.raises(CheckpointError, match='evil.pdparams.*refused'):  # the demo's loader
        load_fomm_state(path)
    assert not os.path.exists(marker)


def test_eval_is_only_allowed_for_a_saved_dense_tensor(tmp_path):
    marker = str(tmp_path / 'created')
    dense = write_pdparams(tmp_path / 'dense.pdparams',
                           {'w': payloads(marker)['builtins.eval'].__class__(
                               eval, 'data', {'data': np.arange(3.0)})})
    assert np.array_equal(load_pdparams(dense, return_numpy=True)['w'], np.arange(3.0))
    with pytest.raises(WeightsReadError):
        load_pdparams(write_pdparams(tmp_path / 'evil.pdparams',
                                     {'w': payloads(marker)['builtins.eval']}))
    assert not os.path.exists(marker)


def _load_detector(kind, path):
    if kind == 'sfd':
        from ppfom.faceutils.face_detection.sfd_detector import load_s3fd_weights
        return load_s3fd_weights(path)
    from ppfom.faceutils.face_detection.blazeface_detector import load_blazeface_weights
    return load_blazeface_weights(path)


@pytest.mark.parametrize('reader', ['sfd', 'blazeface', 'gfpgan', 'vgg19'])
def test_every_pdparams_reader_refuses(tmp_path, reader):
    marker = str(tmp_path / 'created')
    path = write_pdparams(tmp_path / 'evil.pdparams',
                          {'conv.weight': payloads(marker)['os.system']})
    with pytest.raises(ValueError, match='refused'):
        if reader in ('sfd', 'blazeface'):
            _load_detector(reader, path)
        elif reader == 'gfpgan':
            from ppfom.faceutils.face_enhancement.enhancer import _load_pdparams
            _load_pdparams(path)
        else:
            from ppfom.models.losses.perceptual import Vgg19
            Vgg19(path)
    assert not os.path.exists(marker)


@pytest.mark.parametrize('fmt', ['zip', 'legacy'])
@pytest.mark.parametrize('kind', PAYLOADS)
def test_torch_payload_never_runs(tmp_path, fmt, kind):
    """The torch reader resolves no global outside its allow-list: the weights loaders refuse a
    payload in one line; the general reader returns it as an inert stand-in."""
    from ppfom.faceutils.face_detection.sfd_detector import load_s3fd_weights
    from ppfom.faceutils.face_enhancement.enhancer import _load_torch
    from ppfom.models.convert import read_torch_checkpoint
    marker = str(tmp_path / 'created')
    write = write_torch_zip if fmt == 'zip' else write_torch_legacy
    path = write(tmp_path / 'evil.pth', {'conv1_1.weight': payloads(marker)[kind]})
    for loader in (load_s3fd_weights, _load_torch, read_torch_checkpoint):
        with pytest.raises(ValueError, match=r'evil.pth asks to run .* refused'):
            loader(path)
    assert isinstance(load_torch_checkpoint(path)['conv1_1.weight'], PickledObject)
    assert not os.path.exists(marker)


def _equal(a, b, where=''):
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _equal(a[key], b[key], f'{where}/{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f'{where}[{i}]')
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), where
    elif isinstance(a, paddle.Tensor):
        assert a.dtype == b.dtype and a.name == b.name, where
        assert a.numpy().tobytes() == b.numpy().tobytes(), where
    elif type(a).__name__ == 'GeneratorState':
        assert a.__getstate__() == b.__getstate__(), where
    else:
        assert a == b, (where, a, b)


def _trainer_checkpoint(tiny_opts, tmp_path):
    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    import main as train_cli
    assert train_cli.main(['-c', TINY_CONFIG, '-o', *tiny_opts, 'total_iters=1',
                           '--output-dir', str(tmp_path / 'run')]) == 0
    return [str(tmp_path / 'run' / 'checkpoint_last.pdparams'),
            str(tmp_path / 'run' / 'weights_iter_0000001.pdparams')]


def test_real_files_load_bit_identically(tiny_opts, tmp_path, small_model):
    random.seed(1)
    files = [os.path.join(ROOT, 'ppfom', 'weights', 'ppfom_face64.pdparams'), small_model[1],
             *_trainer_checkpoint(tiny_opts, tmp_path)]
    files += glob.glob(os.path.expanduser('~/.cache/ppfom/**/*.pdparams'), recursive=True)[:3]
    for path in files:
        for return_numpy in (True, False):
            _equal(paddle.load(path, return_numpy=return_numpy),
                   load_pdparams(path, return_numpy=return_numpy), os.path.basename(path))
