"""Train or evaluate FOMM from a YAML config (PaddleGAN's ``tools/main.py``): the same as ``ppfom
train`` (flags: ``--help``; the code is ``ppfom/engine/main.py``).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from ppfom.engine.main import main, parse_args  # noqa: E402,F401

if __name__ == '__main__':
    sys.exit(main())
