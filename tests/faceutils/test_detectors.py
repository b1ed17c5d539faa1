"""The detector interface on real photos: the default detector, odd inputs, weights download."""
import json
import os

import cv2
import numpy as np
import pytest

from ppfom.faceutils.face_detection import (
    DEFAULT_DETECTOR, DETECTORS, BlazeFaceDetector, SFDDetector, build_detector)
from ppfom.faceutils.face_detection import sfd_detector
from ppfom.faceutils.face_detection.base import box_iou
from ppfom.utils.download import DownloadError, get_path_from_url

from face_helpers import read_rgb

PAINTING = 'paddlegan_multi_person_5faces.jpg'


@pytest.fixture(scope='module')
def default():
    return build_detector()


@pytest.fixture(scope='module')
def painting(data_dir):
    return read_rgb(os.path.join(data_dir, 'images', PAINTING))


def full_range_boxes(fixtures_dir, h, w):
    """The 4 faces MediaPipe's *full-range* model found in the painting (pixel boxes)."""
    ref = json.load(open(os.path.join(fixtures_dir, 'blazeface_reference.json')))
    dets = ref['images']['fom_source_image_multi_person']['full_range_model_selection_1']
    return np.array([[d['relative_bbox']['xmin'] * w, d['relative_bbox']['ymin'] * h,
                      (d['relative_bbox']['xmin'] + d['relative_bbox']['width']) * w,
                      (d['relative_bbox']['ymin'] + d['relative_bbox']['height']) * h] for d in dets])


def test_registry():
    assert DEFAULT_DETECTOR == 'blazeface'
    assert DETECTORS.get('blazeface') is BlazeFaceDetector and DETECTORS.get('sfd') is SFDDetector
    with pytest.raises(KeyError, match='known'):
        build_detector('retinaface')


def test_default_finds_the_five_faces_in_the_painting(default, painting, fixtures_dir):
    det = default.detect_with_landmarks(painting)
    boxes = det.boxes
    assert boxes.shape == (5, 5) and boxes.dtype == np.float32
    assert det.landmarks.shape == (5, 6, 2)
    assert np.all(np.diff(boxes[:, 4]) <= 0) and np.all(boxes[:, 4] >= 0.75)
    # five distinct faces of plausible size (the painting is 1200x900; faces are ~100 px)
    sides = boxes[:, 2] - boxes[:, 0]
    assert np.all((sides > 60) & (sides < 160))
    for i in range(5):
        assert np.all(box_iou(boxes[i, :4], np.delete(boxes[:, :4], i, 0)) < 0.1)
    # the four faces MediaPipe's full-range model finds are among them
    for ref in full_range_boxes(fixtures_dir, *painting.shape[:2]):
        assert box_iou(ref, boxes[:, :4]).max() > 0.5
    # landmarks (eyes, nose, mouth) lie inside their boxes
    x, y = det.landmarks[:, :4, 0], det.landmarks[:, :4, 1]
    inside = ((x > boxes[:, None, 0]) & (x < boxes[:, None, 2])
              & (y > boxes[:, None, 1]) & (y < boxes[:, None, 3]))
    assert inside.all()
    # MediaPipe's single pass finds none of them (faces ~10 px in the 128 letterbox)
    assert len(BlazeFaceDetector(tiles=False).detect(painting)) == 0


def test_8000_pixel_photo(default, painting):
    """Detected on a downscaled copy; boxes come back in the big image's pixels."""
    big = cv2.resize(painting, (8000, 6000), interpolation=cv2.INTER_LINEAR)
    boxes = default.detect(big)
    small = default.detect(painting)
    assert boxes.shape == (5, 5)
    scale = 8000 / 1200
    for b in small:
        assert box_iou(b[:4] * scale, boxes[:, :4]).max() > 0.8


@pytest.mark.parametrize('name', ['avatarify_einstein_gray.jpg', 'avatarify_ronaldo_rgba.png',
                                  'opencv_messi5.jpg'])
def test_gray_rgba_and_small_face(default, data_dir, name):
    image = read_rgb(os.path.join(data_dir, 'images', name))
    assert image.ndim == 2 or image.shape[2] in (3, 4)
    boxes = default.detect(image)
    assert boxes.shape == (1, 5), boxes
    h, w = image.shape[:2]
    cx, cy = (boxes[0, 0] + boxes[0, 2]) / 2, (boxes[0, 1] + boxes[0, 3]) / 2
    assert 0 < cx < w and 0 < cy < h and 0 < boxes[0, 2] - boxes[0, 0] < w   # may reach past a border


def test_bad_input(default):
    with pytest.raises(TypeError, match='uint8'):
        default.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match='shape'):
        default.detect(np.zeros((64, 64, 2), np.uint8))
    blank = default.detect_with_landmarks(np.full((50, 300, 3), 128, np.uint8))
    assert blank.boxes.shape == (0, 5) and blank.landmarks.shape == (0, 6, 2)


def test_s3fd_weights_download_paths(tmp_path, monkeypatch):
    """PaddleGAN's URL is used by default; offline, one line names the file, URL and flag."""
    assert sfd_detector.S3FD_URL == 'https://paddlegan.bj.bcebos.com/models/s3fd_paddle.pdparams'
    monkeypatch.setenv('PPFOM_HOME', str(tmp_path / 'cache'))
    missing = (tmp_path / 'nowhere' / 's3fd_paddle.pdparams').as_uri()
    with pytest.raises(DownloadError) as err:
        get_path_from_url(missing, flag='--detector_weights')
    msg = str(err.value)
    assert '\n' not in msg and 's3fd_paddle.pdparams' in msg and '--detector_weights' in msg
    monkeypatch.setattr(sfd_detector, 'S3FD_URL', missing)
    with pytest.raises(DownloadError, match='--detector_weights'):
        SFDDetector()
    assert not os.listdir(tmp_path / 'cache')   # nothing half-written left behind
    # success: a small file is fetched into the cache once, with its checksum checked
    src = tmp_path / 'tiny.bin'
    src.write_bytes(b'face detector weights')
    import hashlib
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    path = get_path_from_url(src.as_uri(), sha256=digest, flag='--detector_weights')
    assert path.startswith(str(tmp_path / 'cache')) and open(path, 'rb').read() == src.read_bytes()
    with pytest.raises(DownloadError, match='checksum'):
        get_path_from_url((tmp_path / 'tiny.bin').as_uri(), sha256='0' * 64,
                          folder=str(tmp_path / 'other'), flag='--detector_weights')
