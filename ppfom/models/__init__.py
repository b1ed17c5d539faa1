from . import generators  # noqa: F401  (fills the GENERATORS registry)
from .builder import build_discriminator, build_generator, build_model  # noqa: F401
