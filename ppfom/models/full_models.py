"""The networks with their training losses, one layer per optimiser step side (original
``modules/model.py``: ``GeneratorFullModel``, ``DiscriminatorFullModel``), run by
:class:`ppfom.models.firstorder_model.FirstOrderModel`."""
import contextlib

import numpy as np
import paddle.nn as nn

from ..modules.first_order import ImagePyramide, detach_kp
from .losses import (PerceptualPyramidLoss, Transform, VGG19_URL, equivariance_jacobian_loss,
                     equivariance_value_loss, feature_matching_loss, keypoint_prior_loss,
                     l1_pyramid_loss, lsgan_discriminator_loss, lsgan_generator_loss,
                     mouth_l1_loss)


def weight_total(value):
    """A loss weight (a number, or a list of per-scale / per-layer weights) as one total."""
    return float(sum(value)) if isinstance(value, (list, tuple)) else float(value or 0)


@contextlib.contextmanager
def frozen(layer):
    """Parameters of ``layer`` get no gradient inside the block (gradients still flow through
    it to its inputs): the discriminator during the generator update."""
    params = [p for p in layer.parameters() if not p.stop_gradient]
    for p in params:
        p.stop_gradient = True
    try:
        yield
    finally:
        for p in params:
            p.stop_gradient = False


class GeneratorFullModel(nn.Layer):
    """Keypoint detector + generator + every generator-side loss, as one layer (one
    ``paddle.DataParallel`` wrapper; original ``GeneratorFullModel``).

    ``forward(source, driving, seeds, source_landmarks, driving_landmarks)``: images
    ``(N, 3, H, W)`` in ``[0, 1]``, ``seeds`` ``(N,)`` int64 (per-sample seeds of the equivariance
    warps), face anchors ``(N, M, 2)`` (only with ``loss_weights.keypoint_prior``). Returns
    ``(losses, generated)``: weighted scalar losses by name, and the generator outputs plus
    ``kp_source``/``kp_driving``.
    The discriminator is used (frozen) but is not a sublayer, so its parameters are not part of
    this layer's data-parallel gradient reduction.
    """

    def __init__(self, kp_extractor, generator, discriminator, train_params):
        super().__init__()
        self.kp_extractor = kp_extractor
        self.generator = generator
        object.__setattr__(self, 'discriminator', discriminator)
        self.scales = list(train_params['scales'])
        self.loss_weights = train_params['loss_weights']
        self.transform_params = dict(train_params.get('transform_params') or {})
        self.landmark_keypoints = list(train_params.get('landmark_keypoints') or [])
        if weight_total(self.loss_weights.get('keypoint_prior', 0)) \
                and not self.landmark_keypoints:
            raise KeyError('loss_weights.keypoint_prior needs model.train_params.'
                           'landmark_keypoints (the keypoint index for each face anchor)')
        self.pyramid = ImagePyramide(self.scales, generator.num_channels)
        self.perceptual = None
        if weight_total(self.loss_weights.get('perceptual', 0)) != 0:
            self.perceptual = PerceptualPyramidLoss(
                self.loss_weights['perceptual'], train_params.get('vgg19_weights', VGG19_URL))

    def forward(self, source, driving, seeds=None, source_landmarks=None, driving_landmarks=None):
        w = self.loss_weights
        # Paddle 3.3 CPU: grid_sample's backward crashes (SIGSEGV) when its input image needs no
        # gradient, so the source image (warped by the dense motion network) is marked as one.
        source = source.detach()
        source.stop_gradient = False
        if getattr(self.kp_extractor, 'takes_landmarks', False):
            if source_landmarks is None or driving_landmarks is None:
                raise ValueError('a keypoint detector that reads landmarks needs them in the '
                                 'batch: set dataset.train.landmarks_dir and require_landmarks')
            kp_source = self.kp_extractor(source_landmarks)
            kp_driving = self.kp_extractor(driving_landmarks)
        else:
            kp_source = self.kp_extractor(source)
            kp_driving = self.kp_extractor(driving)
        generated = self.generator(source, kp_source=kp_source, kp_driving=kp_driving)
        generated.update({'kp_source': kp_source, 'kp_driving': kp_driving})
        losses = {}
        pyramid_real = self.pyramid(driving)
        pyramid_generated = self.pyramid(generated['prediction'])
        if self.perceptual is not None:
            losses['perceptual'] = self.perceptual(pyramid_generated, pyramid_real, self.scales)
        if weight_total(w.get('reconstruction_l1', 0)) != 0:
            losses['reconstruction_l1'] = w['reconstruction_l1'] * l1_pyramid_loss(
                pyramid_generated, pyramid_real, self.scales)
        if weight_total(w.get('mouth_l1', 0)) != 0:
            if driving_landmarks is None or driving_landmarks.shape[1] != 468:
                raise ValueError('loss_weights.mouth_l1 needs FaceMesh landmarks in the batch: '
                                 'set dataset.train.landmarks_dir (tools/make_landmarks.py)')
            losses['mouth_l1'] = w['mouth_l1'] * mouth_l1_loss(generated['prediction'], driving,
                                                               driving_landmarks)
        if weight_total(w.get('generator_gan', 0)) != 0:
            disc = self.discriminator
            with frozen(disc):
                kp = detach_kp(kp_driving)
                maps_generated = disc(pyramid_generated, kp=kp)
                maps_real = disc(pyramid_real, kp=kp)
            losses['gen_gan'] = w['generator_gan'] * lsgan_generator_loss(maps_generated,
                                                                        disc.scales)
            if weight_total(w.get('feature_matching', 0)) != 0:
                losses['feature_matching'] = feature_matching_loss(
                    maps_real, maps_generated, disc.scales, w['feature_matching'])
        if weight_total(w.get('keypoint_prior', 0)) != 0:
            if source_landmarks is None or driving_landmarks is None:
                raise ValueError('loss_weights.keypoint_prior needs face landmarks in the batch; '
                                 'set dataset.train.landmarks_dir (tools/make_landmarks.py)')
            losses['keypoint_prior'] = w['keypoint_prior'] * (
                keypoint_prior_loss(kp_source['value'], source_landmarks, self.landmark_keypoints)
                + keypoint_prior_loss(kp_driving['value'], driving_landmarks,
                                      self.landmark_keypoints))
        eq_value = weight_total(w.get('equivariance_value', 0))
        eq_jacobian = weight_total(w.get('equivariance_jacobian', 0))
        if eq_value + eq_jacobian != 0:
            seed_list = None if seeds is None else [int(s) for s in np.asarray(seeds).ravel()]
            transform = Transform(driving.shape[0], seeds=seed_list, **self.transform_params)
            transformed_frame = transform.transform_frame(driving)
            transformed_kp = self.kp_extractor(transformed_frame)
            generated['transformed_frame'] = transformed_frame
            generated['transformed_kp'] = transformed_kp
            if eq_value:
                losses['equivariance_value'] = eq_value * equivariance_value_loss(
                    kp_driving, transformed_kp, transform)
            if eq_jacobian:
                losses['equivariance_jacobian'] = eq_jacobian * equivariance_jacobian_loss(
                    kp_driving, transformed_kp, transform)
        if not losses:
            raise ValueError('model.train_params.loss_weights turns every generator loss off; '
                             'give reconstruction_l1 or perceptual a weight > 0')
        return losses, generated


class DiscriminatorFullModel(nn.Layer):
    """Discriminator + its LSGAN loss (original ``DiscriminatorFullModel``).

    ``forward(driving, prediction, kp_value)``: real and generated ``(N, 3, H, W)`` (the latter
    already detached), driving keypoints ``(N, K, 2)`` (used when the discriminator takes them).
    Returns ``{'disc_gan': scalar}``.
    """

    def __init__(self, discriminator, train_params, num_channels):
        super().__init__()
        self.discriminator = discriminator
        self.weight = train_params['loss_weights'].get('discriminator_gan', 1)
        self.pyramid = ImagePyramide(discriminator.scales, num_channels)

    def forward(self, driving, prediction, kp_value):
        kp = {'value': kp_value}
        maps_generated = self.discriminator(self.pyramid(prediction), kp=kp)
        maps_real = self.discriminator(self.pyramid(driving), kp=kp)
        return {'disc_gan': self.weight * lsgan_discriminator_loss(
            maps_real, maps_generated, self.discriminator.scales)}
