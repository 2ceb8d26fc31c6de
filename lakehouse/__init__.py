"""lakehouse: Iceberg tables on S3-compatible storage, queried and transformed with DuckDB SQL."""

from lakehouse.errors import LakehouseError
from lakehouse.lake import Lakehouse, QueryResult, connect

__all__ = ["Lakehouse", "LakehouseError", "QueryResult", "connect"]
__version__ = "0.1.0"
