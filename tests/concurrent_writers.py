"""Run N separate `lake ingest` processes at once, each several ingests, started by one barrier.

    python tests/concurrent_writers.py CONFIG TABLE OUT_DIR WORKERS INGESTS SOURCE...

The parent imports lake once and forks WORKERS children (separate processes, each with its own
catalog connections and DuckDB), so 16 writers do not pay 16 interpreter start-ups on a 2-core
machine. The children block on a pipe until all exist, then each runs the real `lake` CLI
(`lake --config CONFIG ingest TABLE SOURCE --json`) INGESTS times, round-robin over SOURCEs. Each
writes `OUT_DIR/worker-<i>.json`: one record per ingest with exit code, result and commit seconds.
The parent exits 0 when every child exited 0.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path


def _timed_commits(sink: list[float]) -> None:
    """Measure how long each commit (with its retries) takes; the commit itself is untouched."""
    import lakehouse.ops.ingest as ingest_module

    real = ingest_module.commit_with_retry

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - start)

    ingest_module.commit_with_retry = timed  # type: ignore[assignment]


def worker(index: int, config: str, table: str, out_dir: Path, ingests: int, sources: list[str]) -> int:
    from lakehouse.cli import cli

    commit_seconds: list[float] = []
    _timed_commits(commit_seconds)
    records = []
    failures = 0
    for n in range(ingests):
        source = sources[(index * ingests + n) % len(sources)]
        stdout, stderr = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                cli.main(
                    ["--config", config, "ingest", table, source, "--json", "-q"],
                    prog_name="lake",
                    standalone_mode=False,
                )
            except SystemExit as exc:
                code = int(exc.code or 0)
            except Exception as exc:  # noqa: BLE001 - reported as a failed ingest
                code, stderr = 2, io.StringIO(f"{type(exc).__name__}: {exc}")
        failures += code != 0
        records.append(
            {
                "exit_code": code,
                "source": source,
                "result": json.loads(stdout.getvalue()) if code == 0 else None,
                "stderr": stderr.getvalue()[-2000:],
                "commit_seconds": commit_seconds[-1] if commit_seconds and code == 0 else None,
            }
        )
    (out_dir / f"worker-{index}.json").write_text(json.dumps(records))
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    config, table, out, workers, ingests, *sources = argv
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    import lakehouse.cli  # noqa: F401 - import once, before forking
    import lakehouse.ops.ingest  # noqa: F401

    read_end, write_end = os.pipe()
    pids = []
    for index in range(int(workers)):
        pid = os.fork()
        if pid == 0:
            os.close(write_end)
            os.read(read_end, 1)  # returns b"" when the parent closes the pipe: everyone starts at once
            code = 1
            try:
                code = worker(index, config, table, out_dir, int(ingests), sources)
            finally:
                sys.stdout.flush()
                os._exit(code)
        pids.append(pid)
    os.close(read_end)
    os.close(write_end)
    failed = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        failed += os.waitstatus_to_exitcode(status) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
