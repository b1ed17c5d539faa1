"""Cross-identity animation score: the same as ``ppfom evaluate`` (flags: ``--help``; the code is
``ppfom/apps/evaluate_cli.py``).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from ppfom.apps.evaluate_cli import build_parser, main, parse_args  # noqa: E402,F401

if __name__ == '__main__':
    sys.exit(main())
