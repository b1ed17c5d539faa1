"""Predictors: the Python API that the CLI, notebooks and UIs call."""
from .faces import NoFaceError  # noqa: F401
from .first_order_predictor import FirstOrderPredictor  # noqa: F401
from .live import LiveAnimator  # noqa: F401
