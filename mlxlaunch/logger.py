"""The run's Logger: metrics as JSON lines, in the run folder.

``metrics/<log_name>.json`` gets one JSON object per ``log_metrics`` call, as one
complete line written in one ``write`` and flushed, so a reader of a live run
sees every finished record and a crash never leaves half a record followed by
good ones. ``metrics/.keys/<log_name>.yaml`` lists the keys ever logged.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

#: Names a metrics log may not take: they are used by the run folder itself.
RESERVED_LOG_NAMES = frozenset({"info", "config", "launcher", "artifacts", "metadata", "metrics"})
_VALID_LOG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")


def _check_log_name(log_name: str) -> None:
    if not isinstance(log_name, str) or not _VALID_LOG_NAME.match(log_name):
        raise ValueError(
            f"Invalid log_name {log_name!r}: use letters, digits, '_', '-' and '.', "
            "with no path separator (e.g. 'train', 'eval_clean')."
        )
    if log_name in RESERVED_LOG_NAMES or log_name.startswith("."):
        raise ValueError(
            f"log_name {log_name!r} is reserved by the run folder; reserved names are "
            f"{', '.join(sorted(RESERVED_LOG_NAMES))}. Pick another one, e.g. 'train'."
        )


def _to_json_value(key: str, value: Any) -> Any:
    """Convert a metric value to something ``json.dumps`` takes, or raise ``TypeError``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return [_to_json_value(key, v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json_value(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    import enum

    if isinstance(value, enum.Enum):
        return _to_json_value(key, value.value)
    tolist = getattr(value, "tolist", None)  # numpy scalars/arrays, torch tensors
    if callable(tolist):
        detach = getattr(value, "detach", None)
        if callable(detach):
            value = detach().cpu()
            tolist = value.tolist
        return _to_json_value(key, tolist())
    item = getattr(value, "item", None)
    if callable(item):
        return _to_json_value(key, item())
    raise TypeError(
        f"Metric {key!r} has a value of type {type(value).__module__}.{type(value).__qualname__}, "
        "which cannot be stored as JSON: log numbers, strings, bools, lists or numpy/torch "
        "values, or convert it first."
    )


class Logger:
    """Writes a run's metrics (and, later, artifacts and checkpoints) into its folder."""

    def __init__(self, log_dir: Path, log_id: int) -> None:
        self.log_dir = Path(log_dir)
        self.log_id = log_id
        self._metrics_dir = self.log_dir / "metrics"
        self._keys: dict[str, set[str]] = {}

    def log_metrics(self, metrics: dict[str, Any], log_name: str = "metrics_default") -> None:
        """Append ``metrics`` as one JSON line to ``metrics/<log_name>.json``."""
        _check_log_name(log_name)
        if not isinstance(metrics, dict):
            raise TypeError(f"log_metrics takes a dict, got {type(metrics).__name__}.")
        record = {str(k): _to_json_value(str(k), v) for k, v in metrics.items()}
        line = json.dumps(record, allow_nan=True) + "\n"
        self._metrics_dir.mkdir(exist_ok=True)
        fd = os.open(
            self._metrics_dir / f"{log_name}.json", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
        )
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        self._update_keys(log_name, record)

    def _update_keys(self, log_name: str, record: dict[str, Any]) -> None:
        known = self._keys.setdefault(log_name, set())
        new = set(record) - known
        if not new:
            return
        known |= new
        from .store import atomic_write, dump_yaml

        keys_dir = self._metrics_dir / ".keys"
        keys_dir.mkdir(exist_ok=True)
        atomic_write(keys_dir / f"{log_name}.yaml", dump_yaml(sorted(known)))
