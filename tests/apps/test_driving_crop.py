"""Uncropped driving videos are cropped around the face automatically; face crops are kept."""
import importlib.util
import os

import numpy as np
import pytest

from ppfom.apps.faces import DrivingCropper, FaceOptions, select_face_crops
from ppfom.faceutils.crop import crop_square
from ppfom.faceutils.face_detection import build_detector
from ppfom.utils.video import VideoReader

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    'applications', 'tools', 'first-order-demo.py')


def test_interview_video_is_cropped_around_the_face(data_dir):
    reader = VideoReader(f'{data_dir}/videos/paddlegan_mona7s.mp4')  # 1280x720, small face
    detector = build_detector('blazeface', tiles=False)
    cropper = DrivingCropper(detector.detect, FaceOptions(crop=False, crop_driving='auto'))
    cropper.prepare(reader)
    assert cropper.crops is not None and len(cropper.crops) == reader.frame_count
    side = cropper.crops[0].size
    assert 100 < side < 720 and {c.size for c in cropper.crops} == {side}
    first = next(reader.batches(4))
    cropped = cropper(first, 0)
    assert cropped.shape == (4, side, side, 3)
    # the face is found again in the crop, large and near the centre
    box = detector.detect(cropped[0])[0]
    assert (box[2] - box[0]) / side > 0.3
    assert abs((box[0] + box[2]) / 2 - side / 2) < 0.15 * side


def test_face_crop_videos_are_used_as_they_are_when_the_whole_image_is_animated(data_dir):
    reader = VideoReader(f'{data_dir}/videos/lp_d2.mp4')
    cropper = DrivingCropper(build_detector('blazeface', tiles=False).detect,
                             FaceOptions(crop=False))
    cropper.prepare(reader)
    assert cropper.crops is None
    frames = next(reader.batches(2))
    assert np.array_equal(cropper(frames, 0), frames)


@pytest.mark.parametrize('clip', ['lp_d2.mp4', 'paddlegan_mona7s.mp4'])  # tight / loose framing
def test_driving_frame_showing_the_photo_is_cropped_as_the_photo(data_dir, clip):
    """Issue 11: with a cropped photo, the driving video is framed by the photo's rule, so a
    clip that starts with the photo gives frame 0 exactly the photo's crop (a tight face crop
    reaches past the frame and is reflected, as the photo's crop is)."""
    reader = VideoReader(f'{data_dir}/videos/{clip}')
    photo = next(reader.batches(1))[0]
    options = FaceOptions()
    source_detector = build_detector('blazeface')
    crop = select_face_crops(photo, source_detector.detect, options)[0]
    cropper = DrivingCropper(build_detector('blazeface', tiles=False).detect, options,
                             detect_anchor=source_detector.detect)
    cropper.prepare(reader)
    assert cropper.crops[0] == crop
    assert len({c.size for c in cropper.crops}) == 1 and len(cropper.crops) == reader.frame_count
    first = next(reader.batches(1))
    np.testing.assert_array_equal(cropper(first, 0)[0], crop_square(photo, crop, crop.size))


def _first_frames(path, n):
    frames = []
    for batch in VideoReader(path).batches(n):
        frames.extend(batch)
        break
    return frames[:n]


@pytest.mark.slow
@pytest.mark.parametrize('clip, motion', [('lp_d2.mp4', []),                      # tight crop
                                          ('lp_d2.mp4', ['--relative']),
                                          ('paddlegan_mona7s.mp4', [])])           # small face
def test_clip_re_driving_its_first_frame_returns_it_at_frame_0(data_dir, tmp_path, clip, motion):
    """Issue 11: the photo is frame 0 of the driving clip; through the CLI, the result's frame 0
    is the photo (up to the model's rendering at rest and the encoder), with absolute motion too.
    Before the photo's framing rule was used for the driving video, a tight clip came out
    zoomed at frame 0 (L1 0.040 on lp_d2 with absolute motion)."""
    import imageio.v2 as iio
    spec = importlib.util.spec_from_file_location('first_order_demo', DEMO)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    frames = _first_frames(f'{data_dir}/videos/{clip}', 8)
    iio.imwrite(tmp_path / 'photo.png', frames[0])
    iio.mimwrite(tmp_path / 'driving.mp4', frames, fps=25, macro_block_size=1, quality=10)
    assert demo.main(['--source_image', str(tmp_path / 'photo.png'), '--driving_video',
                      str(tmp_path / 'driving.mp4'), '--output', str(tmp_path)] + motion) in (0, None)
    result = next(VideoReader(str(tmp_path / 'result.mp4')).batches(1))[0]
    h, w = frames[0].shape[:2]
    l1 = np.abs(result[:h, :w].astype(float) - frames[0]).mean() / 255
    assert l1 < 0.015, l1
