"""One builder per kind of network, reading the class name from the YAML (PaddleGAN's
``build_model`` / ``build_generator`` / ``build_discriminator``)::

    build_generator({'name': 'OcclusionAwareGenerator', 'num_kp': 10, ...})

``cfg`` is a mapping with ``name`` (a registered class) and its keyword arguments;
``default_args`` fill what ``cfg`` leaves out. Raises ``KeyError`` (listing the known names) for
an unknown name and ``TypeError`` for an option the class does not take.
"""
from ..utils.registry import (DISCRIMINATORS, GENERATORS, KP_DETECTORS, MODELS,
                              build_from_config)


def build_model(cfg, **default_args):
    """The training model named by ``cfg.name`` (``FirstOrderModel``)."""
    return build_from_config(cfg, MODELS, default_args)


def build_generator(cfg, **default_args):
    """A network from GENERATORS (``OcclusionAwareGenerator``, or ``FirstOrderGenerator``: the
    ``model.generator`` section, which builds the keypoint detector and the generator)."""
    return build_from_config(cfg, GENERATORS, default_args)


def build_kp_detector(cfg, **default_args):
    """A keypoint detector from KP_DETECTORS (``KPDetector``)."""
    return build_from_config(cfg, KP_DETECTORS, default_args)


def build_discriminator(cfg, **default_args):
    """A network from DISCRIMINATORS (``FirstOrderDiscriminator``)."""
    return build_from_config(cfg, DISCRIMINATORS, default_args)
