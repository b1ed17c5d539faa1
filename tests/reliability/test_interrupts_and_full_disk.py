"""Interruptions and a full disk during the demo (issue 15, cases 1 and 9): Ctrl-C exits 130,
SIGTERM 143, both leaving nothing; SIGKILL's leftover is cleaned by the next run; a full file
system is an error (never a published broken video)."""
import os
import signal
import time

import pytest

from faults import Outcome, spawn_demo
from ppfom.utils.atomic import STALE_AGE, temp_files


def wait_for_temp(proc, folder, timeout=60):
    """Wait until the run has reserved its temporary output (it is then past the start-up)."""
    end = time.time() + timeout
    while time.time() < end:
        if temp_files(str(folder)) and proc.poll() is None:
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    out, err = proc.communicate()
    raise AssertionError(f'no temporary file appeared (exit {proc.returncode}): {err[-1500:]}')


@pytest.mark.parametrize('signum,code,words', [(signal.SIGINT, 130, 'interrupted'),
                                               (signal.SIGTERM, 143, 'terminated')])
def test_signal_mid_run_leaves_nothing(small_model, media, tmp_path, signum, code, words):
    out = tmp_path / 'out'
    proc = spawn_demo(small_model, media['photo'], media['long'], out)
    wait_for_temp(proc, out)
    time.sleep(1.0)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    Outcome(proc.returncode, stdout, stderr).failed_with(code, words, 'nothing was written')
    assert os.listdir(out) == []


def test_sigkill_leftover_is_cleaned_by_the_next_run(small_model, media, tmp_path, run_demo):
    out = tmp_path / 'out'
    proc = spawn_demo(small_model, media['photo'], media['long'], out)
    wait_for_temp(proc, out)
    proc.kill()
    proc.communicate(timeout=60)
    left = temp_files(str(out))
    assert len(left) == 1 and os.path.basename(left[0]).startswith('.result.mp4.')
    old = time.time() - STALE_AGE - 1
    os.utime(left[0], (old, old))  # as if the kill happened a while ago
    result = run_demo(media['photo'], media['clip'], out)
    assert result.code == 0, result.err
    assert os.listdir(out) == ['result.mp4']


def test_full_disk_is_an_error_and_publishes_nothing(small_model, media, full_disk, run_demo):
    folder, fill, mounted = full_disk
    limit = fill(20_000)  # 20 kB free: the 8-frame result (about 100 kB) does not fit
    before = sorted(os.listdir(folder))
    if mounted:
        result = run_demo(media['photo'], media['clip'], folder)
    else:
        proc = spawn_demo(small_model, media['photo'], media['clip'], folder, preexec_fn=limit)
        result = Outcome(proc.returncode, *proc.communicate(timeout=120))
    result.failed_with(2, 'result.mp4', 'disk')
    assert sorted(os.listdir(folder)) == before  # no result.mp4, no temporary file
