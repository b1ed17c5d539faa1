"""applications/tools/first-order-demo.py end to end on real media, and its bad-input errors."""
import importlib.util
import os
import subprocess
import sys

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from helpers import write_small_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, 'applications', 'tools', 'first-order-demo.py')
_spec = importlib.util.spec_from_file_location('first_order_demo', DEMO)
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)


@pytest.fixture(scope='module')
def small_model(fixtures_dir, tmp_path_factory):
    return write_small_model(fixtures_dir, str(tmp_path_factory.mktemp('model')))


def run_demo(small_model, source, driving, output, *extra):
    config, weights = small_model
    cmd = [sys.executable, DEMO, '--config', config, '--weight_path', weights, '--image_size',
           '128', '--source_image', source, '--driving_video', driving, '--output', str(output),
           *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def probe(path):
    """(meta, exact frame count) of a video, as ffmpeg decodes it."""
    gen = imageio_ffmpeg.read_frames(path)
    meta = next(gen)
    gen.close()
    return meta, imageio_ffmpeg.count_frames_and_secs(path)[0]


@pytest.mark.slow
@pytest.mark.parametrize('driving,fps,audio', [('lp_d1.mp4', 30.0, True),
                                               ('fomdemo_3.mp4', 35.0, False)])
def test_demo_writes_every_frame_at_the_driving_fps_with_audio(small_model, data_dir, tmp_path,
                                                               driving, fps, audio):
    video = f'{data_dir}/videos/{driving}'
    _, n_driving = probe(video)
    if n_driving > 40:  # keep the test short: the first 40 frames, audio kept
        short = str(tmp_path / 'short.mp4')
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error', '-i', video,
                        '-frames:v', '40', short], check=True)
        video, n_driving = short, probe(short)[1]
    result = run_demo(small_model, f'{data_dir}/images/avatarify_ronaldo_rgba.png', video,
                      tmp_path / 'out', '--relative', '--adapt_scale', '--batch_size', '4',
                      '--find_best_frame')
    assert result.returncode == 0, result.stderr
    out = tmp_path / 'out' / 'result.mp4'
    assert result.stdout.strip() == str(out)
    meta, n_out = probe(str(out))
    assert n_out == n_driving
    assert meta['fps'] == pytest.approx(fps, abs=0.01)
    assert bool(meta.get('audio_codec')) == audio
    assert meta['size'] == (302, 302)  # the photo's 301x301, padded to even for yuv420p
    assert sorted(os.listdir(tmp_path / 'out')) == ['result.mp4']  # no temporary files left


def _error_case(tmp_path, data_dir, case):
    """(source, driving, extra args, expected words) for each kind of bad input."""
    source = f'{data_dir}/images/paddlegan_fom_source.png'
    driving = f'{data_dir}/videos/lp_d2.mp4'
    if case == 'missing source':
        return str(tmp_path / 'nope.png'), driving, [], 'not found'
    if case == 'corrupt source':
        bad = tmp_path / 'corrupt.png'
        bad.write_bytes(open(source, 'rb').read()[:200])
        return str(bad), driving, [], 'corrupt.png'
    if case == 'text as source':
        bad = tmp_path / 'notes.jpg'
        bad.write_text('hello')
        return str(bad), driving, [], 'notes.jpg'
    if case == 'missing video':
        return source, str(tmp_path / 'nope.mp4'), [], 'not found'
    if case == 'text as video':
        bad = tmp_path / 'clip.mp4'
        bad.write_text('not a video ' * 100)
        return source, str(bad), [], 'clip.mp4'
    if case == 'audio only':
        audio_only = str(tmp_path / 'sound.m4a')
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error', '-i', driving,
                        '-vn', '-c:a', 'aac', audio_only], check=True)
        return source, audio_only, [], 'sound.m4a'
    if case == 'unwritable output':
        blocker = tmp_path / 'a_file'
        blocker.write_text('x')
        return source, driving, ['--output', str(blocker / 'sub')], 'output folder'
    if case == 'bad best frame':
        return source, driving, ['--best_frame', '999'], 'out of range'
    if case == 'mobile with big config':
        return source, driving, ['--mobile_net'], 'mobile'
    if case == 'no face':
        flat = tmp_path / 'wall.png'
        gradient = np.linspace(60, 200, 300 * 400).reshape(300, 400).astype(np.uint8)
        cv2.imwrite(str(flat), gradient)
        return str(flat), driving, [], '--no_crop'
    if case == 'multi person without crops':
        return source, driving, ['--multi_person', '--no_crop'], '--multi_person'
    raise AssertionError(case)


@pytest.mark.parametrize('case', ['missing source', 'corrupt source', 'text as source',
                                  'missing video', 'text as video', 'audio only',
                                  'unwritable output', 'bad best frame', 'mobile with big config',
                                  'no face', 'multi person without crops'])
def test_bad_input_is_one_line_and_leaves_nothing(small_model, data_dir, tmp_path, case, capsys):
    source, driving, extra, words = _error_case(tmp_path, data_dir, case)
    output = tmp_path / 'out'
    if '--output' not in extra:
        extra = ['--output', str(output)] + extra
    config, weights = small_model
    code = demo.main(['--config', config, '--weight_path', weights, '--image_size', '128',
                      '--source_image', source, '--driving_video', driving, *extra])
    assert code != 0
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1, stderr
    assert words in errors[0], errors[0]
    assert not (output / 'result.mp4').exists()
    if output.exists():
        assert os.listdir(output) == []


def test_unreadable_weights_exit_nonzero(data_dir, tmp_path, small_model):
    """A real process, to see the exit code and that no traceback reaches the user."""
    bad = tmp_path / 'weights.pdparams'
    bad.write_bytes(b'\x00garbage' * 50)
    result = subprocess.run([sys.executable, DEMO, '--config', small_model[0], '--weight_path',
                             str(bad), '--source_image',
                             f'{data_dir}/images/paddlegan_fom_source.png', '--driving_video',
                             f'{data_dir}/videos/lp_d2.mp4', '--output', str(tmp_path / 'o')],
                            capture_output=True, text=True)
    assert result.returncode == 2 and 'weights.pdparams' in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('kind', ['gray', 'rgba', '16bit'])
def test_odd_image_formats_are_converted(small_model, data_dir, tmp_path, kind):
    photo = cv2.imread(f'{data_dir}/images/paddlegan_fom_source.png')
    path = str(tmp_path / f'{kind}.png')
    if kind == 'gray':
        cv2.imwrite(path, cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    elif kind == 'rgba':
        alpha = np.full(photo.shape[:2] + (1,), 128, np.uint8)
        cv2.imwrite(path, np.concatenate([photo, alpha], axis=2))
    else:
        cv2.imwrite(path, photo.astype(np.uint16) * 257)
    config, weights = small_model
    assert demo.main(['--config', config, '--weight_path', weights, '--image_size', '128',
                      '--source_image', path, '--driving_video', f'{data_dir}/videos/lp_d2.mp4',
                      '--output', str(tmp_path / 'out')]) == 0
    assert probe(str(tmp_path / 'out' / 'result.mp4'))[1] == 16


def test_default_model_works_offline(data_dir, tmp_path, capsys):
    """No weight flags: the model shipped in the package, rendered at 256 from its 64 px
    networks, on a real photo and clip."""
    assert demo.main(['--source_image', f'{data_dir}/images/paddlegan_fom_source.png',
                      '--driving_video', f'{data_dir}/videos/lp_d2.mp4', '--relative',
                      '--adapt_scale', '--output', str(tmp_path)]) == 0
    meta, frames = probe(str(tmp_path / 'result.mp4'))
    assert frames == 16 and meta['size'] == (256, 256) and meta.get('audio_codec')
