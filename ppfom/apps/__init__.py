"""Predictors: the Python API that the CLI, notebooks and UIs call."""
from .faces import NoFaceError  # noqa: F401
from .first_order_predictor import FirstOrderPredictor  # noqa: F401
from .live import LiveAnimator  # noqa: F401
# the exception types of bad input (one per kind; see FirstOrderPredictor)
from ..utils.checkpoint import CheckpointError  # noqa: F401
from ..utils.image_io import ImageReadError  # noqa: F401
from ..utils.safe_pickle import UnsafePickleError, WeightsReadError  # noqa: F401
from ..utils.video import OutputPathError, VideoReadError, VideoWriteError  # noqa: F401
