"""The package's version: one literal, read by setup.cfg and by ``--version``."""

__version__ = "0.1.0"
