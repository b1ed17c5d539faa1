"""L1 pyramid reconstruction loss: a VGG-free stand-in for the perceptual loss."""


def l1_pyramid_loss(pyramid_generated, pyramid_real, scales):
    """Sum over scales of the mean absolute difference between the two image pyramids.

    Args:
        pyramid_generated, pyramid_real: dicts ``{'prediction_<scale>': (N, C, h, w)}`` from
            :class:`ppfom.modules.first_order.ImagePyramide`, images in ``[0, 1]``.
        scales: the scales to use (keys ``prediction_<scale>``).
    Returns:
        scalar tensor (unweighted). The real pyramid is treated as a constant.

    Not in the original FOMM (which uses the VGG19 perceptual loss at the same scales); ppfom uses
    it where ImageNet VGG19 weights are not available (config key ``loss_weights.reconstruction_l1``).
    """
    total = 0
    for scale in scales:
        key = f'prediction_{scale}'
        total = total + (pyramid_generated[key] - pyramid_real[key].detach()).abs().mean()
    return total
