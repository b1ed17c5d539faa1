"""The keypoint prior of the bundled model: face anchors from real frames, their flip, the dataset
and the loss, and a training run that uses them."""
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
import yaml

from conftest import ROOT, TINY_CONFIG, decode, write_mp4

from ppfom.datasets.firstorder_dataset import DatasetError, FirstOrderDataset
from ppfom.datasets.landmarks import (ANCHORS, MIRROR, anchors_from_blazeface, flip_anchors,
                                      frame_anchors, load_landmarks)
from ppfom.faceutils.face_detection import BlazeFaceDetector
from ppfom.models.losses import keypoint_prior_loss


@pytest.fixture(scope='module')
def detector():
    return BlazeFaceDetector(tiles=False)


@pytest.fixture(scope='module')
def face_frame(data_dir):
    """A real 512x512 talking-head frame (``lp_d12`` frame 0)."""
    return decode(os.path.join(data_dir, 'videos', 'lp_d12.mp4'), frames=1, size=512)[0]


def test_derived_anchors_follow_the_face_geometry():
    # an upright face: eyes at y=0, mouth at y=2, ears at x=+-3, y=1
    six = np.array([[-1, 0], [1, 0], [0, 1], [0, 2], [-3, 1], [3, 1]], np.float32)
    points = anchors_from_blazeface(six)
    named = dict(zip(ANCHORS, points))
    np.testing.assert_allclose(named['chin'], [0, 2 + 0.7 * 2])
    np.testing.assert_allclose(named['forehead'], [0, -0.7 * 2])
    np.testing.assert_allclose(named['right_cheek'], [-1.5, 1.5])
    np.testing.assert_allclose(named['left_cheek'], [1.5, 1.5])
    np.testing.assert_array_equal(points[:6], six)


def test_anchors_on_a_real_frame_sit_on_the_face(detector, face_frame):
    points = frame_anchors(detector, face_frame, (64, 64, 3))
    named = dict(zip(ANCHORS, points))
    assert np.all(np.abs(points) < 1)
    # the person's right eye is on the image's left
    assert named['right_eye'][0] < named['nose'][0] < named['left_eye'][0]
    assert named['forehead'][1] < named['right_eye'][1] < named['nose'][1] < named['mouth'][1] \
        < named['chin'][1]
    # the eyes are a plausible distance apart for a cropped talking head (~1/5 of the frame)
    assert 0.2 < named['left_eye'][0] - named['right_eye'][0] < 0.8


def test_flipping_the_frame_flips_the_anchors(detector, face_frame):
    points = frame_anchors(detector, face_frame, (64, 64, 3))
    mirrored = frame_anchors(detector, np.ascontiguousarray(face_frame[:, ::-1]), (64, 64, 3))
    np.testing.assert_allclose(flip_anchors(points), mirrored, atol=0.03)
    np.testing.assert_array_equal(flip_anchors(flip_anchors(points)), points)
    assert sorted(MIRROR) == list(range(len(ANCHORS)))


def test_anchors_use_the_datasets_centre_crop(detector, face_frame):
    # the same face padded left and right: the dataset centre-crops back to the square frame
    wide = np.pad(face_frame, ((0, 0), (100, 100), (0, 0)), mode='edge')
    np.testing.assert_allclose(frame_anchors(detector, wide, (64, 64, 3)),
                               frame_anchors(detector, face_frame, (64, 64, 3)), atol=0.02)


def test_no_face_gives_nan(detector):
    ramp = np.tile(np.linspace(0, 255, 128, dtype=np.uint8)[None, :, None], (128, 1, 3))
    assert np.isnan(frame_anchors(detector, ramp, (64, 64, 3))).all()


@pytest.fixture(scope='module')
def landmark_root(tmp_path_factory, data_dir):
    """dataroot/train with an 8-frame clip of lp_d12 whose last two frames are blank, and the
    landmarks written by tools/make_landmarks.py."""
    root = tmp_path_factory.mktemp('landmark_data')
    (root / 'train').mkdir()
    frames = decode(os.path.join(data_dir, 'videos', 'lp_d12.mp4'), frames=8, size=128)
    frames[6:] = 0
    write_mp4(str(root / 'train' / 'clip.mp4'), frames)
    out = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'make_landmarks.py'),
                          '--dataroot', str(root), '--out', str(root / 'landmarks')],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'clip.mp4: 8 frames, no face in 2' in out.stdout
    return root


def test_make_landmarks_writes_one_file_per_clip(landmark_root):
    points = load_landmarks(str(landmark_root / 'landmarks'),
                            str(landmark_root / 'train' / 'clip.mp4'))
    assert points.shape == (8, 10, 2) and points.dtype == np.float32
    assert np.isfinite(points[:6]).all() and np.isnan(points[6:]).all()


def test_dataset_items_carry_flipped_landmarks(landmark_root):
    kwargs = dict(dataroot=str(landmark_root), frame_shape=(64, 64, 3), time_flip=False,
                  landmarks_dir=str(landmark_root / 'landmarks'))
    plain = FirstOrderDataset(transforms=[], **kwargs)
    flipped = FirstOrderDataset(transforms=[{'name': 'PairedRandomHorizontalFlip', 'prob': 1.0}],
                                **kwargs)
    points = load_landmarks(str(landmark_root / 'landmarks'),
                            str(landmark_root / 'train' / 'clip.mp4'))
    for idx in range(3):
        a, b = plain[idx], flipped[idx]
        np.testing.assert_array_equal(a['source'][..., ::-1], b['source'])
        np.testing.assert_array_equal(flip_anchors(a['source_landmarks']), b['source_landmarks'])
        np.testing.assert_array_equal(flip_anchors(a['driving_landmarks']), b['driving_landmarks'])
        # the landmarks are those of the frames drawn (each a row of the file)
        assert any(np.array_equal(a['driving_landmarks'], p, equal_nan=True) for p in points)


def test_missing_or_stale_landmarks_are_errors(landmark_root, tmp_path):
    with pytest.raises(DatasetError, match='tools/make_landmarks.py'):
        FirstOrderDataset(str(landmark_root), landmarks_dir=str(tmp_path))
    np.save(tmp_path / 'clip.mp4.npy', np.zeros((5, 10, 2), np.float32))
    dataset = FirstOrderDataset(str(landmark_root), landmarks_dir=str(tmp_path))
    with pytest.raises(DatasetError, match='5 frames, the clip 8'):
        dataset[0]


def test_loss_ignores_missing_anchors_and_reaches_only_chosen_keypoints():
    kp = paddle.to_tensor(np.zeros((2, 4, 2), np.float32), stop_gradient=False)
    anchors = np.array([[[0.5, 0.5], [np.nan, np.nan]], [[-0.5, 0.25], [0.25, 0.25]]], np.float32)
    loss = keypoint_prior_loss(kp, anchors, keypoints=[3, 1])
    assert float(loss) == pytest.approx((0.5 + 0.5 + 0.5 + 0.25 + 0.25 + 0.25) / 6)
    loss.backward()
    grad = kp.grad.numpy()
    assert np.all(grad[:, [0, 2]] == 0) and np.all(grad[0, 1] == 0) and np.all(grad[1, 1] != 0)
    no_face = np.full((2, 2, 2), np.nan, np.float32)
    assert float(keypoint_prior_loss(kp, no_face, keypoints=[0, 1])) == 0


def test_training_with_the_keypoint_prior(landmark_root, tmp_path):
    cfg = yaml.safe_load(open(TINY_CONFIG))
    cfg['dataset']['train'].update(dataroot=str(landmark_root),
                                   landmarks_dir=str(landmark_root / 'landmarks'))
    cfg['dataset']['test']['dataroot'] = str(landmark_root)
    cfg['model']['train_params']['loss_weights']['keypoint_prior'] = 10
    cfg['model']['train_params']['landmark_keypoints'] = [0, 1, 2, 3, 4]
    path = tmp_path / 'cfg.yaml'
    path.write_text(yaml.safe_dump(cfg))   # 5 keypoints: only the first five anchors are used
    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    import main as cli
    assert cli.main(['-c', str(path), '--output-dir', str(tmp_path / 'run')]) == 0
    log = open(tmp_path / 'run' / 'log.txt').read()
    values = [float(line.split('keypoint_prior ')[1].split()[0])
              for line in log.splitlines() if 'keypoint_prior ' in line]
    assert len(values) == 2 and all(np.isfinite(values)) and all(v > 0 for v in values)
    # without landmarks in the batch the loss asks for them
    cfg['dataset']['train'].pop('landmarks_dir')
    path.write_text(yaml.safe_dump(cfg))
    assert cli.main(['-c', str(path), '--output-dir', str(tmp_path / 'run2')]) != 0


def test_random_affine_moves_points_with_the_content():
    from ppfom.datasets.augmentation import RandomAffine
    rng = np.random.default_rng(0)
    affine = RandomAffine(scale=(0.8, 1.2), rotation=20, translation=0.1)
    size = 96
    grid = np.linspace(-1, 1, size)                       # FOMM's pixel-centre coordinates
    for _ in range(5):
        point = rng.uniform(-0.5, 0.5, size=2)
        # a Gaussian blob at `point`; its centroid after the warp is where the point went
        blob = np.exp(-((grid[None, :] - point[0]) ** 2 + (grid[:, None] - point[1]) ** 2)
                      / (2 * 0.05 ** 2)).astype(np.float32)
        frame = np.repeat(blob[..., None], 3, axis=2)
        matrix = affine.sample(rng)
        (moved,), points = affine.apply([frame], point[None].astype(np.float64), matrix)
        weight = moved[..., 0] / moved[..., 0].sum()
        centroid = [(weight * grid[None, :]).sum(), (weight * grid[:, None]).sum()]
        np.testing.assert_allclose(centroid, points[0], atol=0.01)
    frames, points = affine.apply([frame], point[None], None)
    assert frames[0] is frame and np.array_equal(points, point[None])   # None: unchanged


def test_random_affine_anchors_match_blazeface_on_the_moved_frame(detector, face_frame):
    import cv2
    from ppfom.datasets.augmentation import RandomAffine
    frame = cv2.resize(face_frame, (256, 256), interpolation=cv2.INTER_AREA)
    points = frame_anchors(detector, frame, (256, 256, 3))
    affine = RandomAffine(scale=(0.9, 1.1), rotation=10, translation=0.08)
    matrix = affine.sample(np.random.default_rng(3))
    (moved,), moved_points = affine.apply([frame.astype(np.float32) / 255], points, matrix)
    found = frame_anchors(detector, (moved * 255).round().astype(np.uint8), (256, 256, 3))
    np.testing.assert_allclose(found[:4], moved_points[:4], atol=0.04)   # eyes, nose, mouth
