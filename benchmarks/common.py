"""What the benchmarks share: the repository on ``sys.path``, the sample data folder, the
options every run takes, and cutting the first frames of a driving video."""
import os
import subprocess
import sys

import imageio_ffmpeg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.environ.get('PPFOM_SHARED', os.path.join(ROOT, '..', 'shared')), 'data')
sys.path.insert(0, ROOT)


def add_run_options(parser, batch_size=4):
    """``--batch_size`` and ``--backend`` (as ``first-order-demo.py``), on ``parser``."""
    parser.add_argument('--batch_size', type=int, default=batch_size)
    parser.add_argument('--backend', default='auto')


def first_frames(video, count, out, lossless=False):
    """Write the first ``count`` frames of ``video`` to ``out`` (H.264, lossless on request);
    returns ``out``."""
    codec = ['-c:v', 'libx264', '-qp', '0'] if lossless else []
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error', '-i', video,
                    '-frames:v', str(count), *codec, out], check=True)
    return out


def sample_inputs(photo, video, frames, prefix):
    """A temporary folder, the first ``frames`` frames of ``data/videos/<video>`` in it, and the
    path of ``data/images/<photo>``: ``(folder, clip, photo)``."""
    import tempfile
    folder = tempfile.mkdtemp(prefix=prefix)
    clip = first_frames(os.path.join(DATA, 'videos', video), frames,
                        os.path.join(folder, 'clip.mp4'))
    return folder, clip, os.path.join(DATA, 'images', photo)


def timed_run(predictor, photo, clip):
    """Seconds of ``predictor.run(photo, clip)`` after one untimed run (export, caches)."""
    import time
    predictor.run(photo, clip)
    start = time.perf_counter()
    predictor.run(photo, clip)
    return time.perf_counter() - start


def face_networks(backend):
    """A context in which every face detector and landmarker built runs its network with
    ``backend`` (``'inference'``: the compiled program, ppfom's default on a CPU; ``'eager'``):
    to compare the two side by side in one run. Benchmark-only: it patches
    :class:`ppfom.utils.predictor.LayerRunner`'s default."""
    import contextlib
    from unittest import mock

    from ppfom.utils.predictor import LayerRunner
    original = LayerRunner.__init__

    def init(self, layer, input_shape, key, **kwargs):
        original(self, layer, input_shape, key, **{**kwargs, 'backend': backend})

    if backend == 'auto':
        return contextlib.nullcontext()
    return mock.patch.object(LayerRunner, '__init__', init)
