"""FOMM training losses (paper Sec. 3.3), one kind per file."""
from .equivariance import Transform, equivariance_jacobian_loss, equivariance_value_loss  # noqa: F401
from .keypoint_prior import keypoint_prior_loss  # noqa: F401
from .mouth import mouth_l1_loss  # noqa: F401
from .gan import (feature_matching_loss, lsgan_discriminator_loss,  # noqa: F401
                  lsgan_generator_loss)
from .perceptual import PerceptualPyramidLoss, Vgg19, VGG19_URL  # noqa: F401
from .reconstruction import l1_pyramid_loss  # noqa: F401
