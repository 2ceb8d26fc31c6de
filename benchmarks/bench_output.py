"""Query output: peak memory of `lake query` writing a large result in each format, with DuckDB held
to `lake.duckdb.memory-limit: 256MB`, against DuckDB's own COPY of the same result under the same limit.

Target (issue 10): RSS within the memory limit plus a fixed overhead, whatever the result size.
"""

from __future__ import annotations

from benchmarks.common import BenchContext, Figure, peak_rss_of

TOPIC = "output"
LIMIT = "256MB"


def run(ctx: BenchContext) -> list[Figure]:
    rows = ctx.rows(8_000_000)  # about 1 GB of CSV at scale 1
    sql = f"SELECT i, i * 0.5 AS x, repeat(chr(97 + (i % 26)::INT), 100) AS s FROM range({rows}) AS t(i)"
    config = ctx.workdir / "catalog" / "lake.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(
        "profiles:\n  bench:\n    type: sql\n"
        f"    uri: sqlite:///{ctx.workdir / 'catalog.db'}\n    warehouse: file://{ctx.workdir / 'wh'}\n"
        f"    lake.duckdb.memory-limit: {LIMIT}\n"
    )
    out = ctx.workdir / "out"
    baseline_code = (
        "import duckdb\n"
        f"con = duckdb.connect(config={{'memory_limit': '{LIMIT}', 'preserve_insertion_order': False}})\n"
        f"con.execute(\"COPY ({sql}) TO '{out}.csv' (HEADER)\")\n"
    )
    _, base_rss = peak_rss_of(baseline_code)
    size = (out.with_suffix(".csv")).stat().st_size
    figures = []
    for fmt in ("csv", "jsonl", "json", "parquet"):
        target = f"{out}.{fmt}"
        code = (
            "import sys\nfrom lakehouse.cli import cli\n"
            f"sys.argv = ['lake', '--config', '{config}', 'query', {sql!r}, '--format', '{fmt}', '-o', '{target}']\n"
            "try:\n    cli(standalone_mode=False)\nexcept SystemExit as exc:\n    assert not exc.code, exc\n"
        )
        seconds, rss = peak_rss_of(code)
        figures.append(
            Figure(
                TOPIC,
                f"peak RSS, {fmt} of a {size / 1e9:.2f} GB result",
                rss / 2**20,
                base_rss / 2**20,
                unit="MB",
                target=f"limit {LIMIT} + fixed overhead",
                command=f'lake query "<{rows:,} rows>" --format {fmt} -o out.{fmt} (memory-limit {LIMIT}) '
                "vs duckdb COPY ... TO out.csv",
                note=f"{seconds:.1f} s",
            )  # fmt: skip
        )
    return figures
