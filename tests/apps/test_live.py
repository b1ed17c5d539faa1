"""Live animation (ppfom.apps.live, applications/tools/live-demo.py) fed by real clips as if
they were cameras: the same frames as the file demo, frames dropped (not queued) when the
animator is slow, the reference reset, and the bad inputs (no camera, a camera that stops, no
face in view)."""
import importlib.util
import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

import ppfom.apps.live as live_module
from ppfom.apps import FirstOrderPredictor
from ppfom.apps.faces import DrivingCropper, FaceOptions
from ppfom.apps.live import (NO_FACE, CameraSource, FileSource, LiveAnimator, LiveInputError,
                             Recorder)
from ppfom.faceutils.face_detection import build_detector
from ppfom.faceutils.tracking import FaceFollower
from ppfom.utils.video import VideoReader

from helpers import write_small_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIVE_DEMO = os.path.join(ROOT, 'applications', 'tools', 'live-demo.py')
CLIP = 'videos/lp_d1.mp4'  # 16 frames, 512x512 at 30 fps, a face crop
PHOTO = 'images/lp_s4.jpg'


@pytest.fixture(scope='module')
def small_model(fixtures_dir, tmp_path_factory):
    return write_small_model(fixtures_dir, str(tmp_path_factory.mktemp('model')))


def make_predictor(small_model, **kwargs):
    config, weights = small_model
    options = dict(config=config, weight_path=weights, image_size=128, relative=True,
                   adapt_scale=True, backend='eager', progress=False, crop_driving='off')
    options.update(kwargs)
    return FirstOrderPredictor(**options)


@pytest.fixture(scope='module')
def clip(data_dir):
    return np.stack(list(VideoReader(f'{data_dir}/{CLIP}').frames()))


def file_demo_frames(predictor, data_dir, tmp_path, monkeypatch):
    """The frames FirstOrderPredictor.run returns instead of encoding them (``return_frames``)."""
    return np.asarray(predictor.run(f'{data_dir}/{PHOTO}', f'{data_dir}/{CLIP}',
                                    return_frames=True))


def test_live_frames_equal_the_file_demo(small_model, data_dir, tmp_path, monkeypatch):
    """The clip played at its own 30 fps through the file input: every delivered frame is the
    file demo's frame of that driving frame (same model, same reference frame)."""
    live = LiveAnimator(make_predictor(small_model, paste='disc'), f'{data_dir}/{PHOTO}')
    delivered = []
    stats = live.run(FileSource(f'{data_dir}/{CLIP}'), [delivered.append])
    assert live.reference_index == 0 and not live.cropping  # --crop_driving off
    assert stats.captured == 16 and 1 <= len(delivered) == stats.delivered
    expected = file_demo_frames(make_predictor(small_model, paste='disc'), data_dir, tmp_path,
                                monkeypatch)
    assert expected.shape[0] == 16
    indices = [f.index for f in delivered]
    assert indices == sorted(set(indices))
    for frame in delivered:
        assert frame.status == ''
        np.testing.assert_array_equal(frame.image, expected[frame.index])
    # the motion shows: the last delivered frame is not the photo at rest
    assert np.abs(delivered[-1].image.astype(int) - live.still).mean() > 0.3


def test_every_frame_in_order_gives_the_file_demo_frames_with_the_head_paste(
        small_model, data_dir, clip, tmp_path, monkeypatch):
    """The head-shaped paste follows FaceMesh landmarks from frame to frame: fed every frame in
    order (no drop), the live steps give the file demo's frames exactly (a dropped frame moves
    the landmark tracker's region, so the paste's edge may then differ by a few pixels)."""
    live = LiveAnimator(make_predictor(small_model), f'{data_dir}/{PHOTO}')
    assert live.landmarks is not None  # paste 'head' by default
    expected = file_demo_frames(make_predictor(small_model), data_dir, tmp_path, monkeypatch)
    for i, frame in enumerate(clip):
        out, status = live.process(frame, i)
        assert status == ''
        np.testing.assert_array_equal(out, expected[i])


def test_slow_animator_drops_frames_instead_of_queueing(small_model, data_dir, monkeypatch):
    live = LiveAnimator(make_predictor(small_model), f'{data_dir}/{PHOTO}')
    step = 0.25
    finish = live.finish  # the generation step (the tracking of the next frame runs beside it)
    steps = []

    def slow(tracked):
        started = time.monotonic()
        time.sleep(step)
        out = finish(tracked)
        steps.append(time.monotonic() - started)
        return out

    monkeypatch.setattr(live, 'finish', slow)
    delivered = []
    source = FileSource(f'{data_dir}/videos/fomdemo_3.mp4', fps=30)
    stats = live.run(source, [delivered.append], duration=2.0)
    assert stats.captured >= 45  # the input kept its 30 fps
    assert stats.delivered <= 2.0 / step + 1 and stats.dropped_share() > 0.7
    # bounded latency: a frame waits at most one animation step before its own step
    assert max(stats.latencies) < 2 * max(steps) + 0.1
    indices = [f.index for f in delivered]
    assert np.all(np.diff(indices) >= 3)  # the newest frame is taken, the ones between dropped


def test_reference_reset_takes_effect(small_model, data_dir, clip, tmp_path, monkeypatch):
    """After a reset the next frame is the new reference: it renders the photo at rest, and
    later frames are the file demo's with that frame as its initial frame (--best_frame)."""
    live = LiveAnimator(make_predictor(small_model, paste='disc'), f'{data_dir}/{PHOTO}')
    for i in range(6):
        out, _ = live.process(clip[i], i)
    before = np.abs(out.astype(int) - live.still).mean()
    live.request_reset()
    at_reset, status = live.process(clip[6], 6)
    assert status == '' and live.reference_index == 6
    # relative motion of a frame against itself: the photo at rest (jacobians up to rounding)
    assert np.abs(at_reset.astype(int) - live.still).mean() < 0.2 * before
    later, _ = live.process(clip[12], 12)
    expected = file_demo_frames(make_predictor(small_model, best_frame=6, paste='disc'), data_dir,
                                tmp_path, monkeypatch)
    np.testing.assert_array_equal(later, expected[12])
    assert not np.array_equal(later, file_demo_frames(make_predictor(small_model, paste='disc'),
                                                      data_dir, tmp_path, monkeypatch)[12])


def test_no_face_keeps_the_photo_still_until_a_face_returns(small_model, data_dir, clip):
    live = LiveAnimator(make_predictor(small_model, paste='disc'), f'{data_dir}/{PHOTO}')
    # the camera looking away: the side of a real interview frame, right of the face
    interview = next(VideoReader(f'{data_dir}/videos/paddlegan_mona7s.mp4').frames())
    away = cv2.resize(np.ascontiguousarray(interview[100:620, 760:1280]), clip.shape[2:0:-1])
    out, status = live.process(away, 0)  # no face at start: no reference yet
    assert status == NO_FACE and np.array_equal(out, live.still) and live.kp_initial is None
    first, status = live.process(clip[0], 1)
    assert status == '' and live.reference_index == 1
    moved, _ = live.process(clip[10], 2)
    out, status = live.process(away, 3)
    assert status == NO_FACE and np.array_equal(out, live.still)
    back, status = live.process(clip[10], 4)  # the face returns: animated again, same motion
    assert status == '' and np.array_equal(back, moved) and not np.array_equal(back, live.still)


@pytest.mark.parametrize('crop', [True, False], ids=['photo-rule', 'whole-image'])
def test_face_follower_crops_like_the_file_demo(data_dir, crop):
    """On an uncropped interview (1280x720, small face) the frame-by-frame crop is the file
    demo's crop (same side, centre within a tenth of the side): by the photo's rule when the
    photo is face-cropped, else the square kept inside the frame."""
    reader = VideoReader(f'{data_dir}/videos/paddlegan_mona7s.mp4')
    frames = next(reader.batches(40))
    detector = build_detector('blazeface', tiles=False)
    cropper = DrivingCropper(detector.detect, FaceOptions(crop=crop, crop_driving='on'))

    class Clip:  # the first 40 frames as a reader
        size, frame_count = reader.size, len(frames)

        def batches(self, n):
            return (frames[i:i + n] for i in range(0, len(frames), n))

    cropper.prepare(Clip())
    follower = FaceFollower(detector.detect, anchored=crop)
    live_crops = [follower.update(f) for f in frames]
    side = cropper.crops[0].size
    assert abs(live_crops[0].size - side) < 0.1 * side and 100 < side < 720
    for ours, theirs in zip(live_crops, cropper.crops):
        assert abs(ours.x - theirs.x) < 0.1 * side and abs(ours.y - theirs.y) < 0.1 * side
    assert FaceOptions(crop=False).crops_driving(reader.size, 0.9)  # not square: cropped
    assert not FaceOptions(crop=False).crops_driving((512, 512), 0.9)  # a face crop: kept
    assert FaceOptions(crop=True).crops_driving((512, 512), 0.9)  # the photo's rule


def test_no_camera_at_that_index():
    with pytest.raises(LiveInputError, match='no camera at index 97'):
        CameraSource(97)


def run_live_demo(small_model, data_dir, *extra, env=None):
    config, weights = small_model
    return subprocess.run(
        [sys.executable, LIVE_DEMO, '--config', config, '--weight_path', weights,
         '--image_size', '128', '--backend', 'eager', '--source_image', f'{data_dir}/{PHOTO}',
         '--relative', '--adapt_scale', *extra], capture_output=True, text=True, cwd=ROOT,
        timeout=120, env=env)


def test_live_demo_cli_records_a_clip(small_model, data_dir, tmp_path):
    out = tmp_path / 'live.mp4'
    result = run_live_demo(small_model, data_dir, '--driving_video', f'{data_dir}/{CLIP}',
                           '--record', str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith('delivered ') and 'of 16 frames' in summary, summary
    reader = VideoReader(str(out))
    assert reader.size == (720, 720) and reader.fps == 30
    # the recording lasts from the first to the last delivered frame, in real time: at least
    # the clip's 0.5 s (16 frames at 30 fps), at most that plus the (bounded) latency
    assert 10 <= sum(1 for _ in reader.frames()) <= 16 + 30 * 2


def test_live_demo_cli_bad_inputs(small_model, data_dir, tmp_path):
    result = run_live_demo(small_model, data_dir, '--camera', '97', '--record',
                           str(tmp_path / 'x.mp4'))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith('error: no camera at index 97')
    assert not os.path.exists(tmp_path / 'x.mp4')


def test_live_demo_window_without_display_and_no_output(data_dir, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location('live_demo', LIVE_DEMO)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    source = ['--source_image', f'{data_dir}/{PHOTO}']
    assert demo.main(source + ['--camera', '0', '--window']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --window needs a display (DISPLAY is not set); use --record FILE or '
        '--virtual_camera on a machine without a screen')
    with pytest.raises(SystemExit) as exit_info:
        demo.main(source + ['--driving_video', f'{data_dir}/{CLIP}'])
    assert exit_info.value.code == 2 and 'choose an output' in capsys.readouterr().err


class StoppingCamera:
    """A cv2.VideoCapture stand-in that delivers real frames, then none (unplugged), or hangs."""

    def __init__(self, frames, hang):
        self.frames, self.hang, self.count = frames, hang, 0

    def isOpened(self):
        return True

    def get(self, prop):
        return 30.0

    def read(self):
        if self.count < len(self.frames):
            self.count += 1
            time.sleep(1 / 30)
            return True, cv2.cvtColor(self.frames[self.count - 1], cv2.COLOR_RGB2BGR)
        if self.hang:
            time.sleep(30)
        return False, None

    def release(self):
        pass


@pytest.mark.parametrize('hang', [False, True], ids=['read-fails', 'read-hangs'])
def test_camera_that_stops_delivering(small_model, data_dir, clip, monkeypatch, hang):
    live = LiveAnimator(make_predictor(small_model), f'{data_dir}/{PHOTO}', stall_timeout=0.6)
    monkeypatch.setattr(live_module.cv2, 'VideoCapture',
                        lambda index: StoppingCamera(clip[:8], hang))
    delivered = []
    live.start(CameraSource(0), [delivered.append])
    started = time.monotonic()
    with pytest.raises(LiveInputError, match='camera 0 stopped delivering frames'):
        live.wait(timeout=10)
    assert time.monotonic() - started < 3 and delivered  # frames came, then the error


def test_recorder_plays_in_real_time(tmp_path, clip):
    from ppfom.apps.live import LiveFrame
    recorder = Recorder(str(tmp_path / 'rec.mp4'), fps=20)
    times = []
    for i in range(6):  # 6 frames over about 0.5 s: each repeated until the next one
        times.append(time.monotonic())
        recorder(LiveFrame(i, 0.0, clip[i]))
        time.sleep(0.1)
    recorder.close()
    frames = list(VideoReader(str(tmp_path / 'rec.mp4')).frames())
    slots = (times[-1] - times[0]) * 20  # the last frame's slot at 20 fps
    assert slots - 1 <= len(frames) <= slots + 2 and len(frames) >= 10
    # in order: the first slots show the first frame, the last slot the last one
    first, last = (np.abs(frames[k].astype(int) - clip[i]).mean() for k, i in ((0, 0), (-1, 5)))
    assert first < 3 and last < 3
    empty = Recorder(str(tmp_path / 'empty.mp4'))
    empty.close()
    assert not os.path.exists(tmp_path / 'empty.mp4')


def test_virtual_camera_without_pyvirtualcam_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pyvirtualcam', None)  # import fails as when not installed
    from ppfom.apps.live import VirtualCamera
    with pytest.raises(LiveInputError, match=r'pip install "ppfom\[live\]"'):
        VirtualCamera(256, 256)


def test_live_demo_window_shows_the_animated_frames(small_model, data_dir, tmp_path):
    """``--window`` on a virtual X screen (Xvfb; .ci/run installs it): screenshots taken while
    the demo runs show the window holding the animated frames the recording also got (the same
    pixels, up to the recording's compression), and it changes as the driver moves."""
    from PIL import ImageGrab
    if not shutil.which('Xvfb'):
        pytest.fail('Xvfb not found: install it (Debian: apt-get install -y xvfb; .ci/run does)')
    read, write = os.pipe()
    server = subprocess.Popen(['Xvfb', '-displayfd', str(write), '-screen', '0', '1024x1024x24',
                               '-nolisten', 'tcp'], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            display = ':' + pipe.readline().strip()
        out = tmp_path / 'live.mp4'
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM='xcb')
        config, weights = small_model
        demo = subprocess.Popen(
            [sys.executable, LIVE_DEMO, '--config', config, '--weight_path', weights,
             '--image_size', '128', '--backend', 'eager', '--source_image', f'{data_dir}/{PHOTO}',
             '--relative', '--adapt_scale', '--driving_video', f'{data_dir}/{CLIP}', '--loop',
             '--fps', '10', '--window', '--no_readout', '--duration', '8', '--record', str(out)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        shots = []
        while demo.poll() is None:
            time.sleep(0.25)
            shots.append(np.asarray(ImageGrab.grab(xdisplay=display).convert('RGB')))
        stdout, stderr = demo.communicate(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert demo.returncode == 0, stderr[-2000:]
    assert stdout.strip().splitlines()[-1].startswith('delivered ')
    recorded = np.stack(list(VideoReader(str(out)).frames())).astype(np.float32)
    height, width = recorded.shape[1:3]
    windows = []
    for shot in shots:
        lit = np.argwhere(shot.max(axis=2) > 0)
        if len(lit) == 0:
            continue
        (top, left), (bottom, right) = lit.min(axis=0), lit.max(axis=0)
        if (bottom - top + 1, right - left + 1) == (height, width):   # the window at the
            windows.append(shot[top:bottom + 1, left:right + 1].astype(np.float32))  # frames' size
    assert len(windows) >= 3, f'the window showed nothing in {len(shots)} screenshots'
    # every screenshot of the whole window shows one of the recorded frames
    for window in windows:
        assert np.abs(recorded - window).mean(axis=(1, 2, 3)).min() < 3.0
    assert max(np.abs(w - windows[0]).mean() for w in windows) > 0.5   # it moves
