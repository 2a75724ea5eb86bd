"""Reading runs back: ``Reader`` (a logs folder), ``RunTable`` (a search result), ``Run`` (one run).

Imported on first use of ``mlxlaunch.Reader``, never by ``import mlxlaunch``:
this package needs pandas and numpy. Modules: ``reader`` (the Reader),
``query`` (the query language), ``scan`` (folder -> rows, damage reporting),
``cache`` (the per-run cache outside the logs folder), ``metrics`` (lazy metric
logs), ``table`` (RunTable, Run, Artifact).
"""

from .query import QueryError
from .reader import Reader
from .scan import ReaderWarning
from .table import Artifact, Run, RunTable

__all__ = ["Reader", "RunTable", "Run", "Artifact", "QueryError", "ReaderWarning"]
