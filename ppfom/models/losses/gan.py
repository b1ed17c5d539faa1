"""LSGAN losses and discriminator feature matching (paper Sec. 3.3; original ``modules/model.py``).

The discriminator outputs are dicts ``{'prediction_map_<scale>': (N, 1, h, w),
'feature_maps_<scale>': [(N, C_i, h_i, w_i), ...]}`` as returned by
:class:`ppfom.models.discriminators.FirstOrderDiscriminator`.
"""


def lsgan_generator_loss(maps_generated, scales):
    """``sum_s mean((1 - D_s(G))^2)``: the generator wants every patch judged real (1)."""
    total = 0
    for scale in scales:
        total = total + ((1 - maps_generated[f'prediction_map_{scale}']) ** 2).mean()
    return total


def lsgan_discriminator_loss(maps_real, maps_generated, scales):
    """``sum_s mean((1 - D_s(real))^2 + D_s(G)^2)``: real patches -> 1, generated -> 0."""
    total = 0
    for scale in scales:
        value = (1 - maps_real[f'prediction_map_{scale}']) ** 2 \
            + maps_generated[f'prediction_map_{scale}'] ** 2
        total = total + value.mean()
    return total


def feature_matching_loss(maps_real, maps_generated, scales, weights):
    """``sum_s sum_i w_i * mean|F_i(real) - F_i(G)|`` over the discriminator's block outputs.

    Args:
        weights: one weight per discriminator block (layers with weight 0 are skipped).
    Raises ``ValueError`` when the number of weights differs from the number of blocks.
    As in the original, the real features are not detached (the discriminator parameters are
    frozen during the generator update, so only the generated branch gets gradients that matter).
    """
    total = 0
    for scale in scales:
        real, fake = maps_real[f'feature_maps_{scale}'], maps_generated[f'feature_maps_{scale}']
        if len(weights) != len(real):
            raise ValueError(f'loss_weights.feature_matching has {len(weights)} weights but the '
                             f'discriminator has {len(real)} blocks; give one weight per block')
        for weight, a, b in zip(weights, real, fake):
            if weight != 0:
                total = total + weight * (a - b).abs().mean()
    return total
