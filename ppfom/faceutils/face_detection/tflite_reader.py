"""Moved to :mod:`ppfom.faceutils.tflite.reader`; this name keeps old imports working."""
from ..tflite.reader import TFLiteModel, TFLiteOp, TFLiteTensor, densify, read_tflite

__all__ = ['TFLiteModel', 'TFLiteOp', 'TFLiteTensor', 'densify', 'read_tflite']
