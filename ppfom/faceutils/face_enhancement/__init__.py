"""Face enhancement (restoration) networks behind one interface, registered in ``ENHANCERS``:
``gfpgan`` (GFPGAN v1.3/v1.4, :class:`GFPGANEnhancer`) and ``gpen`` (GPEN-512 in PaddleGAN's
layout, :class:`GPENEnhancer`). Build one with :func:`build_enhancer` and call
``enhancer.enhance(faces)`` on float32 RGB ``(N, 3, H, H)`` crops in ``[0, 1]``."""
from ...utils.registry import ENHANCERS, build_by_name
from .enhancer import (GFPGAN_URL, GPEN_URL, EnhancerWeightsError, FaceEnhancer,
                       GFPGANEnhancer, GPENEnhancer, check_and_load)
from .gfpganv1_clean import GFPGANv1Clean, gfpgan_torch_to_paddle
from .gpen import GPEN

__all__ = ['build_enhancer', 'FaceEnhancer', 'GFPGANEnhancer', 'GPENEnhancer',
           'EnhancerWeightsError', 'GFPGANv1Clean', 'GPEN', 'gfpgan_torch_to_paddle',
           'check_and_load', 'GFPGAN_URL', 'GPEN_URL']


def build_enhancer(name, **kwargs):
    """Build a registered face enhancer: ``build_enhancer('gfpgan', weight_path=...)`` or from a
    config dict ``{'name': 'gpen', **kwargs}``. Raises ``KeyError`` (listing the names) for an
    unknown enhancer and ``TypeError`` for an option it does not take."""
    return build_by_name(name, ENHANCERS, **kwargs)
