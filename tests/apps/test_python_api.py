"""The Python API beyond file paths: arrays and frame iterables in, frames out, an output path per
call, errors in the API's words; the defaults (relative motion, adapted scale); the ``ppfom``
command's dispatch and the example media it ships."""
import os
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest

from helpers import write_small_model
from ppfom.apps import FirstOrderPredictor, defaults, examples
from ppfom.apps.demo_cli import build_parser
from ppfom.apps.first_order_predictor import api_message
from ppfom.utils.image_io import read_image
from ppfom.utils.video import VideoReader, VideoWriter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def predictor(fixtures_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp('model')
    config, weights = write_small_model(fixtures_dir, str(folder))
    return FirstOrderPredictor(output=str(folder / 'out'), config=config, weight_path=weights,
                               image_size=128, progress=False, audio=False)


def driving_frames(count=6):
    return list(VideoReader(examples.DRIVING_VIDEO).batches(count))[0]


def test_arrays_and_iterables_give_the_frames_of_the_paths(predictor, tmp_path):
    """A photo array and a frame generator animate exactly as the files they were read from."""
    clip = str(tmp_path / 'clip.mp4')
    with VideoWriter(clip, 30) as writer:
        writer.write(driving_frames())
    frames = np.concatenate(list(VideoReader(clip).batches(6)))  # what the decoder gives
    photo = read_image(examples.SOURCE_IMAGE)
    from_paths = predictor.run(examples.SOURCE_IMAGE, clip, return_frames=True)
    assert from_paths.shape == (6, 256, 256, 3) and from_paths.dtype == np.uint8
    from_arrays = predictor.run(photo, (f for f in frames), return_frames=True)
    assert np.array_equal(from_arrays, from_paths)
    assert np.array_equal(predictor.run(photo, frames, return_frames=True), from_paths)
    # a file written per call, at the given frame rate, nothing at the constructor's path
    out = tmp_path / 'per_call' / 'clip.mp4'
    path = predictor.run(photo, list(frames), output=str(out), fps=12)
    assert path == str(out)
    reader = VideoReader(path)
    assert reader.frame_count == 6 and reader.fps == 12
    assert not os.path.exists(os.path.join(predictor.output, predictor.filename))


def test_api_errors_name_arguments_not_flags(predictor, tmp_path):
    with pytest.raises(ValueError) as info:
        predictor.run(np.zeros((64, 64), np.float32), driving_frames())
    message = str(info.value)
    assert message == ('source_image must be an (H, W, 3) uint8 RGB array, got shape (64, 64) '
                       'dtype float32; convert it with ppfom.utils.image_io.to_rgb_uint8')
    with pytest.raises(ValueError, match=r'^driving frame 2 is 32x32, frame 0 64x64'):
        predictor.run(np.zeros((64, 64, 3), np.uint8),
                      [np.zeros((64, 64, 3), np.uint8)] * 2 + [np.zeros((32, 32, 3), np.uint8)])
    with pytest.raises(ValueError) as info:
        predictor.run(examples.SOURCE_IMAGE, str(tmp_path / 'missing.mp4'))
    assert str(info.value).endswith('check driving_video') and '--' not in str(info.value)
    with pytest.raises(ValueError) as info:
        FirstOrderPredictor(batch_size=0)
    assert str(info.value) == 'batch_size must be at least 1, got 0'
    with pytest.raises(ValueError) as info:
        FirstOrderPredictor(multi_person=True, crop=False, messages='cli')
    assert str(info.value) == '--multi_person needs face crops; drop --no_crop'
    assert api_message('pass it with --weight_path PATH; drop --no_crop') == \
        'pass it with weight_path=PATH; drop crop=False'


def test_relative_and_adapt_scale_are_the_defaults_everywhere():
    assert defaults.RELATIVE and defaults.ADAPT_SCALE
    args = build_parser().parse_args(['--example'])
    assert args.relative and args.adapt_scale
    args = build_parser().parse_args(['--example', '--absolute', '--no_adapt_scale'])
    assert not args.relative and not args.adapt_scale
    args = build_parser().parse_args(['--example', '--relative', '--adapt_scale'])  # PaddleGAN's
    assert args.relative and args.adapt_scale
    import inspect
    signature = inspect.signature(FirstOrderPredictor)
    assert signature.parameters['relative'].default is True
    assert signature.parameters['adapt_scale'].default is True


def test_the_shipped_examples_are_small_real_media():
    assert VideoReader(examples.DRIVING_VIDEO).frame_count == 60
    assert read_image(examples.SOURCE_IMAGE).shape == (256, 256, 3)
    assert read_image(examples.MULTI_PERSON_IMAGE).shape == (600, 800, 3)
    shipped = sum(os.path.getsize(os.path.join(examples.EXAMPLES_DIR, n))
                  for n in os.listdir(examples.EXAMPLES_DIR))
    assert shipped < 200_000
    assert os.path.isfile(os.path.join(examples.EXAMPLES_DIR, 'NOTICE'))
    # PaddleGAN's documented names under docs/imgs
    for name in ('fom_source_image.png', 'fom_dv.mp4', 'NOTICE'):
        assert os.path.isfile(os.path.join(ROOT, 'docs', 'imgs', name)), name
    assert imageio_ffmpeg.count_frames_and_secs(
        os.path.join(ROOT, 'docs', 'imgs', 'fom_dv.mp4'))[0] == 150


def run_ppfom(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, '-m', 'ppfom', *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


def test_ppfom_command_dispatches_and_starts_quietly(tmp_path):
    result = run_ppfom('--help')
    assert result.returncode == 0
    for command in ('animate', 'web', 'train', 'evaluate', 'fetch'):
        assert f'  {command}' in result.stdout
    result = run_ppfom('animate', '--help')
    assert result.returncode == 0 and result.stdout.startswith('usage: ppfom animate')
    assert '--absolute' in result.stdout and '--audio FILE' in result.stdout
    result = run_ppfom('nope')
    assert result.returncode == 2 and "unknown command 'nope'" in result.stderr
    result = run_ppfom('animate', '--driving_video', 'x.mp4')
    assert result.returncode == 2 and '--source_image is required' in result.stderr
    # no Paddle warning on start (bad input: fails after paddle is imported)
    result = run_ppfom('animate', '--example', '--batch_size', '0', cwd=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == 'error: --batch_size must be at least 1, got 0\n'
    result = run_ppfom('fetch', '--list', cwd=str(tmp_path))
    assert result.returncode == 0
    assert 'unchecked (no published checksum)' in result.stdout
    assert 'in the package' in result.stdout or 'sha256 checked' in result.stdout


def test_paddle_hub_finds_the_entry_points():
    import paddle
    assert {'first_order', 'networks'} <= set(paddle.hub.list(ROOT, source='local'))
    kp_detector, generator = paddle.hub.load(ROOT, 'networks', source='local')
    assert not kp_detector.training and not generator.training
    assert 'FirstOrderPredictor' in paddle.hub.help(ROOT, 'first_order', source='local')


def test_a_bundled_model_given_by_config_and_weights_runs_as_the_zoo_name(tmp_path):
    """``--config configs/firstorder_talk.yaml --weight_path <talk weights>`` (a user's own
    training run) animates exactly as ``--model ppfom-talk64``: the networks run at the frame
    size the config trained them on (64 px), not at the output's (256); a ``compose_deformed``
    config without a frame shape is refused."""
    from ppfom.apps.model_loading import resolve_model
    from ppfom.utils.model_zoo import weights_path
    config = os.path.join(ROOT, 'configs', 'firstorder_talk.yaml')
    weights = weights_path('ppfom_talk64.pdparams')
    by_name = resolve_model()
    by_files = resolve_model(config=config, weight_path=weights)
    assert (by_files.network_size, by_files.output_size) == (by_name.network_size, 256) == (64, 256)
    frames = driving_frames(4)
    kwargs = dict(progress=False, audio=False, backend='eager')
    expected = FirstOrderPredictor(**kwargs).run(examples.SOURCE_IMAGE, frames,
                                                 return_frames=True)
    got = FirstOrderPredictor(config=config, weight_path=weights, **kwargs).run(
        examples.SOURCE_IMAGE, frames, return_frames=True)
    assert np.array_equal(got, expected)
    import yaml
    with open(config) as f:
        cfg = yaml.safe_load(f)
    del cfg['dataset']
    no_shape = tmp_path / 'no_shape.yaml'
    no_shape.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ValueError, match='frame_shape'):
        resolve_model(config=str(no_shape), weight_path=weights)
