"""Reading runs back: ``Reader`` (a logs folder), ``RunTable`` (a search result), ``Run`` (one run).

Imported on first use of ``mlxlaunch.Reader``, never by ``import mlxlaunch``:
this package needs pandas and numpy. Modules: ``reader`` (the Reader),
``query`` (the query language), ``scan`` (folder -> rows, damage reporting),
``cache`` (the per-run cache outside the logs folder), ``metrics`` (lazy metric
logs), ``table`` (RunTable, Run, Artifact).
"""

from mlxlaunch.reader.query import QueryError
from mlxlaunch.reader.reader import Reader
from mlxlaunch.reader.scan import ReaderWarning
from mlxlaunch.reader.table import Artifact, Run, RunTable

__all__ = ["Reader", "RunTable", "Run", "Artifact", "QueryError", "ReaderWarning"]
