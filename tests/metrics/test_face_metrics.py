"""AKD, AED and missing (dlib) on real clips from ../shared/data, against known truth: a clip
against itself, against a copy shifted by a known number of pixels, two frames of one person
and of two people, a frame without a face."""
import itertools
import sys

import numpy as np
import pytest

from ppfom.metrics import evaluate_reconstruction
from ppfom.metrics.face_analysis import (SAME_PERSON_THRESHOLD, EvalDependencyError,
                                         FaceAnalyzer, get_analyzer, resize_square)
from ppfom.metrics.face_metrics import compare_faces, face_metrics, frame_psnr_ssim
from ppfom.utils.image_io import read_image
from ppfom.utils.video import VideoReader

SHIFT = 5  # pixels at 256


def clip(data_dir, name, count=8, step=5):
    """Every ``step``-th of the first frames of a real clip, resized to 256x256 uint8."""
    frames = itertools.islice(VideoReader(f'{data_dir}/videos/{name}').frames(), 0,
                              count * step, step)
    return np.stack([resize_square(f, 256) for f in frames])


@pytest.fixture(scope='module')
def analyzer():
    return get_analyzer()


@pytest.fixture(scope='module')
def dagan(data_dir):
    return clip(data_dir, 'dagan_driving.mp4')


def test_clip_against_itself_scores_zero(analyzer, dagan):
    faces = analyzer.analyze(dagan)
    assert faces['found'].all()
    scores = compare_faces(faces, analyzer.analyze(dagan.copy()))
    np.testing.assert_array_equal(scores['akd'], 0)
    np.testing.assert_array_equal(scores['aed'], 0)
    np.testing.assert_array_equal(scores['missing'], 0)


def test_akd_equals_a_known_shift(analyzer, dagan):
    # move the content SHIFT px right; the uncovered left strip is filled by reflection
    shifted = np.pad(dagan, ((0, 0), (0, 0), (SHIFT, 0), (0, 0)), mode='reflect')[:, :, :256]
    base, moved = analyzer.analyze(dagan), analyzer.analyze(shifted)
    scores = compare_faces(moved, base)
    assert abs(np.mean(scores['akd']) - SHIFT) < 0.5, scores['akd']
    dx = (moved['landmarks'] - base['landmarks'])[..., 0]
    assert abs(dx.mean() - SHIFT) < 0.5  # and it is a shift in x, not noise of that size
    assert np.mean(scores['aed']) < 0.1  # the same face


def test_identity_distance_same_person_below_and_different_people_above(analyzer, data_dir):
    frames = clip(data_dir, 'fomdemo_2.mp4', count=2, step=100)  # frames 0 and 100
    other = clip(data_dir, 'dagan_driving.mp4', count=1)
    one, two = analyzer.analyze(frames), analyzer.analyze(other)
    same = np.linalg.norm(one['descriptors'][0] - one['descriptors'][1])
    different = np.linalg.norm(one['descriptors'][0] - two['descriptors'][0])
    assert same < SAME_PERSON_THRESHOLD < different, (same, different)


def test_missing_counts_generated_frames_without_a_face(analyzer, dagan, data_dir):
    dog = resize_square(read_image(f'{data_dir}/images/lp_s25_dog_noface.jpg'), 256)
    generated = dagan[:4].copy()
    generated[1] = generated[3] = dog
    scores = face_metrics(generated, dagan[:4], analyzer)
    np.testing.assert_array_equal(scores['missing'], [0, 1, 0, 1])
    assert np.isnan(scores['akd'][[1, 3]]).all() and (scores['akd'][[0, 2]] == 0).all()
    # the real frame without a face is not counted either way
    assert np.isnan(face_metrics(dagan[:2], np.stack([dog, dog]), analyzer)['missing']).all()


def test_static_baseline_and_psnr_ssim(analyzer, dagan):
    scores = face_metrics(dagan, dagan, analyzer)
    assert scores['static_akd'][0] == 0 and (scores['static_akd'][1:] > 0.5).all()
    real = dagan.transpose(0, 3, 1, 2) / 255.0
    psnr, ssim = frame_psnr_ssim(real, real)
    assert np.isinf(psnr).all() and np.allclose(ssim, 1)
    noisy = np.clip(real + 0.01, 0, 1)  # MSE <= 1e-4 -> PSNR >= 40 dB
    psnr, ssim = frame_psnr_ssim(noisy, real)
    assert (psnr >= 40).all() and (psnr < 41).all() and (ssim < 1).all()


def test_reconstruction_with_face_metrics_on_a_perfect_model(dagan):
    import paddle

    video = (dagan.transpose(0, 3, 1, 2) / 255.0).astype('float32')
    metrics = evaluate_reconstruction(lambda v: paddle.to_tensor(v.numpy()),
                                      [{'video': video, 'name': 'dagan'}], face=True)
    assert metrics['reconstruction_l1'] == 0 and metrics['akd'] == 0 and metrics['aed'] == 0
    assert metrics['missing'] == 0 and metrics['ssim'] == 1
    assert metrics['static_baseline_l1'] > 0 and metrics['static_akd'] > 0.5
    clip_metrics = metrics['per_video'][0]
    assert clip_metrics['static_akd'] == metrics['static_akd'] > 0.5


def test_missing_dlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'dlib', None)  # import dlib -> ImportError
    with pytest.raises(EvalDependencyError, match=r"pip install 'ppfom\[eval\]'") as info:
        FaceAnalyzer()
    assert '\n' not in str(info.value)
