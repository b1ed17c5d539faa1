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
                                            roi_from_detection, roi_from_landmarks,
                                            rois_from_detections)
from ppfom.faceutils.face_landmarks.roi import normalize_radians

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
    with open(os.path.join(fixtures_dir, 'facemesh_reference.json')) as f:
        return json.load(f)


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


@pytest.mark.parametrize('backend, batch_size', [('inference', 1), ('inference', 8),
                                                 ('eager', 1), ('eager', 8)])
def test_network_matches_tflite(raw, backend, batch_size):
    """Every fixture case (random tensor and five face crops): landmarks and presence logit, one
    crop per network call and all crops in one call (batch folded into depthwise channels), as
    the compiled Paddle Inference program (the default on a CPU) and eagerly."""
    cases = fixture_cases(raw)
    batch = np.concatenate([raw[f'{c}/input'] for c in cases])
    landmarker = build_landmarker('facemesh', batch_size=batch_size, backend=backend)
    assert landmarker.runner.backend == backend
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


# --- MediaPipe's region of interest: BlazeFace box + eyes -> rotated square ROI -> landmarks ---

# Measured (BlazeFace single pass, as MediaPipe runs it) on the five reference photos: mean error
# 0.001-0.021% of the face width, worst point 0.067%, z 0.037%. The raw axis-aligned crop is off by
# 0.59-1.47% and the upright 1.5x box (no eye rotation) by 0.44-0.70%, so 0.1% separates the recipe
# from near misses with a 5x margin over what the port shows.
E2E_MEAN, E2E_MAX = 0.1, 0.3   # percent of the face width


def face_width(points):
    return float(np.ptp(points[:, 0]))


def errors_percent(points, want, width):
    return np.linalg.norm(points[:, :2] - want[:, :2], axis=1) / width * 100


def rotate_image(image, degrees):
    """The photo turned ``degrees`` counter-clockwise about its centre on a canvas holding all of
    it; returns the image and the 2x3 pixel map."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    size = (int(np.ceil(h * s + w * c)), int(np.ceil(h * c + w * s)))
    m[:, 2] += np.array(size) / 2 - np.array([w, h]) / 2
    return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), m


@pytest.fixture(scope='module')
def detector():
    from ppfom.faceutils.face_detection import build_detector
    return build_detector('blazeface', tiles=False)   # MediaPipe's single pass


@pytest.fixture(scope='module')
def photos(reference, data_dir):
    """name -> (RGB image, MediaPipe's landmarks in pixels (468, 3), z scaled like x)."""
    out = {}
    for name, entry in reference['images'].items():
        image = read_rgb(os.path.join(data_dir, 'images', name))
        image = np.dstack([image] * 3) if image.ndim == 2 else image[..., :3]
        h, w = image.shape[:2]
        out[name] = image, np.asarray(entry['landmarks_normalized'], np.float64) * [w, h, w]
    return out


def test_end_to_end_matches_mediapipe(photos, detector, landmarker):
    """BlazeFace -> roi_from_detection (eyes, 1.5x, square) -> landmarks = MediaPipe's FaceMesh."""
    for name, (image, want) in photos.items():
        found = detector.detect_with_landmarks(image)
        assert len(found) >= 1, name
        roi = rois_from_detections(found)[0]
        points, score = landmarker.landmarks(image, roi, return_score=True)
        assert points.shape == (468, 3) and points.dtype == np.float32
        assert landmarker.is_face(score), name
        width = face_width(want)
        err = errors_percent(points, want, width)
        assert err.mean() < E2E_MEAN and err.max() < E2E_MAX, (name, err.mean(), err.max())
        assert np.abs(points[:, 2] - want[:, 2]).mean() / width * 100 < E2E_MEAN, name
        # the upright box alone (no eye rotation) is measurably worse: the test can tell them apart
        upright = errors_percent(landmarker.landmarks(image, found.boxes[0]), want, width)
        assert upright.mean() > 2 * E2E_MEAN, (name, upright.mean())


def test_roi_recipe_known_geometry():
    """roi_from_detection / roi_from_landmarks / FaceROI.affine on hand-computed cases."""
    roi = roi_from_detection((10, 20, 110, 80, 0.9))
    assert (roi.x_centre, roi.y_centre, roi.width, roi.height, roi.rotation) == (60, 50, 150, 150, 0)
    # eyes on a line rising 30 degrees to the right (y down): the ROI turns by -30 degrees
    eye_r = np.array([40.0, 60.0])
    eye_l = eye_r + 20 * np.array([np.cos(np.radians(30)), -np.sin(np.radians(30))])
    roi = roi_from_detection((10, 20, 110, 80), eye_r, eye_l)
    assert roi.rotation == pytest.approx(np.radians(-30), abs=1e-12)
    a = roi.affine(192)
    corners = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
    c, s = np.cos(roi.rotation), np.sin(roi.rotation)
    for (u, v), want in zip(corners, [(0, 0), (192, 0), (192, 192), (0, 192)]):
        p = np.array([60, 50]) + 150 * np.array([c * u - s * v, s * u + c * v])
        np.testing.assert_allclose(a[:, :2] @ p + a[:, 2], want, atol=1e-9)
    # the eye line is horizontal in the crop
    e = (a[:, :2] @ np.stack([eye_r, eye_l]).T).T + a[:, 2]
    assert e[0, 1] == pytest.approx(e[1, 1], abs=1e-9) and e[1, 0] > e[0, 0]
    # crop -> image round trip of project_landmarks, z scaled like x
    pts = np.array([[10.0, 20.0, 5.0], [180.0, 96.0, -12.0]])
    back = project_landmarks(pts, roi, 192)
    np.testing.assert_allclose((a[:, :2] @ back[:, :2].T).T + a[:, 2], pts[:, :2], atol=1e-4)
    np.testing.assert_allclose(back[:, 2], pts[:, 2] * 150 / 192, rtol=1e-6)
    # landmarks -> ROI: bounding box centre, 1.5x its longer side, rotation from points 33 -> 263
    lms = np.zeros((468, 3))
    lms[:, 0] = np.linspace(100, 200, 468)
    lms[:, 1] = np.linspace(50, 130, 468)
    lms[33, :2], lms[263, :2] = (120, 90), (160, 50)   # eye line at 45 degrees, inside the box
    roi = roi_from_landmarks(lms)
    assert (roi.x_centre, roi.y_centre, roi.width) == (150, 90, 150)
    assert roi.rotation == pytest.approx(np.radians(-45), abs=1e-12)
    with pytest.raises(ValueError, match=r'\(468, 3\)'):
        roi_from_landmarks(lms[:100])


def test_tracking_roi_turns_with_the_face(photos):
    """roi_from_landmarks on MediaPipe's landmarks turned by a known angle: the ROI's rotation
    changes by exactly minus that angle (image y points down)."""
    _, want = photos['lp_s6.jpg']
    base = roi_from_landmarks(want)
    for degrees in (25, -30):
        t = np.radians(degrees)
        turn = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])   # CCW on screen
        turned = want.copy()
        turned[:, :2] = (want[:, :2] - 300) @ turn.T + 300
        got = roi_from_landmarks(turned).rotation
        assert np.isclose(normalize_radians(got - base.rotation + t), 0, atol=1e-9)


def test_landmarks_rotate_with_the_photo(photos, detector, landmarker):
    """Known geometry: each photo turned by 25 and -30 degrees, with the ROI turned the same way,
    gives the original landmarks turned (mean < 0.25%, every point < 0.6% of the face width;
    measured 0.02-0.08% and 0.23%: bilinear resampling of the turned photo). A sign error in
    the ROI rotation or the projection back costs tens of percent."""
    for name, (image, _) in photos.items():
        roi = rois_from_detections(detector.detect_with_landmarks(image))[0]
        base = landmarker.landmarks(image, roi)
        width = face_width(base)
        for degrees in (25, -30):
            turned, m = rotate_image(image, degrees)
            centre = m[:, :2] @ [roi.x_centre, roi.y_centre] + m[:, 2]
            moved = FaceROI(*centre, roi.width, roi.height, roi.rotation - np.radians(degrees))
            points = landmarker.landmarks(turned, moved)
            want = base[:, :2] @ m[:, :2].T + m[:, 2]
            err = errors_percent(points, want, width)
            assert err.mean() < 0.25 and err.max() < 0.6, (name, degrees, err.mean(), err.max())
            assert np.abs(points[:, 2] - base[:, 2]).mean() / width * 100 < 0.25


def test_detect_and_track_a_turned_photo(photos, detector, landmarker):
    """The whole recipe on a turned photo: BlazeFace finds the face and its eyes, the ROI follows
    the turn, one tracking step (roi_from_landmarks) refines it; the landmarks land within 2% of
    the face width of the turned upright result (measured 0.77-1.0%: BlazeFace's eye keypoints on
    a turned face are a few degrees off, and FaceMesh's output moves with its crop)."""
    for name in ('paddlegan_face.png', 'tpsmm_source.png'):
        image, _ = photos[name]
        base = landmarker.landmarks(image, rois_from_detections(detector.detect_with_landmarks(image))[0])
        for degrees in (25, -25):
            turned, m = rotate_image(image, degrees)
            found = detector.detect_with_landmarks(turned)
            assert len(found) >= 1, (name, degrees)
            first, score = landmarker.landmarks(turned, rois_from_detections(found)[0], return_score=True)
            assert landmarker.is_face(score)
            roi = roi_from_landmarks(first)
            expected = normalize_radians(roi_from_landmarks(base).rotation - np.radians(degrees))
            assert abs(normalize_radians(roi.rotation - expected)) < np.radians(3), (name, degrees)
            points = landmarker.landmarks(turned, roi)
            err = errors_percent(points, base[:, :2] @ m[:, :2].T + m[:, 2], face_width(base))
            assert err.mean() < 2.0, (name, degrees, err.mean())


def test_batch_equals_one_by_one(photos, detector, landmarker):
    """landmarks_batch (one network call, several images or several ROIs of one image) gives the
    single-face results; a crop of no face scores below the presence threshold."""
    images, rois = [], []
    for image, _ in photos.values():
        images.append(image)
        rois.append(rois_from_detections(detector.detect_with_landmarks(image))[0])
    batched = build_landmarker('facemesh', batch_size=len(images))
    points, scores = batched.landmarks_batch(images, rois)
    assert points.shape == (len(images), 468, 3) and scores.shape == (len(images),)
    for i, (image, roi) in enumerate(zip(images, rois)):
        np.testing.assert_allclose(points[i], landmarker.landmarks(image, roi), atol=1e-3)
    assert landmarker.is_face(scores).all()
    # several ROIs of one image: the face and a patch of background (corner of the photo)
    image, roi = images[0], rois[0]
    corner = FaceROI(roi.width / 4, roi.width / 4, roi.width / 2, roi.width / 2, 0.0)
    points, scores = batched.landmarks_batch(image, [roi, corner])
    np.testing.assert_allclose(points[0], landmarker.landmarks(image, roi), atol=1e-3)
    assert landmarker.is_face(scores).tolist() == [True, False]
    empty, none = landmarker.landmarks_batch(image, [])
    assert empty.shape == (0, 468, 3) and none.shape == (0,)


def test_track_follows_a_turning_face(photos, detector, landmarker):
    """MediaPipe's video loop on a known motion: the photo turning 4 degrees a frame, then a frame
    without a face, then the photo again. The detector runs on the first frame only while the face
    is followed; the lost face gives NaN landmarks and a fresh detection on the next frame; the
    followed landmarks are the first frame's turned (mean < 1.5% of the face width, measured
    0.5-0.9%: the network's output moves a little with its crop). Against MediaPipe 0.10.21's own
    video mode (a local run, not in CI) the tracked landmarks agree within 0.02% of the face width
    on average over 78-265 frames of three talking-head clips."""
    image, _ = photos['paddlegan_face.png']
    calls = []

    class Counting:
        def detect_with_landmarks(self, frame):
            calls.append(1)
            return detector.detect_with_landmarks(frame)

    steps = [4 * k for k in range(8)]
    turned = [rotate_image(image, d) for d in steps]
    size = turned[-1][0].shape[:2]
    # every frame on the canvas of the largest turn, the photo centred on it
    frames, maps = [], []
    for frame, m in turned:
        dy, dx = (size[0] - frame.shape[0]) // 2, (size[1] - frame.shape[1]) // 2
        frames.append(cv2.copyMakeBorder(frame, dy, size[0] - frame.shape[0] - dy, dx,
                                         size[1] - frame.shape[1] - dx, cv2.BORDER_REPLICATE))
        maps.append(m + [[0, 0, dx], [0, 0, dy]])
    frames += [np.full_like(frames[0], 128), frames[0]]
    points, scores, detected = landmarker.track(frames, Counting())
    assert points.shape == (len(frames), 468, 3) and scores.shape == detected.shape == (len(frames),)
    assert detected.tolist() == [True] + [False] * 8 + [True] and len(calls) == 2
    assert landmarker.is_face(scores).tolist() == [True] * 8 + [False, True]
    assert np.isnan(points[8]).all() and not np.isnan(points[np.arange(len(frames)) != 8]).any()
    base = points[0]
    original = (base[:, :2] - maps[0][:, 2]) @ np.linalg.inv(maps[0][:, :2]).T
    for k, m in enumerate(maps):
        err = errors_percent(points[k], original @ m[:, :2].T + m[:, 2], face_width(base))
        assert err.mean() < 1.5, (k, err.mean())
    np.testing.assert_allclose(points[-1], base, atol=1e-3)
