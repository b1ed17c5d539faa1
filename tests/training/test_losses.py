"""FOMM losses against independent truth: finite differences, known geometry, hand values."""
import numpy as np
import paddle
import pytest

from ppfom.models.losses import (Transform, equivariance_jacobian_loss, equivariance_value_loss,
                                 feature_matching_loss, l1_pyramid_loss, lsgan_discriminator_loss,
                                 lsgan_generator_loss)
from ppfom.models.losses.perceptual import PerceptualPyramidLoss, PerceptualWeightsError

TPS = dict(sigma_affine=0.05, sigma_tps=0.005, points_tps=5)


def test_transform_jacobian_matches_finite_differences():
    t = Transform(3, seeds=[1, 2, 3], **dict(TPS, sigma_tps=0.05))
    pts = paddle.to_tensor(np.random.default_rng(0).uniform(-0.9, 0.9, (3, 7, 2)).astype('float64'))
    t.theta = t.theta.astype('float64')
    t.control_params = t.control_params.astype('float64')
    t.control_points = t.control_points.astype('float64')
    jac = t.jacobian(pts).numpy()
    eps = 1e-6
    for axis in range(2):
        step = np.zeros((1, 1, 2))
        step[..., axis] = eps
        plus = t.warp_coordinates(pts + paddle.to_tensor(step)).numpy()
        minus = t.warp_coordinates(pts - paddle.to_tensor(step)).numpy()
        np.testing.assert_allclose(jac[..., axis], (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_transform_seeds_make_each_item_independent_of_the_batch():
    both = Transform(2, seeds=[10, 20], **TPS)
    second = Transform(1, seeds=[20], **TPS)
    np.testing.assert_array_equal(both.theta.numpy()[1], second.theta.numpy()[0])
    np.testing.assert_array_equal(both.control_params.numpy()[1], second.control_params.numpy()[0])
    assert not np.allclose(both.theta.numpy()[0], both.theta.numpy()[1])


def test_transform_frame_applies_the_known_shift():
    t = Transform(1, sigma_affine=0.0)
    t.theta = paddle.to_tensor([[[1.0, 0.0, 2 / 31], [0.0, 1.0, 0.0]]])  # one pixel right
    frame = paddle.to_tensor(np.random.default_rng(1).random((1, 3, 32, 32)).astype('float32'))
    out = t.transform_frame(frame).numpy()
    np.testing.assert_allclose(out[..., :-1], frame.numpy()[..., 1:], atol=1e-5)


def test_equivariance_losses_vanish_for_exactly_equivariant_keypoints():
    t = Transform(2, seeds=[3, 4], **TPS)
    kp_y = {'value': paddle.to_tensor(np.random.default_rng(2).uniform(-.5, .5, (2, 5, 2))
                                      .astype('float32')),
            'jacobian': paddle.to_tensor(np.tile(np.eye(2, dtype='float32') * 1.3, (2, 5, 1, 1)))}
    kp_x = {'value': t.warp_coordinates(kp_y['value']),
            'jacobian': paddle.matmul(t.jacobian(kp_y['value']), kp_y['jacobian'])}
    assert float(equivariance_value_loss(kp_x, kp_y, t)) < 1e-6
    assert float(equivariance_jacobian_loss(kp_x, kp_y, t)) < 1e-5
    kp_x['value'] = kp_x['value'] + 0.1
    assert float(equivariance_value_loss(kp_x, kp_y, t)) == pytest.approx(0.1, abs=1e-5)


def test_gan_losses_on_known_maps():
    real = {'prediction_map_1': paddle.ones([2, 1, 4, 4]),
            'feature_maps_1': [paddle.ones([2, 3, 4, 4]), paddle.zeros([2, 3, 2, 2])]}
    fake = {'prediction_map_1': paddle.full([2, 1, 4, 4], 0.25),
            'feature_maps_1': [paddle.full([2, 3, 4, 4], 0.5), paddle.full([2, 3, 2, 2], 2.0)]}
    assert float(lsgan_generator_loss(fake, [1])) == pytest.approx(0.75 ** 2)
    assert float(lsgan_discriminator_loss(real, fake, [1])) == pytest.approx(0.25 ** 2)
    assert float(feature_matching_loss(real, fake, [1], [10, 1])) == pytest.approx(10 * 0.5 + 2.0)
    with pytest.raises(ValueError, match='one weight per block'):
        feature_matching_loss(real, fake, [1], [10, 10, 10])


def test_l1_pyramid_loss_sums_scales():
    a = {'prediction_1': paddle.zeros([1, 3, 8, 8]), 'prediction_0.5': paddle.zeros([1, 3, 4, 4])}
    b = {'prediction_1': paddle.full([1, 3, 8, 8], 0.5), 'prediction_0.5': paddle.ones([1, 3, 4, 4])}
    assert float(l1_pyramid_loss(a, b, [1, 0.5])) == pytest.approx(1.5)


def test_perceptual_loss_without_weights_is_a_clear_error(tmp_path):
    with pytest.raises(PerceptualWeightsError, match='needs ImageNet VGG19 weights: .* does not '
                       'exist; download .*vgg19.pdparams'):
        PerceptualPyramidLoss([10] * 5, str(tmp_path / 'vgg19.pdparams'))


def test_discriminator_is_frozen_during_the_generator_step(tmp_path):
    from ppfom.models import build_model
    from ppfom.utils.config import load_config, to_dict
    from conftest import TINY_CONFIG
    cfg = to_dict(load_config(TINY_CONFIG)['model'])
    model = build_model(cfg)
    source, driving = paddle.rand([2, 3, 64, 64]), paddle.rand([2, 3, 64, 64])
    losses, _ = model.generator_full(source, driving, np.array([1, 2]))
    assert {'gen_gan', 'feature_matching', 'reconstruction_l1', 'equivariance_value',
            'equivariance_jacobian'} <= set(losses)
    paddle.add_n(list(losses.values())).backward()
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.grad is not None for p in model.generator.parameters() if not p.stop_gradient)
    assert not any(p.stop_gradient for p in model.discriminator.parameters())  # restored


def test_perceptual_loss_reads_a_local_vgg19_file(tmp_path):
    from paddle.vision.models.vgg import cfgs, make_layers
    features = make_layers(cfgs['E'])
    state = {f'features.{k}': v for k, v in features.state_dict().items()}
    state['classifier.0.weight'] = paddle.zeros([2, 2])  # ignored, as in the real file
    path = str(tmp_path / 'vgg19.pdparams')
    paddle.save(state, path)
    loss = PerceptualPyramidLoss([1, 1, 1, 1, 1], path)
    np.testing.assert_array_equal(loss.vgg.slices[4][-2].weight.numpy(),
                                  features[28].weight.numpy())  # conv5_1, before relu5_1
    real = {'prediction_1': paddle.rand([1, 3, 32, 32])}
    fake = {'prediction_1': paddle.rand([1, 3, 32, 32])}
    fake['prediction_1'].stop_gradient = False
    assert float(loss(real, real, [1])) == 0
    value = loss(fake, real, [1])
    value.backward()
    assert float(value) > 0 and fake['prediction_1'].grad is not None
    assert all(p.grad is None for p in loss.vgg.parameters())


def test_mouth_l1_counts_only_the_mouth_region():
    """loss_weights.mouth_l1: L1 inside a soft box around the lips of the driving landmarks."""
    from ppfom.models.losses.mouth import MOUTH, mouth_l1_loss, mouth_mask
    from ppfom.modules.landmark_keypoints import load_canonical_face
    canonical, _ = load_canonical_face()
    landmarks = paddle.to_tensor(canonical[None].astype('float32'))
    mask = mouth_mask(landmarks, (64, 64)).numpy()[0, 0]
    lips = canonical[MOUTH]
    centre = ((lips.min(0) + lips.max(0)) / 2 + 1) / 2 * 63            # pixel index (x, y)
    assert mask[int(round(centre[1])), int(round(centre[0]))] == 1
    assert mask[5, 5] == 0 and mask[32, 2] == 0                            # forehead, cheek side
    driving = paddle.rand([1, 3, 64, 64])
    outside = paddle.to_tensor((mask == 0)[None, None].astype('float32'))
    changed = driving + 0.5 * outside                                      # differs off the mouth
    assert float(mouth_l1_loss(changed, driving, landmarks)) == 0
    assert abs(float(mouth_l1_loss(driving + 0.1, driving, landmarks)) - 0.1) < 1e-5
