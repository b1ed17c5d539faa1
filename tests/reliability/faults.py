"""Helpers of the fault matrix (issue 15): the demo CLI in-process or as a process, the
checks every case makes, the training CLI."""
import importlib.util
import logging
import os
import subprocess
import sys
import uuid

import imageio_ffmpeg
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, 'applications', 'tools', 'first-order-demo.py')
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def load_script(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = load_script(DEMO, 'first_order_demo_reliability')
# the training fixtures (tiny dataroot of real frames) of tests/training
_training = load_script(os.path.join(ROOT, 'tests', 'training', 'conftest.py'),
                        'training_fixtures')
tiny_dataroot, tiny_opts = _training.tiny_dataroot, _training.tiny_opts
TINY_CONFIG = _training.TINY_CONFIG


def log_to_current_stderr():
    """Point ppfom's console log at this test's (captured) stderr: the handler was made once,
    with the stderr of the first test that logged."""
    from ppfom.utils.logger import get_logger
    for handler in get_logger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.stream = sys.stderr


def ffmpeg(*args):
    subprocess.run([FFMPEG, '-nostdin', '-loglevel', 'error', '-y', *map(str, args)], check=True)


def demo_args(small_model, source, driving, output, *extra):
    config, weights = small_model
    return ['--config', config, '--weight_path', weights, '--image_size', '128',
            '--backend', 'eager', '--source_image', str(source), '--driving_video', str(driving),
            '--output', str(output), *map(str, extra)]


class Outcome:
    """Exit code and stderr of one run, with the checks every case makes."""

    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def error_lines(self):
        return [line for line in self.err.splitlines() if line.startswith('error:')]

    def failed_with(self, code, *words):
        """Exit ``code``, exactly one ``error:`` line containing every word, no traceback."""
        assert self.code == code, (self.code, self.err[-2000:])
        assert len(self.error_lines) == 1, self.err[-2000:]
        for word in words:
            assert word in self.error_lines[0], (word, self.error_lines[0])
        assert 'Traceback' not in self.err, self.err[-2000:]
        return self.error_lines[0]


def spawn_demo(small_model, source, driving, output, *extra, preexec_fn=None):
    """The demo as a child process (for signals and limits); returns the Popen."""
    return subprocess.Popen([sys.executable, DEMO, *demo_args(small_model, source, driving,
                                                               output, *extra)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec_fn,
                            env=dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1'))


def can_mount():
    return os.geteuid() == 0 and subprocess.run(['which', 'mount'],
                                                capture_output=True).returncode == 0


def marker_path(tmp_path):
    """Where a malicious weights file would create its file."""
    return str(tmp_path / f'pwned-{uuid.uuid4().hex[:8]}')


def missing_or_empty(case, folder, ext):
    """(path, expected words) of a missing or a 0-byte input, or None for other cases."""
    if case == 'missing':
        return str(folder / f'nope{ext}'), 'not found'
    if case == 'empty':
        (folder / f'empty{ext}').write_bytes(b'')
        return str(folder / f'empty{ext}'), 'empty (0 bytes)'
    return None


def truncated_jpeg(photo, folder):
    """A baseline JPEG of ``photo`` cut in half (OpenCV decodes it with a grey lower half)."""
    Image.open(photo).convert('RGB').save(folder / 'full.jpg', quality=95)
    data = (folder / 'full.jpg').read_bytes()
    (folder / 'half.jpg').write_bytes(data[:len(data) // 2])
    return str(folder / 'half.jpg')


def faceless_png(folder):
    """A smooth colour gradient: nothing like a face."""
    y, x = np.mgrid[0:200, 0:240]
    Image.fromarray(np.stack([x, y, 255 - x], -1).astype(np.uint8)).save(folder / 'wall.png')
    return str(folder / 'wall.png')
