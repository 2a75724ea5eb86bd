"""Subcommands of the ``mlxlaunch`` console script (see ``mlxlaunch/cli.py``)."""
