"""Build models and networks from YAML configs (PaddleGAN's ``build_model`` / ``build_generator``)."""
from ..utils.registry import DISCRIMINATORS, GENERATORS, MODELS, build_from_config


def build_model(cfg):
    """Build the training model named by ``cfg.name`` (e.g. ``FirstOrderModel``)."""
    return build_from_config(cfg, MODELS)


def build_generator(cfg):
    """Build a network from GENERATORS (``KPDetector``, ``OcclusionAwareGenerator``, ...)."""
    return build_from_config(cfg, GENERATORS)


def build_discriminator(cfg):
    """Build a network from DISCRIMINATORS."""
    return build_from_config(cfg, DISCRIMINATORS)
