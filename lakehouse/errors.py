"""One error hierarchy: every failure a user can cause is a LakehouseError."""

from __future__ import annotations


class LakehouseError(Exception):
    """Base of every error `lakehouse` raises on purpose. The CLI prints it as one line, exit 1."""


class ConfigError(LakehouseError):
    """The configuration file or profile is missing or invalid."""


class NoSuchTableError(LakehouseError):
    """A table name does not resolve to a table in the catalog."""


class TableExistsError(LakehouseError):
    """A table that should be created already exists."""


class InvalidIdentifierError(LakehouseError):
    """A table or namespace name is not a safe `namespace.table` identifier."""


class SchemaError(LakehouseError):
    """A schema, type or partition spec string cannot be understood."""


class SchemaMismatchError(LakehouseError):
    """Source data does not fit the table's schema."""


class SourceError(LakehouseError):
    """A source file is missing, unreadable or malformed."""


class QueryError(LakehouseError):
    """A query failed to parse, plan or run."""


class SnapshotNotFoundError(LakehouseError):
    """An --as-of reference does not resolve to a live snapshot."""


class RefError(LakehouseError):
    """A tag or branch cannot be created, found or removed as asked."""


class PinError(LakehouseError):
    """A pin (lock) file is unreadable, or its snapshots no longer match the lake."""


class CommitError(LakehouseError):
    """A commit to the catalog failed after all retries, or conflicted with another writer."""


class StorageError(LakehouseError):
    """The object store refused or failed a request."""


class CheckFailedError(LakehouseError):
    """A data check or contract failed; nothing was published."""


class DevServerError(LakehouseError):
    """The local moto S3 development server could not be started, found or stopped."""


class DriftError(LakehouseError):
    """`lake drift` found drift beyond the thresholds (exit 1, for CI)."""


class SparkUnavailableError(LakehouseError):
    """No usable local Spark environment (pyspark, Java, the Iceberg and JDBC jars): `make spark` builds one."""


class SparkError(LakehouseError):
    """Spark refused a statement, or the Spark process failed."""


class LakehouseWarning(UserWarning):
    """Something a user should know that does not stop the operation; the CLI prints `Warning: ...`."""


class ErasedSnapshotWarning(LakehouseWarning):
    """A pinned or named snapshot was rewritten by an erasure; its re-created version is read."""
