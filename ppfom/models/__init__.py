from . import generators  # noqa: F401  (fills the GENERATORS registry)
from . import discriminators  # noqa: F401  (fills DISCRIMINATORS)
from . import firstorder_model  # noqa: F401  (fills MODELS)
from .builder import build_discriminator, build_generator, build_model  # noqa: F401
