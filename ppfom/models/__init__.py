"""Networks and the training model, built from YAML through the registries
(:mod:`ppfom.models.builder`)."""
from . import generators  # noqa: F401  (fills GENERATORS)
from . import discriminators  # noqa: F401  (fills DISCRIMINATORS)
from . import firstorder_model  # noqa: F401  (fills MODELS)
from .builder import (build_discriminator, build_generator, build_kp_detector,  # noqa: F401
                      build_model)
from .networks import build_networks, load_networks  # noqa: F401
