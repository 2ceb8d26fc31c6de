"""Bytes and engines: object storage, the DuckDB engine, source files, Parquet writing."""
