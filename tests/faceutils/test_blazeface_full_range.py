"""BlazeFace full-range (bundled, run as its TFLite graph) and the TFLite graph runner."""
import json
import os

import numpy as np
import paddle
import pytest

from ppfom.faceutils.face_detection import build_detector
from ppfom.faceutils.face_detection.blazeface_detector import (
    FULL_RANGE_WEIGHTS, BlazeFaceFullRangeDetector, ssd_anchors)
from ppfom.faceutils.tflite import build_graph_net, graph_spec_from_tflite
from ppfom.faceutils.tflite import densify

from face_helpers import read_rgb


def test_graph_runner_reproduces_the_short_range_model(fixtures_dir):
    """The generic runner on the short-range .tflite = MediaPipe's raw outputs (SAME padding,
    max-pool, channel padding, reshape, concatenation)."""
    spec, weights = graph_spec_from_tflite(os.path.join(fixtures_dir,
                                                        'face_detection_short_range.tflite'))
    net = build_graph_net(spec, weights)
    raw = np.load(os.path.join(fixtures_dir, 'blazeface_raw.npz'))
    with paddle.no_grad():
        reg, cls = net(paddle.to_tensor(raw['input'].transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(reg.numpy(), raw['regressors'], atol=5e-4, rtol=0)
    np.testing.assert_allclose(cls.numpy(), raw['classificators'], atol=5e-4, rtol=0)
    with pytest.raises(ValueError, match='do not fit'):
        build_graph_net(spec, {k: v for k, v in list(weights.items())[1:]})


def test_densify_csr():
    """TFLite's sparse layout (dense rows, CSR columns) back to the dense matrix."""
    dense = np.array([[0, 5, 0, 0], [0, 0, 0, 0], [7, 0, 0, 8]], np.float16)
    values = np.array([5, 7, 8], np.float16)
    got = densify(dense.shape, values, [0, 1], [], [('DENSE', 3), ('CSR', [0, 1, 1, 3], [1, 0, 3])])
    np.testing.assert_array_equal(got, dense)
    # column-major traversal of the same matrix
    got = densify(dense.shape, np.array([7, 5, 8], np.float16), [1, 0], [],
                  [('DENSE', 4), ('CSR', [0, 1, 2, 2, 3], [2, 0, 2])])
    np.testing.assert_array_equal(got, dense)


def test_full_range_matches_mediapipe_on_the_painting(fixtures_dir, data_dir):
    """MediaPipe's full-range model (model_selection=1) finds 4 of the 5 faces; so do we."""
    image = read_rgb(os.path.join(data_dir, 'images', 'paddlegan_multi_person_5faces.jpg'))
    h, w = image.shape[:2]
    det = build_detector('blazeface_full')
    assert isinstance(det, BlazeFaceFullRangeDetector) and det.input_size == 192
    assert os.path.getsize(FULL_RANGE_WEIGHTS) < 1_000_000
    np.testing.assert_array_equal(det.anchors, ssd_anchors(192, (4,), False))
    assert det.anchors.shape == (2304, 4)
    ref = json.load(open(os.path.join(fixtures_dir, 'blazeface_reference.json')))
    ref = ref['images']['fom_source_image_multi_person']['full_range_model_selection_1']
    found = det.detect_with_landmarks(image)
    assert len(found) == len(ref) == 4
    for d, r in zip(found.boxes, ref):
        b = r['relative_bbox']
        want = [b['xmin'], b['ymin'], b['xmin'] + b['width'], b['ymin'] + b['height']]
        np.testing.assert_allclose(d[:4] / [w, h, w, h], want, atol=2e-3)
        assert abs(d[4] - r['score']) < 2e-2
    order = ref[0]['keypoints']
    np.testing.assert_allclose(found.landmarks[0] / [w, h], [order[k] for k in order], atol=2e-3)
    # Paddle 3.3's oneDNN executor cannot run this graph: it stays eager, and asking for the
    # compiled program says so
    assert det.runner.backend == 'eager'
    with pytest.raises(ValueError, match="backend 'inference' is not available for BlazeFace "
                                         "full_range"):
        build_detector('blazeface_full', backend='inference')
