"""Predictors: the Python API that the CLI, notebooks and UIs call."""
from .first_order_predictor import FeatureUnavailable, FirstOrderPredictor  # noqa: F401
