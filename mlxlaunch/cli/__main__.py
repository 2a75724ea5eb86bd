"""``python -m mlxlaunch.cli``: the same as the ``mlxlaunch`` console script."""

import sys

from mlxlaunch.cli import main

sys.exit(main())
