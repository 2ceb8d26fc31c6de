"""Differential conformance suite (issue 9): every write path of lake judged by readers that share no
code with it.

- values.py: seeded values for every Iceberg primitive type and the (type, transform) matrix.
- readers.py / manifests.py / storage.py: pyiceberg, standalone DuckDB, polars, a spec-strict reader
  (manifests by DuckDB read_avro, Parquet by pyarrow) and `lake query`.
- oracles.py: (a) rows and checksum, (b) partition tuples, (c) folder names, (d) bounds and counts,
  (e) filtered scans, (f) snapshots, plus gc reachability and `lake describe` counts.
- upstream.py: the known upstream bugs, once, with links, and which reader replaces the affected one.
- test_matrix.py: type x transform x operation; test_scenarios.py: sequences (evolution, deletes from
  another writer, expiry vs as-of, TZ, files another engine added).

`make test` runs the default (about 90 s of CPU); `make conformance` (LAKE_CONFORMANCE=wide) adds
seeds, 200-row batches, the S3 warehouse and overwrite/tag/rollback/expire/gc, and writes
CONFORMANCE.md. LAKE_CONFORMANCE_REPORT=path writes the table from a default run.
"""
