"""Evaluation metrics."""
from .reconstruction import (evaluate_reconstruction, frame_l1, static_baseline_l1,  # noqa: F401
                             summarize)
