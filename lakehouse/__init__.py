"""lakehouse: Iceberg tables on S3-compatible storage, queried and transformed with DuckDB SQL.

Names are imported lazily (PEP 562) so that `lake --help` and the dev server start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from lakehouse.errors import LakehouseError

_LAZY = {
    "Lakehouse": "lakehouse.lake",
    "QueryResult": "lakehouse.read.execute",
    "connect": "lakehouse.lake",
    "load_pins": "lakehouse.table.pins",
}

__all__ = ["LakehouseError", *_LAZY]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lakehouse' has no attribute {name!r}")
