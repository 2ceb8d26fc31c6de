"""Iceberg tables: catalogs, tables, snapshots and refs, commits, history and pins."""
