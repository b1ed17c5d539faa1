from .evaluation import evaluate  # noqa: F401
from .trainer import Trainer  # noqa: F401
