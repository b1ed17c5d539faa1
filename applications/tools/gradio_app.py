"""The web page: the same as ``ppfom web`` (flags: ``--help``; the code is
``ppfom/apps/web_app.py``).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

from ppfom.apps.web_app import build_parser, main  # noqa: E402,F401

if __name__ == '__main__':
    sys.exit(main())
