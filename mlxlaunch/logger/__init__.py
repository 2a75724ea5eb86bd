"""The run's Logger: metrics (JSON lines), artifacts, checkpoints (``docs/logging.md``)."""

from mlxlaunch.logger.logger import Logger

__all__ = ["Logger"]
