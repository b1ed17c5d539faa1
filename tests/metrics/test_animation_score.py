"""The cross-identity animation score: signals against known geometry, a clip scored against
itself, and tools/evaluate_animation.py end to end with the bundled model on a short real pair."""
import json
import os
import sys

import cv2
import numpy as np
import pytest

from ppfom.metrics.animation import (SIGNALS, landmark_signals, pearson, score_pair,
                                     signals_from_landmarks, spread_ratio)
from ppfom.metrics.face_analysis import get_analyzer
from ppfom.utils.image_io import read_image

from test_face_metrics import clip

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import evaluate_animation  # noqa: E402


@pytest.fixture(scope='module')
def frames(data_dir):
    return clip(data_dir, 'dagan_driving.mp4', count=8, step=10)


def rotate(points, degrees, centre):
    t = np.radians(degrees)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return (points - centre) @ rot.T + centre


def test_signals_follow_known_geometry(frames):
    lm = landmark_signals(frames[:1])['landmarks'][0]
    centre = lm.mean(axis=0)
    moved = np.stack([lm, rotate(lm, 10, centre), (lm - centre) * 2 + centre, lm + [12, -7]])
    s = signals_from_landmarks(moved)
    # image y points down: a +10 degree rotation in pixel coordinates turns the eye line by +10
    np.testing.assert_allclose(s['roll'][1] - s['roll'][0], 10, atol=1e-9)
    for name in ('mouth', 'eyes', 'yaw'):  # invariant to rotation, scale and shift
        np.testing.assert_allclose(s[name][1:], s[name][0], atol=1e-9)
    iod = np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))
    scale = np.median([iod, iod, 2 * iod, iod])
    np.testing.assert_allclose([s['centre_x'][3] - s['centre_x'][0],
                                s['centre_y'][3] - s['centre_y'][0]], np.array([12, -7]) / scale)
    assert abs(s['yaw'][0]) < 0.15  # a frontal face: nose tip near the middle of the jaw line


def test_pearson_and_spread_ratio():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    b[3] = np.nan
    keep = np.isfinite(b)
    assert pearson(a, b) == pytest.approx(np.corrcoef(a[keep], b[keep])[0, 1])
    assert pearson(a, np.ones(50)) == 0.0 and pearson(a[:2], a[:2]) is None
    assert spread_ratio(3 * a + 1, a) == pytest.approx(3)


def test_clip_scored_against_itself(frames):
    score = score_pair(frames[0], frames, result=frames, crop_result=False)
    for name in SIGNALS:
        assert score['signals'][name] == {'r': 1.0, 'amplitude_ratio': 1.0}, name
    assert score['face_found'] == 1 and score['identity_distance'] < 0.6


def test_evaluate_animation_end_to_end(data_dir, tmp_path):
    pair = 'paddlegan_fom_source.png:lp_d1.mp4'  # 16 frames; neither is a FINAL or tuning item
    assert evaluate_animation.main(['--data_dir', data_dir, '--pairs', pair, '--max_frames', '12',
                                    '--references', '--output', str(tmp_path)]) == 0
    out = json.load(open(tmp_path / 'scores.json'))
    entry = out['pairs'][0]
    model, static, itself = entry['model'], entry['static'], entry['self']
    assert model['frames'] == static['frames'] == itself['frames'] == 12
    # the result keeps the photo's face and identity (dlib's same-person threshold)
    assert model['face_found'] == 1 and model['identity_distance'] < 0.6
    # two different people: the driver is far from the photo
    assert model['identity_distance_driver'] > 0.6
    for name in SIGNALS:
        assert -1 <= model['signals'][name]['r'] <= 1
        assert static['signals'][name]['r'] == 0 and static['signals'][name]['amplitude_ratio'] == 0
        assert itself['signals'][name]['r'] == 1
    assert static['identity_distance'] == 0
    # the piecewise warp of the photo's face: same frames, the photo's person, follows the head
    piecewise = entry['piecewise']
    assert piecewise['frames'] == 12 and piecewise['face_found'] == 1
    assert piecewise['identity_distance'] < 0.6 and piecewise['signals']['roll']['r'] > 0.5
    assert out['median']['model']['signals']['mouth'] == model['signals']['mouth']
    sheet = cv2.imread(entry['sheet'])
    assert sheet is not None and sheet.shape[0] >= 2 * 192 and sheet.shape[1] == 3 * 2 * 192


def test_photo_without_a_face_is_a_one_line_error(data_dir, frames):
    dog = read_image(f'{data_dir}/images/lp_s25_dog_noface.jpg')
    with pytest.raises(ValueError, match='no face in the photo'):
        score_pair(dog, frames[:3], result=[dog] * 3, analyzer=get_analyzer())


def test_score_pair_runs_the_predictor_itself(data_dir, tmp_path):
    score = score_pair(f'{data_dir}/images/paddlegan_fom_source.png',
                       f'{data_dir}/videos/lp_d2.mp4', max_frames=8, model='ppfom-face64',
                       sheet_path=str(tmp_path / 'sheet.png'), sheet_frames=2)
    assert score['frames'] == 8 and score['face_found'] == 1
    assert score['identity_distance'] < 0.6 < score['identity_distance_driver']
    assert cv2.imread(str(tmp_path / 'sheet.png')).shape == (192, 2 * 2 * 192, 3)
