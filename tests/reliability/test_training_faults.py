"""Training's fault matrix (issue 15, cases 3, 9, 10, 11): a failed --resume touches nothing in
the run folder, a full disk ends in one line with the previous checkpoint intact and no
temporary file, SIGTERM saves and exits 143, stale temporary checkpoints are cleaned."""
import os
import shutil
import signal
import subprocess
import sys
import time

import paddle
import pytest

from faults import ROOT, TINY_CONFIG, Outcome, load_script, log_to_current_stderr, marker_path
from malicious import payloads, write_pdparams
from ppfom.utils.atomic import STALE_AGE
from ppfom.utils.checkpoint import atomic_save

train_cli = load_script(os.path.join(ROOT, 'tools', 'main.py'), 'train_cli_reliability')


@pytest.fixture()
def train(capsys):
    """Run tools/main.py in-process: ``train(*args)`` -> Outcome."""
    def run(*args):
        capsys.readouterr()
        log_to_current_stderr()
        code = train_cli.main([str(a) for a in args])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)
    return run


def snapshot(folder):
    """{name: bytes} of every file in ``folder``."""
    return {name: open(os.path.join(folder, name), 'rb').read()
            for name in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, name))}


@pytest.fixture(scope='module')
def trained_once(tiny_dataroot, tmp_path_factory):
    """A run folder after one iteration (config.yaml, log.txt, checkpoint, weights), made once."""
    folder = tmp_path_factory.mktemp('trained') / 'run'
    assert train_cli.main(['-c', TINY_CONFIG, '-o', f'dataset.train.dataroot={tiny_dataroot}',
                           f'dataset.test.dataroot={tiny_dataroot}', 'total_iters=1',
                           '--output-dir', str(folder)]) == 0
    return folder


@pytest.fixture()
def run_folder(trained_once, tmp_path):
    """A copy of :func:`trained_once` for one test."""
    return shutil.copytree(trained_once, tmp_path / 'run')


def _resume_file(case, folder):
    """A bad --resume file in the run folder (--resume writes to the file's folder)."""
    if case == 'weights-only file':
        return folder / 'weights_iter_0000001.pdparams', 'not a full training checkpoint'
    if case == 'corrupt checkpoint':
        bad = folder / 'corrupt.pdparams'
        bad.write_bytes((folder / 'checkpoint_last.pdparams').read_bytes()[:5000])
        return bad, 'corrupt'
    if case == 'missing file':
        return folder / 'gone.pdparams', 'not found'
    raise ValueError(case)


@pytest.mark.parametrize('case', ['weights-only file', 'corrupt checkpoint', 'missing file'])
def test_failed_resume_leaves_the_run_folder_untouched(train, tiny_opts, run_folder, case):
    path, words = _resume_file(case, run_folder)
    before = snapshot(run_folder)
    train('-c', TINY_CONFIG, '-o', *tiny_opts, 'total_iters=99', 'epochs=1',
          '--resume', path).failed_with(2, os.path.basename(path), words)
    assert snapshot(run_folder) == before  # config.yaml (total_iters, epochs) and log.txt too


def test_malicious_resume_file_never_runs(train, tiny_opts, run_folder, tmp_path):
    marker = marker_path(tmp_path)
    evil = write_pdparams(run_folder / 'evil.pdparams',
                          {'meta': payloads(marker)['os.system'], 'generator': {}})
    before = snapshot(run_folder)
    train('-c', TINY_CONFIG, '-o', *tiny_opts, '--resume', evil).failed_with(
        2, 'evil.pdparams', 'refused')
    assert not os.path.exists(marker)
    assert snapshot(run_folder) == before


def test_malicious_load_file_never_runs(train, tiny_opts, tmp_path):
    marker = marker_path(tmp_path)
    evil = write_pdparams(tmp_path / 'evil.pdparams',
                          {'kp_detector': payloads(marker)['builtins.exec'], 'generator': {}})
    train('-c', TINY_CONFIG, '-o', *tiny_opts, '--load', evil, '--output-dir',
          tmp_path / 'run').failed_with(2, 'evil.pdparams', 'refused')
    assert not os.path.exists(marker)


def test_yaml_syntax_error_is_one_line_and_creates_no_run_folder(train, tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('model:\n  name: [FirstOrderModel\n')
    train('-c', bad, '--output-dir', tmp_path / 'run').failed_with(2, 'bad.yaml', 'not valid YAML at line')
    assert not (tmp_path / 'run').exists()


def test_full_disk_keeps_the_previous_checkpoint(train, tiny_opts, full_disk):
    folder, fill, mounted = full_disk
    if not mounted:
        pytest.skip('needs a tmpfs (root): training runs in-process here')  # the demo's
        # full-disk case covers the file-size-limit fallback
    run = folder / 'run'
    assert train('-c', TINY_CONFIG, '-o', *tiny_opts, 'total_iters=1',
                 '--output-dir', run).code == 0
    checkpoint = (run / 'checkpoint_last.pdparams').read_bytes()
    fill(100_000)  # the checkpoint is several MB: the next save cannot fit
    result = train('-c', TINY_CONFIG, '-o', *tiny_opts, 'total_iters=2',
                   '--resume', run / 'checkpoint_last.pdparams')
    result.failed_with(2, 'checkpoint_last.pdparams', 'previous checkpoint is intact')
    assert (run / 'checkpoint_last.pdparams').read_bytes() == checkpoint
    assert [f for f in os.listdir(run) if f.startswith('.')] == []  # no temporary file


@pytest.mark.parametrize('signum,code,words', [(signal.SIGINT, 130, 'interrupted (Ctrl-C)'),
                                               (signal.SIGTERM, 143, 'terminated')])
def test_signal_saves_a_checkpoint_and_exits_128_plus_signal(tiny_dataroot, tmp_path, signum,
                                                             code, words):
    run = tmp_path / 'run'
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, 'tools', 'main.py'), '-c', TINY_CONFIG, '-o',
         f'dataset.train.dataroot={tiny_dataroot}', 'total_iters=1000', 'epochs=1000',
         'snapshot_config.interval=0', '--output-dir', str(run)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    try:
        for line in proc.stderr:  # wait for the first finished iteration
            if ' iter 1/1000 ' in line:
                break
        proc.send_signal(signum)
        rest = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    last = Outcome(proc.returncode, '', rest).failed_with(code, words, '--resume')
    assert last == (f'error: {words}: checkpoint saved; continue with --resume '
                    f"{run / 'checkpoint_last.pdparams'}")
    assert f'{words.split()[0]}: finishing this iteration' in rest
    state = paddle.load(str(run / 'checkpoint_last.pdparams'))
    assert 1 <= state['meta']['iteration'] < 1000
    assert f"iteration {state['meta']['iteration']})" in rest.splitlines()[-2]
    assert [f for f in os.listdir(run) if f.startswith('.')] == []


def test_stale_temporary_checkpoints_are_cleaned(tmp_path):
    stale, young = tmp_path / '.checkpoint_last.pdparams.abcd1234.tmp', \
        tmp_path / '.checkpoint_last.pdparams.efgh5678.tmp'
    for path in (stale, young):
        path.write_bytes(b'\0' * 100)
    old = time.time() - STALE_AGE - 1
    os.utime(stale, (old, old))
    atomic_save({'x': 1}, str(tmp_path / 'checkpoint_last.pdparams'))
    assert sorted(os.listdir(tmp_path)) == [young.name, 'checkpoint_last.pdparams']
