"""Datasets (registered in ``ppfom.utils.registry.DATASETS``)."""
from .firstorder_dataset import FirstOrderDataset, read_video  # noqa: F401
from .builder import build_dataloader, build_dataset  # noqa: F401
