from .occlusion_aware import OcclusionAwareGenerator  # noqa: F401
from ...modules.keypoint_detector import KPDetector
from ...utils.registry import GENERATORS

GENERATORS.register(KPDetector)
