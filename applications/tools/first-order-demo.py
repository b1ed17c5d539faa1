"""Animate a photo with a driving video: PaddleGAN's script name for ``ppfom animate`` (flags:
``--help``; the code is ``ppfom/apps/demo_cli.py``).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

from ppfom.apps.demo_cli import build_parser, main, predictor_kwargs  # noqa: E402,F401

if __name__ == '__main__':
    sys.exit(main())
