"""``python -m ppfom COMMAND ...``: the same as the ``ppfom`` command (:mod:`ppfom.cli`)."""
import sys

from .cli import main

sys.exit(main())
