"""Fixtures of the fault matrix (issue 15): a small model, short real clips cut at test time,
the demo run in-process, a full file system, the tiny training set (tests/training's)."""
import contextlib
import os
import resource
import signal
import subprocess

import pytest

from faults import Outcome, can_mount, demo, demo_args, ffmpeg, log_to_current_stderr
from faults import tiny_dataroot, tiny_opts  # noqa: F401 (fixtures)
from helpers import write_small_model


@pytest.fixture(scope='session')
def small_model(fixtures_dir, tmp_path_factory):
    """(config, weights) of fixture A's small FOMM (128 px)."""
    return write_small_model(fixtures_dir, str(tmp_path_factory.mktemp('model')))


@pytest.fixture(scope='session')
def media(data_dir, tmp_path_factory):
    """Short inputs cut from real media once per session: ``clip`` (8 frames of lp_d1, 128 px,
    with audio), ``long`` (48 frames, for interrupting), ``photo`` (a 256 px face)."""
    folder = tmp_path_factory.mktemp('media')
    clip, long = folder / 'clip.mp4', folder / 'long.mp4'
    ffmpeg('-i', f'{data_dir}/videos/lp_d1.mp4', '-frames:v', 8, '-vf', 'scale=128:128',
           '-shortest', clip)
    ffmpeg('-i', f'{data_dir}/videos/fomdemo_2.mp4', '-frames:v', 48, '-vf', 'scale=128:128',
           long)
    return {'clip': str(clip), 'long': str(long), 'folder': folder,
            'photo': f'{data_dir}/images/paddlegan_fom_source.png',
            'full': f'{data_dir}/videos/lp_d12.mp4'}  # 183 frames, 7.3 s


@pytest.fixture()
def run_demo(small_model, capsys):
    """Run the demo CLI in-process: ``run_demo(source, driving, output, *flags)`` -> Outcome."""
    def run(source, driving, output, *extra):
        capsys.readouterr()
        log_to_current_stderr()
        code = demo.main(demo_args(small_model, source, driving, output, *extra))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)
    return run


@pytest.fixture()
def full_disk(tmp_path):
    """A folder on a nearly full file system: ``(folder, preexec_fn, filler)``.

    A 32 MB tmpfs mounted for the test (unmounted at teardown) with all but ``free`` bytes taken
    by ``filler``; where mounting is not allowed, the child process gets a file-size limit
    (``RLIMIT_FSIZE``, writes beyond it fail with EFBIG) instead, and ``filler`` is None.
    Call the returned ``fill(free)`` to take the space.
    """
    folder = tmp_path / 'full'
    folder.mkdir()
    mounted = False
    if can_mount():
        mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', str(folder)],
                                 capture_output=True).returncode == 0
    state = {}

    def fill(free):
        if mounted:
            filler = folder / 'filler.bin'
            stat = os.statvfs(folder)
            size = stat.f_bavail * stat.f_frsize - free
            with open(filler, 'wb') as f:
                with contextlib.suppress(OSError):
                    f.write(b'\0' * max(size, 0))
            state['filler'] = filler
            return None

        def limit():  # no mount: the child may write at most `free` bytes per file
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (free, free))
        return limit

    try:
        yield folder, fill, mounted
    finally:
        if mounted:
            subprocess.run(['umount', '-l', str(folder)], check=False)
