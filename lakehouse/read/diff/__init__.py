"""What changed in a table between two snapshots: `Lakehouse.diff` and SQL's `changes()`.

files.py chooses the data files that must be read (files common to both snapshots with the same
delete files are skipped unread), rows.py compares what is read by content in DuckDB, result.py is
what `diff` returns.
"""
