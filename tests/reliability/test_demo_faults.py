"""The demo's fault matrix (issue 15): each bad input ends with exit 2 and one ``error:`` line
naming the file, and leaves the output folder as it was; good inputs give a complete result."""
import fcntl
import os
import time

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from faults import faceless_png, ffmpeg, marker_path, missing_or_empty, truncated_jpeg
from malicious import fomm_like, payloads, write_pdparams
from ppfom.utils.atomic import STALE_AGE, locked_temp
from ppfom.utils.video import scan_video


def listing(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else None


def frames_of(path):
    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]


def first_frame(path):
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    frame = np.frombuffer(next(gen), np.uint8).reshape(meta['size'][1], meta['size'][0], 3)
    gen.close()
    return meta, frame


# -- cases that already worked (kept working) --------------------------------------------------

def test_good_run_writes_one_complete_video(run_demo, media, tmp_path):
    out = tmp_path / 'out'
    result = run_demo(media['photo'], media['clip'], out)
    assert result.code == 0 and result.error_lines == [], result.err
    assert result.out.strip() == str(out / 'result.mp4')
    assert listing(out) == ['result.mp4']
    assert frames_of(out / 'result.mp4') == 8
    assert first_frame(out / 'result.mp4')[0].get('audio_codec')  # the driving audio is kept


def _bad_source(case, tmp_path, media):
    common = missing_or_empty(case, tmp_path, '.png')
    if common:
        return common
    if case == 'text':
        (tmp_path / 'notes.jpg').write_text('hello')
        return str(tmp_path / 'notes.jpg'), 'notes.jpg'
    if case == 'folder':
        (tmp_path / 'photos').mkdir()
        return str(tmp_path / 'photos'), 'is a folder'
    if case == 'truncated jpeg':
        return truncated_jpeg(media['photo'], tmp_path), 'truncated'
    if case == 'video as source':
        return media['clip'], 'as an image'
    if case == 'no face':
        return faceless_png(tmp_path), 'no face'
    raise ValueError(case)


@pytest.mark.parametrize('case', ['missing', 'empty', 'text', 'folder', 'truncated jpeg',
                                  'video as source', 'no face'])
def test_bad_source_image(run_demo, media, tmp_path, case):
    source, words = _bad_source(case, tmp_path, media)
    out = tmp_path / 'out'
    line = run_demo(source, media['clip'], out).failed_with(2, words)
    if case != 'missing':
        assert os.path.basename(source) in line
    assert listing(out) in (None, [])


def _bad_driving(case, tmp_path, media):
    common = missing_or_empty(case, tmp_path, '.mp4')
    if common:
        return common
    if case == 'text':
        (tmp_path / 'notes.mp4').write_text('hello')
        return str(tmp_path / 'notes.mp4'), 'cannot decode'
    if case == 'still image':
        return media['photo'], 'still image'
    if case == 'one frame':
        ffmpeg('-i', media['clip'], '-frames:v', 1, tmp_path / 'one.mp4')
        return str(tmp_path / 'one.mp4'), '1 frame(s)'
    if case == 'truncated mp4':  # index at the front, cut to 40%: decodes a part, silently
        ffmpeg('-i', media['full'], '-c', 'copy', '-movflags', '+faststart', tmp_path / 'fs.mp4')
        data = (tmp_path / 'fs.mp4').read_bytes()
        (tmp_path / 'cut.mp4').write_bytes(data[:int(len(data) * 0.4)])
        return str(tmp_path / 'cut.mp4'), 'truncated or damaged'
    raise ValueError(case)


@pytest.mark.parametrize('case', ['missing', 'empty', 'text', 'still image', 'one frame',
                                  'truncated mp4'])
def test_bad_driving_video(run_demo, media, tmp_path, case):
    driving, words = _bad_driving(case, tmp_path, media)
    out = tmp_path / 'out'
    line = run_demo(media['photo'], driving, out).failed_with(2, words)
    assert os.path.basename(driving) in line
    assert listing(out) in (None, [])


def test_output_folder_is_a_file(run_demo, media, tmp_path):
    (tmp_path / 'taken').write_text('x')
    run_demo(media['photo'], media['clip'], tmp_path / 'taken').failed_with(2, 'taken')
    assert (tmp_path / 'taken').read_text() == 'x'


# -- weights and config ------------------------------------------------------------------------

def _weights_args(case, tmp_path, small_model):
    config, _ = small_model
    if case == 'missing weights':
        return ['--weight_path', str(tmp_path / 'gone.pdparams')], ['gone.pdparams', 'not found',
                                                                      '--weight_path']
    if case == 'corrupt weights':
        (tmp_path / 'bad.pdparams').write_bytes(b'\x80\x04garbage' * 10)
        return ['--weight_path', str(tmp_path / 'bad.pdparams')], ['bad.pdparams']
    if case == 'yaml syntax':
        (tmp_path / 'bad.yaml').write_text('model:\n  common_params: {num_kp: 10\n  x: [\n')
        return ['--config', str(tmp_path / 'bad.yaml')], ['bad.yaml', 'line']
    if case == 'bad detector weights':
        (tmp_path / 'det.pdparams').write_bytes(b'not a pickle at all')
        return ['--detector_weights', str(tmp_path / 'det.pdparams')], ['det.pdparams']
    raise ValueError(case)


@pytest.mark.parametrize('case', ['missing weights', 'corrupt weights', 'yaml syntax',
                                  'bad detector weights'])
def test_bad_weights_or_config_in_one_line(run_demo, media, tmp_path, small_model, case):
    extra, words = _weights_args(case, tmp_path, small_model)
    out = tmp_path / 'out'
    run_demo(media['photo'], media['clip'], out, *extra).failed_with(2, *words)
    assert listing(out) in (None, [])


def test_malicious_weights_never_run(run_demo, media, tmp_path):
    marker = marker_path(tmp_path)
    evil = write_pdparams(tmp_path / 'evil.pdparams', fomm_like(payloads(marker)['os.system']))
    out = tmp_path / 'out'
    run_demo(media['photo'], media['clip'], out, '--weight_path', evil).failed_with(
        2, 'evil.pdparams', 'refused')
    assert not os.path.exists(marker)
    assert listing(out) in (None, [])


# -- the output name ---------------------------------------------------------------------------

def test_output_equal_to_the_driving_video_is_refused(run_demo, media, tmp_path):
    folder = tmp_path / 'work'
    folder.mkdir()
    driving = folder / 'dance.mp4'
    driving.write_bytes(open(media['clip'], 'rb').read())
    before = driving.read_bytes()
    run_demo(media['photo'], driving, folder, '--filename', 'dance.mp4').failed_with(
        2, 'dance.mp4', 'input')
    assert driving.read_bytes() == before
    assert listing(folder) == ['dance.mp4']


@pytest.mark.parametrize('name', ['', 'anim.gif', 'clip.webm', '.'])
def test_output_names_the_writer_cannot_honour(run_demo, media, tmp_path, name):
    out = tmp_path / 'out'
    start = time.time()
    run_demo(media['photo'], media['clip'], out, '--filename', name).failed_with(2, '--filename')
    assert time.time() - start < 5  # refused before any work
    assert listing(out) in (None, []) and listing(tmp_path) == ['out'] or listing(tmp_path) == []


@pytest.mark.parametrize('name,magic', [('anim.avi', b'RIFF'), ('anim.mov', b'qt  ')])
def test_container_follows_the_file_name(run_demo, media, tmp_path, name, magic):
    out = tmp_path / 'out'
    result = run_demo(media['photo'], media['clip'], out, '--filename', name)
    assert result.code == 0, result.err
    head = (out / name).read_bytes()[:16]
    assert magic in head, head
    assert listing(out) == [name] and frames_of(out / name) == 8


# -- temporary files, concurrent runs ----------------------------------------------------------

def test_stale_temporary_files_are_cleaned_and_live_ones_kept(run_demo, media, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    stale = out / '.result.mp4.abcd1234.mp4'  # left by a SIGKILLed run
    stale.write_bytes(b'\0' * 1000)
    old = time.time() - STALE_AGE - 10
    os.utime(stale, (old, old))
    young = out / '.result.mp4.efgh5678.mp4'  # may belong to a run that is starting
    young.write_bytes(b'\0')
    other = out / '.notes.txt'  # not ppfom's pattern
    other.write_text('keep')
    result = run_demo(media['photo'], media['clip'], out)
    assert result.code == 0, result.err
    assert listing(out) == ['.notes.txt', '.result.mp4.efgh5678.mp4', 'result.mp4']


def test_a_second_run_writing_the_same_output_is_refused(run_demo, media, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'result.mp4').write_bytes(b'previous result')
    fd, held = locked_temp(str(out / 'result.mp4'), '.mp4')  # a live run writing result.mp4
    try:
        old = time.time() - STALE_AGE - 10
        os.utime(held, (old, old))  # old but alive: never cleaned
        run_demo(media['photo'], media['clip'], out).failed_with(2, 'another ppfom run',
                                                                 'result.mp4')
        assert os.path.exists(held)
        assert (out / 'result.mp4').read_bytes() == b'previous result'
        assert listing(out) == sorted([os.path.basename(held), 'result.mp4'])
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# -- photo orientation, timing -----------------------------------------------------------------

def test_exif_orientation_is_applied(run_demo, media, tmp_path):
    """A phone portrait stored landscape with orientation 6 comes out upright (portrait)."""
    upright = Image.open(media['photo']).convert('RGB').resize((192, 256))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # the sensor's landscape pixels
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(tmp_path / 'phone.jpg', exif=exif, quality=95)
    out = tmp_path / 'out'
    result = run_demo(tmp_path / 'phone.jpg', media['clip'], out)
    assert result.code == 0, result.err
    meta, _ = first_frame(out / 'result.mp4')
    assert meta['size'] == (192, 256)  # (W, H): portrait, like the upright photo


def test_variable_frame_rate_keeps_the_driving_duration(run_demo, media, tmp_path):
    """Frames 0-5 every 1/30 s, then 6-11 every 0.08 s (0.68 s in all): read at a constant rate,
    the result lasts as long as the driving video (audio and picture in step)."""
    vfr = tmp_path / 'vfr.mp4'
    ffmpeg('-i', media['long'], '-frames:v', 12, '-vf',
           r"setpts='if(lt(N\,6)\,N/30\,6/30+(N-6)*0.08)/TB'", '-fps_mode', 'vfr', vfr)
    driving_scan = scan_video(str(vfr))
    assert len(driving_scan.times) == 12
    duration = driving_scan.times[-1] + 0.08
    out = tmp_path / 'out'
    result = run_demo(media['photo'], vfr, out)
    assert result.code == 0, result.err
    assert 'variable frame rate' in result.err
    meta, _ = first_frame(out / 'result.mp4')
    n = frames_of(out / 'result.mp4')
    assert abs(n / meta['fps'] - duration) <= 1.5 / meta['fps'], (n, meta['fps'], duration)
