"""The head-shaped paste mask (issue 11): built from FaceMesh landmarks of a real photo, it
covers the face and hair, leaves the collar and background out, and the paste changes no pixel
beyond its feathered band."""
import cv2
import numpy as np
import pytest

from ppfom.faceutils.crop import crop_square, paste_back, square_crop_for_face
from ppfom.faceutils.face_detection import build_detector
from ppfom.faceutils.face_landmarks import build_landmarker, rois_from_detections
from ppfom.faceutils.masks import CHIN, FOREHEAD, head_mask, head_outline


@pytest.fixture(scope='module')
def portrait(data_dir):
    """lp_s6 (a statue with a collar), its face crop at 256 and FaceMesh landmarks in it."""
    photo = cv2.cvtColor(cv2.imread(f'{data_dir}/images/lp_s6.jpg'), cv2.COLOR_BGR2RGB)
    detector = build_detector('blazeface', tiles=False)
    crop = square_crop_for_face(detector.detect(photo)[0], photo.shape)
    image = crop_square(photo, crop, 256)
    roi = rois_from_detections(detector.detect_with_landmarks(image))[0]
    landmarks = build_landmarker().landmarks(image, roi)
    return photo, crop, image, landmarks


def test_mask_covers_the_face_and_hair_not_the_collar(portrait):
    _, _, _, landmarks = portrait
    mask = head_mask(landmarks, 256)
    nose, chin, top = landmarks[1, :2], landmarks[CHIN, :2], landmarks[FOREHEAD, :2]
    height = np.linalg.norm(top - chin)
    assert mask[int(nose[1]), int(nose[0])] == 1
    above = top + (top - chin) / height * 0.2 * height            # hair above the forehead
    assert mask[int(above[1]), int(above[0])] == 1
    collar = chin + (chin - top) / height * 0.35 * height          # well below the chin
    assert mask[min(255, int(collar[1])), int(collar[0])] == 0
    assert mask[250, 5] == 0 and mask[250, 250] == 0               # bottom corners (shoulders)


def test_mask_is_zero_beyond_its_feather_band_and_one_inside(portrait):
    _, _, _, landmarks = portrait
    feather = 0.06
    mask = head_mask(landmarks, 256, feather=feather)
    inside = np.zeros((256, 256), np.uint8)
    cv2.fillPoly(inside, [np.round(head_outline(landmarks)).astype(np.int32)], 1)
    distance = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    assert np.all(mask[distance > feather * 256 + 1] == 0)
    assert np.all(mask[cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0] == 1)
    assert mask.max() == 1 and ((mask > 0) & (mask < 1)).any()


def test_paste_changes_nothing_beyond_the_band(portrait):
    photo, crop, _, landmarks = portrait
    scale = crop.size / 256
    mask = head_mask(landmarks[:, :2] * scale, crop.size)
    animated = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    animated = cv2.resize(animated, (crop.size, crop.size), interpolation=cv2.INTER_NEAREST)
    out = paste_back(photo, crop, animated, mask)
    changed = np.any(out != photo, axis=-1)
    full = np.zeros(photo.shape[:2], np.float32)
    x1, y1 = max(crop.x, 0), max(crop.y, 0)
    x2, y2 = min(crop.x + crop.size, photo.shape[1]), min(crop.y + crop.size, photo.shape[0])
    full[y1:y2, x1:x2] = mask[y1 - crop.y:y2 - crop.y, x1 - crop.x:x2 - crop.x]
    assert changed.any()
    assert not changed[full == 0].any()                       # beyond the band: the photo's own


def test_union_of_heads_follows_a_moved_head(portrait):
    _, _, _, landmarks = portrait
    moved = landmarks.copy()
    moved[:, 0] += 40
    rest, both = head_mask(landmarks, 256), head_mask([landmarks, moved], 256)
    assert np.all(both >= rest) and (both > rest).sum() > 500
    right = moved[454, :2] + [5, 0]                            # just right of the moved cheek
    assert rest[int(right[1]), int(right[0])] < 1 and both[int(right[1]), int(right[0])] == 1


def test_non_finite_landmarks_are_an_error(portrait):
    _, _, _, landmarks = portrait
    bad = landmarks.copy()
    bad[10] = np.nan
    with pytest.raises(ValueError, match='finite landmarks'):
        head_mask(bad, 256)
