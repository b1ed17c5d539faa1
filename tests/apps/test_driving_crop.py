"""Uncropped driving videos are cropped around the face automatically; face crops are kept."""
import numpy as np
import pytest

from ppfom.apps.faces import DrivingCropper, FaceOptions, select_face_crops
from ppfom.faceutils.crop import crop_square
from ppfom.faceutils.face_detection import build_detector
from ppfom.utils.video import VideoReader


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
