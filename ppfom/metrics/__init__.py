"""Evaluation metrics: reconstruction L1 (always), PSNR/SSIM, AKD, AED and missing, and the
cross-identity animation score (the last three need ``pip install 'ppfom[eval]'``)."""
from .face_analysis import EvalDependencyError, FaceAnalyzer  # noqa: F401
from .reconstruction import (evaluate_reconstruction, frame_l1, static_baseline_l1,  # noqa: F401
                             summarize)
