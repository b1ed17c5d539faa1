"""Data parallel training on CPU: ``paddle.distributed.launch --nproc_per_node 2`` (gloo).

What is compared: the trainable parameters after 2 iterations. Each rank reads half of every
batch (``batch_size: 1`` per device); the reference is ONE process reading the same combined
batch (``batch_size: 2``; the epoch-seeded ``DistributedBatchSampler`` gives rank r the r-th item
of each combined batch) split into 2 micro-batches whose gradients are averaged
(``micro_batches: 2``). The micro-batch split is what makes BatchNorm comparable: with plain
BatchNorm (CPU has no SyncBatchNorm) each device normalises with its own batch statistics.
BatchNorm running statistics are per device and are not compared. Spectral norm is switched off
in the discriminator because its power iteration runs once per discriminator call, i.e. twice as
often in the micro-batch reference. A check that the comparison can fail: the same single process
without the micro-batch split (BatchNorm over the combined batch) must differ.
"""
import os
import subprocess
import sys

import numpy as np

from conftest import TINY_CONFIG

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'dp_worker.py')


def trainable(npz):
    data = np.load(npz)
    return {k: data[k] for k in data.files if not k.endswith(('._mean', '._variance'))}


def test_two_process_launch_equals_one_process_on_combined_batch(tiny_dataroot, tmp_path):
    opts = [f'dataset.train.dataroot={tiny_dataroot}', f'dataset.test.dataroot={tiny_dataroot}',
            'model.discriminator.discriminator_cfg.sn=false']
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    dp, ref, ref_bn = tmp_path / 'dp', tmp_path / 'ref', tmp_path / 'ref_bn'
    for folder in (dp, ref, ref_bn):
        folder.mkdir()
    launch = subprocess.Popen(
        [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node', '2',
         '--log_dir', str(tmp_path / 'launch_logs'), WORKER, TINY_CONFIG, str(dp), *opts,
         'dataset.train.batch_size=1'], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    combined_bn = subprocess.Popen([sys.executable, WORKER, TINY_CONFIG, str(ref_bn), *opts,
                                    'dataset.train.batch_size=2'], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    single = subprocess.run([sys.executable, WORKER, TINY_CONFIG, str(ref), *opts,
                             'dataset.train.batch_size=2', 'model.train_params.micro_batches=2'],
                            env=env, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr[-2000:]
    out = launch.communicate(timeout=300)[0].decode(errors='replace')
    assert launch.returncode == 0, out[-3000:]
    log = open(dp / 'run' / 'log.txt').read()
    assert 'batch 2 on 2 device(s)' in log and 'iter 2/2' in log
    # vdl/ (VisualDL logs) is there when VisualDL is installed
    written = sorted(f for f in os.listdir(dp / 'run') if f != 'vdl')
    assert written == ['checkpoint_last.pdparams', 'config.yaml', 'log.txt',
                       'weights_iter_0000002.pdparams']

    rank0, rank1 = trainable(dp / 'rank0.npz'), trainable(dp / 'rank1.npz')
    reference = trainable(ref / 'rank0.npz')
    assert len(rank0) > 50 and rank0.keys() == rank1.keys() == reference.keys()
    for key in rank0:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
        np.testing.assert_allclose(rank0[key], reference[key], rtol=1e-4, atol=1e-6, err_msg=key)

    err = combined_bn.communicate(timeout=300)[1].decode(errors='replace')
    assert combined_bn.returncode == 0, err[-2000:]
    other = trainable(ref_bn / 'rank0.npz')
    assert max(np.abs(other[k] - rank0[k]).max() for k in rank0) > 1e-5
