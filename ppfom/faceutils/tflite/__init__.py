"""TensorFlow Lite models read and run with Paddle, without TensorFlow: a flatbuffer reader
(:mod:`.reader`) and a graph runner (:mod:`.graph`) shared by the face detector (BlazeFace
full-range) and the face landmarker (FaceMesh)."""
from .graph import TFLiteGraphNet, build_graph_net, graph_spec_from_tflite, load_graph_net
from .reader import TFLiteModel, densify, read_tflite

__all__ = ['TFLiteGraphNet', 'TFLiteModel', 'build_graph_net', 'densify', 'graph_spec_from_tflite',
           'load_graph_net', 'read_tflite']
