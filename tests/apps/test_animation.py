"""The animation core: batching, the initial frame and relative motion, on real frames."""
import cv2
import numpy as np
import paddle
import pytest

from ppfom.apps.animation import Animator, MotionOptions, best_frame_index
from ppfom.models.networks import load_networks
from ppfom.utils.config import load_config
from ppfom.inference import EagerBackend
from ppfom.modules.motion_transfer import normalize_kp
from ppfom.utils.image_io import read_image
from ppfom.utils.video import VideoReader

from helpers import write_small_model


@pytest.fixture(scope='module')
def backend(fixtures_dir, tmp_path_factory):
    config, weights = write_small_model(fixtures_dir, str(tmp_path_factory.mktemp('model')))
    return EagerBackend(*load_networks(load_config(config).model, weights))


@pytest.fixture(scope='module')
def driving_frames(data_dir):
    reader = VideoReader(f'{data_dir}/videos/lp_d1.mp4')
    return next(reader.batches(16))[:9]


def animate(backend, source, frames, batch_size, options):
    animator = Animator(backend, 128, options)
    animator.set_source(source[None])
    kp = {k: np.concatenate([animator.keypoints(frames[i:i + batch_size])[k]
                             for i in range(0, len(frames), batch_size)])
          for k in ('value', 'jacobian')}
    initial = animator.initial_frame(kp)
    return np.concatenate([f[0] for f in animator.generate(kp, initial, batch_size)]), initial


def test_batch_size_does_not_change_frames(backend, data_dir, driving_frames):
    """PaddleGAN feeds wrong frames for batch_size > 1; here batch 4 (with a partial last
    batch) gives the frames of batch 1."""
    source = read_image(f'{data_dir}/images/paddlegan_fom_source.png')
    options = MotionOptions(relative=True, adapt_scale=True)
    one, _ = animate(backend, source, driving_frames, 1, options)
    four, _ = animate(backend, source, driving_frames, 4, options)
    assert one.shape == (9, 128, 128, 3)
    np.testing.assert_array_equal(one, four)
    # and the frames really differ from each other: the motion is transferred
    assert np.abs(one[0].astype(int) - one[-1].astype(int)).mean() > 0.5


def test_best_frame_starts_from_that_frame(backend, data_dir, driving_frames):
    """With relative motion, the output at the initial frame is the source re-rendered with no
    motion: identical to animating the source with itself."""
    source = read_image(f'{data_dir}/images/paddlegan_fom_source.png')
    out, initial = animate(backend, source, driving_frames, 3,
                           MotionOptions(relative=True, adapt_scale=True, best_frame=5))
    assert initial == 5
    still, _ = animate(backend, source, np.repeat(driving_frames[5:6], 2, axis=0), 2,
                       MotionOptions(relative=True, adapt_scale=True))
    assert np.abs(out[5].astype(int) - still[0].astype(int)).max() <= 1
    with pytest.raises(ValueError, match='out of range'):
        animate(backend, source, driving_frames, 3, MotionOptions(best_frame=9))


def test_find_best_frame_picks_the_matching_pose():
    rng = np.random.default_rng(0)
    source = rng.uniform(-0.5, 0.5, (10, 2))
    driving = rng.uniform(-0.5, 0.5, (8, 10, 2))
    driving[6] = source * 1.7 + np.array([0.2, -0.1])  # same pose, moved and larger
    assert best_frame_index(source, driving) == 6


def test_normalize_kp_relative_motion_geometry():
    """Relative transfer moves the source keypoints by the driving displacement, scaled by the
    ratio of the hull sizes; jacobians compose as J_d J_init^-1 J_s."""
    square = np.array([[[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]], np.float32)
    rot = np.array([[0.0, -1.0], [1.0, 0.0]], np.float32)
    t = lambda a: paddle.to_tensor(np.asarray(a, np.float32))  # noqa: E731
    kp_source = {'value': t(square * 0.5), 'jacobian': t(np.tile(np.eye(2) * 2, (1, 4, 1, 1)))}
    kp_initial = {'value': t(square), 'jacobian': t(np.tile(np.eye(2), (1, 4, 1, 1)))}
    kp_driving = {'value': t(square + [0.2, 0.1]), 'jacobian': t(np.tile(rot, (1, 4, 1, 1)))}
    out = normalize_kp(kp_source, kp_driving, kp_initial, adapt_movement_scale=True,
                       use_relative_movement=True, use_relative_jacobian=True)
    np.testing.assert_allclose(out['value'].numpy(), square * 0.5 + np.array([0.1, 0.05]),
                               atol=1e-6)
    np.testing.assert_allclose(out['jacobian'].numpy()[0, 0], rot * 2, atol=1e-6)
    absolute = normalize_kp(kp_source, kp_driving, kp_initial)
    np.testing.assert_array_equal(absolute['value'].numpy(), kp_driving['value'].numpy())


def test_several_sources_in_one_call_equal_each_alone(backend, data_dir, driving_frames):
    """Multi-person: F faces x B frames in one network call give each face's own animation."""
    options = MotionOptions(relative=True, adapt_scale=True)
    faces = [read_image(f'{data_dir}/images/{name}')
             for name in ('paddlegan_fom_source.png', 'fomdemo_10_rgba.png')]
    faces = [cv2.resize(face, (128, 128)) for face in faces]
    together = Animator(backend, 128, options)
    together.set_source(np.stack(faces))
    kp = together.keypoints(driving_frames)
    joint = np.concatenate(list(together.generate(kp, 0, 4)), axis=1)
    for f, face in enumerate(faces):
        alone, _ = animate(backend, face, driving_frames, 4, options)
        np.testing.assert_array_equal(joint[f], alone)
