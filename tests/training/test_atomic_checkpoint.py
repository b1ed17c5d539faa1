"""A process killed (SIGKILL) while writing a checkpoint leaves the previous one loadable.
(Ctrl-C and SIGTERM during training: tests/reliability/test_training_faults.py.)"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle

from conftest import ROOT

WRITER = f'''
import sys, numpy as np
sys.path.insert(0, {ROOT!r})
from ppfom.utils.checkpoint import atomic_save
path = sys.argv[1]
version = 0
while True:
    version += 1
    # ~24 MB, every value = version, so a torn file cannot pass the check below
    atomic_save({{'version': version, 'weights': np.full((6, 1000, 1000), version, np.float32)}},
                path)
    print(version, flush=True)
'''


def test_sigkill_during_checkpoint_write_keeps_previous(tmp_path):
    path = tmp_path / 'checkpoint_last.pdparams'
    proc = subprocess.Popen([sys.executable, '-c', WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert int(proc.stdout.readline()) == 1  # one complete checkpoint exists
        complete = int(proc.stdout.readline())  # a second one too; the writer keeps going
        deadline = time.time() + 60
        while time.time() < deadline:  # wait until the next write is under way
            partial = [f for f in os.listdir(tmp_path) if f.endswith('.tmp')
                       and os.path.getsize(tmp_path / f) > 0]
            if partial:
                break
            time.sleep(0.002)
        assert partial, 'never caught the writer mid-write'
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = paddle.load(str(path), return_numpy=True)
    assert state['version'] >= complete
    assert state['weights'].shape == (6, 1000, 1000)
    assert np.all(state['weights'] == state['version'])
    # the torn write stayed in its hidden temporary file
    assert [f for f in os.listdir(tmp_path) if not f.startswith('.')] == [path.name]
    assert any(f.endswith('.tmp') for f in os.listdir(tmp_path))

