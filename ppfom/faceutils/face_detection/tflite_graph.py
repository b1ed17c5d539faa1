"""Moved to :mod:`ppfom.faceutils.tflite.graph`; this name keeps old imports working."""
from ..tflite.graph import TFLiteGraphNet, build_graph_net, graph_spec_from_tflite

__all__ = ['TFLiteGraphNet', 'build_graph_net', 'graph_spec_from_tflite']
