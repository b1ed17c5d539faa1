"""The same guarantees in the Python API and the web app (issue 15): one exception type per kind
of bad input, and nothing left on disk by a failed call or request."""
import os

import pytest

from faults import faceless_png, ffmpeg, marker_path, truncated_jpeg
from malicious import fomm_like, payloads, write_pdparams
from ppfom.apps import (CheckpointError, FirstOrderPredictor, ImageReadError, NoFaceError,
                        OutputPathError, VideoReadError, VideoWriteError, web)


@pytest.fixture(scope='module')
def predictor(small_model, tmp_path_factory):
    config, weights = small_model
    return FirstOrderPredictor(output=str(tmp_path_factory.mktemp('unused')), config=config,
                               weight_path=weights, image_size=128, backend='eager',
                               progress=False)


def _case(kind, tmp_path, media):
    """(source, driving, output folder, filename) for each kind of bad input."""
    photo, clip = media['photo'], media['clip']
    if kind == 'photo missing':
        return str(tmp_path / 'nope.png'), clip
    if kind == 'photo is a folder':
        return str(tmp_path), clip
    if kind == 'photo truncated':
        return truncated_jpeg(photo, tmp_path), clip
    if kind == 'video as photo':
        return clip, clip
    if kind == 'video missing':
        return photo, str(tmp_path / 'nope.mp4')
    if kind == 'image as video':
        return photo, photo
    if kind == 'one-frame video':
        ffmpeg('-i', clip, '-frames:v', 1, tmp_path / 'one.mp4')
        return photo, str(tmp_path / 'one.mp4')
    if kind == 'no face':
        return faceless_png(tmp_path), clip
    raise ValueError(kind)


KINDS = {'photo missing': ImageReadError, 'photo is a folder': ImageReadError,
         'photo truncated': ImageReadError, 'video as photo': ImageReadError,
         'video missing': VideoReadError, 'image as video': VideoReadError,
         'one-frame video': VideoReadError, 'no face': NoFaceError}


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_api_raises_one_type_per_kind_and_leaves_nothing(predictor, media, tmp_path, kind):
    source, driving = _case(kind, tmp_path, media)
    predictor.output, predictor.filename = str(tmp_path / 'out'), 'result.mp4'
    with pytest.raises(KINDS[kind]) as info:
        predictor.run(source, driving)
    assert isinstance(info.value, ValueError) and '\n' not in str(info.value)
    assert not os.path.exists(tmp_path / 'out') or os.listdir(tmp_path / 'out') == []


def test_api_refuses_the_output_being_an_input(predictor, media, tmp_path):
    copy = tmp_path / 'drive.mp4'
    copy.write_bytes(open(media['clip'], 'rb').read())
    predictor.output, predictor.filename = str(tmp_path), 'drive.mp4'
    with pytest.raises(OutputPathError, match='drive.mp4 is an input'):
        predictor.run(media['photo'], str(copy))
    assert copy.read_bytes() == open(media['clip'], 'rb').read()
    assert sorted(os.listdir(tmp_path)) == ['drive.mp4']


def test_api_constructor_errors(small_model, tmp_path):
    config, weights = small_model
    with pytest.raises(OutputPathError, match='anim.gif'):
        FirstOrderPredictor(config=config, weight_path=weights, filename='anim.gif')
    marker = marker_path(tmp_path)
    evil = write_pdparams(tmp_path / 'evil.pdparams', fomm_like(payloads(marker)['os.system']))
    with pytest.raises(CheckpointError, match='evil.pdparams asks to run posix.system'):
        FirstOrderPredictor(config=config, weight_path=evil, backend='eager')
    assert not os.path.exists(marker)


def test_api_full_disk_raises_a_write_error(predictor, media, full_disk):
    folder, fill, mounted = full_disk
    if not mounted:
        pytest.skip('needs a tmpfs (root); the CLI case covers the file-size-limit fallback')
    fill(20_000)
    before = sorted(os.listdir(folder))
    predictor.output, predictor.filename = str(folder), 'result.mp4'
    with pytest.raises(VideoWriteError, match='disk'):
        predictor.run(media['photo'], media['clip'])
    assert sorted(os.listdir(folder)) == before


def test_web_failed_requests_leave_no_run_folder(small_model, media, tmp_path):
    config, weights = small_model
    choices = web.model_choices(weights, config)
    root = tmp_path / 'web'
    animator = web.WebAnimator(choices, str(root), device='cpu')
    label = list(choices)[0]
    source, _ = _case('no face', tmp_path, media)
    for photo, video in [(source, media['clip']),                  # no face
                         (media['photo'], media['photo']),         # image as video
                         (media['clip'], media['clip'])]:          # video as photo
        path, status = animator.animate(photo, video, label, image_size='128')
        assert path is None and status.startswith('Error: ') and '\n' not in status
    assert os.listdir(root) == []
    path, status = animator.animate(media['photo'], media['clip'], label, image_size='128')
    assert status.startswith('Done: 8 frames'), status
    assert os.listdir(root) == [os.path.basename(os.path.dirname(path))]
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]
