"""``python -m specops`` (and ``torchrun ... -m specops train ...``) runs the command-line interface."""

import sys

from specops.cli import main

sys.exit(main())
