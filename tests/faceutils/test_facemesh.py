"""FaceMesh (468 face landmarks) against MediaPipe 0.10.21: the network on the TFLite interpreter's
raw outputs (../shared/fixtures/facemesh_raw.npz) and the whole recipe (BlazeFace -> rotated ROI
-> landmarks) on MediaPipe's own landmarks (facemesh_reference.json)."""
import hashlib
import json
import os

import cv2
import numpy as np
import pytest

from ppfom.faceutils.face_landmarks import (FACEMESH_WEIGHTS, LANDMARKERS, FaceMeshLandmarker, FaceROI,
                                            build_landmarker, crop_roi, project_landmarks,
                                            roi_from_detection)

from face_helpers import read_rgb

# The fp16 weights are exact in fp32, so only summation order separates Paddle from the TFLite
# interpreter: measured at most 1.5e-4 crop pixels (outputs up to 163 px) and 1e-5 on the logit.
# A wrong convention (padding side, PRELU slope, channel order) moves outputs by pixels.
RAW_ATOL = 1e-3


@pytest.fixture(scope='module')
def landmarker():
    return build_landmarker('facemesh')


@pytest.fixture(scope='module')
def raw(fixtures_dir):
    return np.load(os.path.join(fixtures_dir, 'facemesh_raw.npz'))


@pytest.fixture(scope='module')
def reference(fixtures_dir):
    return json.load(open(os.path.join(fixtures_dir, 'facemesh_reference.json')))


def fixture_cases(raw):
    """Case names of facemesh_raw.npz (``<case>/input`` ...), from the file itself."""
    cases = sorted({k.rsplit('/', 1)[0] for k in raw.files})
    assert 'random' in cases and len(cases) >= 6, cases
    return cases


def crop_roi_of(affine):
    """The upright ROI whose crop is the fixture's axis-aligned 2x3 affine (image -> 192 crop)."""
    a = np.asarray(affine, np.float64)
    s = a[0, 0]
    assert a[0, 1] == a[1, 0] == 0 and a[1, 1] == s
    return FaceROI((96 - a[0, 2]) / s, (96 - a[1, 2]) / s, 192 / s, 192 / s, 0.0)


def test_bundled_model_is_mediapipe_s(reference):
    """The bundled file is MediaPipe's face_landmark.tflite, unchanged (sha256 of the fixture)."""
    digest = hashlib.sha256(open(FACEMESH_WEIGHTS, 'rb').read()).hexdigest()
    assert digest == reference['sha256']
    assert os.path.isfile(os.path.join(os.path.dirname(FACEMESH_WEIGHTS), 'NOTICE'))


def test_network_matches_tflite(raw, landmarker):
    """Every fixture case (random tensor and five face crops): landmarks and presence logit."""
    cases = fixture_cases(raw)
    batch = np.concatenate([raw[f'{c}/input'] for c in cases])
    points, logits = landmarker.run_net(batch)
    for i, c in enumerate(cases):
        np.testing.assert_allclose(points[i].reshape(-1), raw[f'{c}/conv2d_21'].reshape(-1),
                                   atol=RAW_ATOL, rtol=0, err_msg=c)
        np.testing.assert_allclose(logits[i], raw[f'{c}/conv2d_31'].reshape(()), atol=RAW_ATOL,
                                   rtol=0, err_msg=c)
    # faces are present in the photo crops, not in noise (MediaPipe's sigmoid >= 0.5 gate)
    faces = landmarker.is_face(1 / (1 + np.exp(-logits)))
    assert faces.tolist() == [c != 'random' for c in cases]


def test_crop_and_projection_match_the_fixture(raw, reference, data_dir, landmarker):
    """The ROI crop reproduces the fixture's input tensors exactly (same corner convention) and
    projecting the network output back equals the inverse of the fixture's affine."""
    for name, entry in reference['images'].items():
        image = read_rgb(os.path.join(data_dir, 'images', name))
        roi = crop_roi_of(entry['crop_affine_2x3'])
        np.testing.assert_allclose(roi.affine(192), entry['crop_affine_2x3'], atol=1e-4)
        # the fixture crops were made with a zero border (MediaPipe replicates; tested end to end)
        crop = crop_roi(np.dstack([image] * 3) if image.ndim == 2 else image, roi, 192,
                        border_mode=cv2.BORDER_CONSTANT)
        np.testing.assert_allclose(crop, raw[f'{name}/input'][0], atol=1e-6, err_msg=name)
        out = raw[f'{name}/conv2d_21'].reshape(468, 3)
        inv = cv2.invertAffineTransform(np.asarray(entry['crop_affine_2x3']))
        got = project_landmarks(out, roi, 192)
        np.testing.assert_allclose(got[:, :2], out[:, :2] @ inv[:, :2].T + inv[:, 2], atol=1e-3)
        np.testing.assert_allclose(got[:, 2], out[:, 2] / roi.affine(192)[0, 0], rtol=1e-5)


def test_registry_and_errors(fixtures_dir, landmarker):
    assert 'facemesh' in LANDMARKERS
    assert isinstance(landmarker, FaceMeshLandmarker)
    assert isinstance(build_landmarker({'name': 'facemesh', 'batch_size': 4}), FaceMeshLandmarker)
    with pytest.raises(KeyError, match='known'):
        build_landmarker('dlib68')
    with pytest.raises(TypeError, match='no option'):
        build_landmarker('facemesh', size=256)
    with pytest.raises(ValueError, match='not a FaceMesh model'):
        build_landmarker(weights=os.path.join(fixtures_dir, 'face_detection_short_range.tflite'))
    with pytest.raises(FileNotFoundError, match='face_landmark.tflite'):
        build_landmarker(weights='/nonexistent/face_landmark.tflite')
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(TypeError, match='uint8'):
        landmarker.landmarks(image.astype(np.float32), (0, 0, 10, 10))
    with pytest.raises(ValueError, match='x1, y1, x2, y2'):
        landmarker.landmarks(image, (0, 0, 10))
    with pytest.raises(ValueError, match='positive'):
        landmarker.landmarks(image, (10, 10, 10, 10))
    with pytest.raises(ValueError, match='2 images and 1 ROIs'):
        landmarker.landmarks_batch([image, image], [(0, 0, 10, 10)])
    with pytest.raises(ValueError, match='both eyes'):
        roi_from_detection((0, 0, 10, 10), eye_right=(2, 3))
