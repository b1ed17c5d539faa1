"""Driving-face tracking: held boxes, smooth fixed-size crops inside the frame."""
import numpy as np
import pytest

from ppfom.faceutils.tracking import face_fraction, smooth_crops, track_boxes


def scripted_detector(script):
    """A detector that returns, frame after frame, the boxes in ``script``."""
    it = iter(script)
    return lambda frame: next(it)


def test_missing_detections_hold_the_last_box():
    box = lambda x: np.array([[x, 10, x + 20, 30, 0.9]])  # noqa: E731
    none = np.zeros((0, 5))
    frames = np.zeros((6, 8, 8, 3), np.uint8)
    boxes, found = track_boxes([frames[:3], frames[3:]],
                               scripted_detector([none, box(5), none, none, box(9), none]))
    assert found.tolist() == [False, True, False, False, True, False]
    assert boxes[:, 0].tolist() == [5, 5, 5, 5, 9, 9]  # the first frame takes the first box


def test_largest_face_is_followed_and_no_face_is_an_error():
    two = np.array([[0, 0, 10, 10, 0.99], [50, 50, 90, 90, 0.5]])
    boxes, _ = track_boxes([np.zeros((4, 4, 3), np.uint8)], scripted_detector([two]))
    assert boxes[0].tolist() == [50, 50, 90, 90]
    with pytest.raises(ValueError, match='no face'):
        track_boxes([np.zeros((2, 4, 4, 3), np.uint8)], scripted_detector([np.zeros((0, 5))] * 2))


def test_crops_are_fixed_size_smooth_and_inside_the_frame():
    rng = np.random.default_rng(0)
    t = np.arange(100)
    cx = 300 + 100 * np.sin(t / 15) + rng.normal(0, 6, 100)  # a moving face, noisy detector
    boxes = np.stack([cx - 40, 200 + 0 * t, cx + 40, 280 + 0 * t], axis=1)
    crops = smooth_crops(boxes, (640, 360), scale=2.0, shift_y=0.0, sigma=4)
    assert {c.size for c in crops} == {160}
    xs = np.array([c.x for c in crops])
    assert np.abs(np.diff(xs)).max() < np.abs(np.diff(cx)).max() / 2  # jitter removed
    assert all(0 <= c.x <= 640 - 160 and 0 <= c.y <= 360 - 160 for c in crops)
    assert face_fraction(boxes, (640, 360)) == pytest.approx(80 / 360)
