"""ppfom: image animation with the First Order Motion Model, in PaddlePaddle."""
__version__ = '0.1.0'
