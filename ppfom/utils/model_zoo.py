"""The model zoo: one table from model name to config, weights URL and checksum."""
import os
from dataclasses import dataclass
from typing import Optional

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PADDLEGAN_FOM_URL = 'https://paddlegan.bj.bcebos.com/applications/first_order_model/'


@dataclass(frozen=True)
class ModelSpec:
    """One published (or bundled) FOMM model.

    ``config`` is a file name under ``ppfom/configs``; ``url`` where the weights are downloaded
    from (``None`` for weights shipped inside the package at ``bundled``); ``sha256`` of the
    weights when known; ``image_size`` the default output resolution; ``network_size`` the
    resolution the networks must run at when it differs from the output's (models that compose
    the warped source, like the bundled one), else None (they run at the output resolution).
    """
    name: str
    config: str
    image_size: int
    network_size: Optional[int] = None
    url: Optional[str] = None
    sha256: Optional[str] = None
    bundled: Optional[str] = None
    description: str = ''


# the default model (ppfom.apps.defaults.MODEL) first: listings and menus show it first
MODEL_ZOO = {spec.name: spec for spec in (
    ModelSpec('ppfom-talk64', 'firstorder_talk.yaml', 256, network_size=64,
              bundled='ppfom_talk64.pdparams',
              description='talking-face FOMM trained by ppfom, shipped in the package: keypoints '
                          'measured from FaceMesh landmarks, motion at 64 px, rendered at 256 '
                          '(see ppfom/weights/MODEL_CARD.md)'),
    ModelSpec('ppfom-face64', 'firstorder_bundled.yaml', 256, network_size=64,
              bundled='ppfom_face64.pdparams',
              description='small talking-head FOMM trained by ppfom, shipped in the package, the '
                          'previous default (motion at 64 px, rendered at 256; see '
                          'ppfom/weights/MODEL_CARD_face64.md)'),
    ModelSpec('vox256', 'firstorder_vox_256.yaml', 256, url=PADDLEGAN_FOM_URL + 'vox-cpk.pdparams',
              description="PaddleGAN's VoxCeleb 256 model (original FOMM vox-cpk weights)"),
    ModelSpec('vox512', 'firstorder_vox_512.yaml', 512,
              url=PADDLEGAN_FOM_URL + 'vox-cpk-512.pdparams',
              description="PaddleGAN's VoxCeleb 512 model"),
    ModelSpec('vox-mobile', 'firstorder_vox_mobile_256.yaml', 256,
              url=PADDLEGAN_FOM_URL + 'vox-mobile.pdparams',
              description="PaddleGAN's lightweight VoxCeleb 256 model"),
)}


def config_path(name):
    """Absolute path of a config shipped in ``ppfom/configs``."""
    return os.path.join(PACKAGE_ROOT, 'configs', name)


def weights_path(name):
    """Absolute path of weights shipped in ``ppfom/weights``."""
    return os.path.join(PACKAGE_ROOT, 'weights', name)


def get_model_spec(name):
    """Look up a model; ``KeyError`` lists the known names."""
    if name not in MODEL_ZOO:
        raise KeyError(f"unknown model '{name}'; known models: {', '.join(MODEL_ZOO)}")
    return MODEL_ZOO[name]
