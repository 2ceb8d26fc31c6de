"""`make bench`: run every benchmarks/bench_*.py and write BENCHMARKS.md.

`LAKE_BENCH_SCALE=0.1 make bench` runs at a tenth of the sizes the issues name;
`LAKE_BENCH_ONLY=query,ingest make bench` runs some topics only.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import shutil
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

import benchmarks
from benchmarks.common import ROOT, BenchContext, Figure


def main() -> None:
    scale = float(os.environ.get("LAKE_BENCH_SCALE", "1"))
    only = {s.strip() for s in os.environ.get("LAKE_BENCH_ONLY", "").split(",") if s.strip()}
    figures: list[Figure] = []
    failures: list[str] = []
    for module in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        if not module.name.startswith("bench_"):
            continue
        topic = module.name.removeprefix("bench_")
        if only and topic not in only:
            continue
        workdir = Path(tempfile.mkdtemp(prefix=f"lake-bench-{topic}-"))
        print(f"== {topic} (workdir {workdir})", flush=True)
        try:
            mod = importlib.import_module(f"benchmarks.{module.name}")
            got = mod.run(BenchContext(workdir, scale))
            for fig in got:
                print(
                    f"   {fig.name}: {fig.value:.4g} {fig.unit}"
                    + (f" (ratio {fig.ratio:.2f})" if fig.ratio else "")
                    + (
                        f" ({fig.alt_label or 'baseline 2'}: ratio {fig.alt_ratio:.2f})"
                        if fig.alt_ratio
                        else ""
                    )
                )
            figures += got
        except Exception:
            failures.append(f"{topic}: {traceback.format_exc().splitlines()[-1]}")
            traceback.print_exc()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    write_report(figures, failures, scale, only)


def write_report(figures: list[Figure], failures: list[str], scale: float, only: set[str]) -> None:
    path = ROOT / "BENCHMARKS.md"
    # A partial run (LAKE_BENCH_ONLY) keeps the other topics' sections from the previous report.
    kept = _sections(path.read_text()) if path.exists() and only else {}
    fresh = {f.topic for f in figures}
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, scale {scale}.",
        "Every figure is a ratio against a baseline measured in the same run (these machines are noisy);",
        "`ratio` = lake / baseline, so lower is better for times and higher for throughput.",
        "",
    ]
    for topic in sorted({f.topic for f in figures}):
        lines += [
            f"## {topic}",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at scale {scale}.",
            "",
        ]
        mine = [f for f in figures if f.topic == topic]
        alt_label = next((f.alt_label or "baseline 2" for f in mine if f.alt is not None), None)
        if alt_label is None:
            lines += ["| figure | lake | baseline | ratio | target | command |", "|---|---|---|---|---|---|"]
        else:
            lines += [
                f"| figure | lake | baseline | ratio | {alt_label} | ratio | target | command |",
                "|---|---|---|---|---|---|---|---|",
            ]
        for f in mine:
            base = "" if f.baseline is None else f"{f.baseline:.4g} {f.unit}"
            ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
            alt = ""
            if alt_label is not None:
                alt_value = "" if f.alt is None else f"{f.alt:.4g} {f.unit}"
                alt = f"{alt_value} | {'' if f.alt_ratio is None else f'{f.alt_ratio:.2f}'} | "
            lines.append(
                f"| {f.name} | {f.value:.4g} {f.unit} | {base} | {ratio} | {alt}{f.target} | `{f.command}` |"
            )
        notes = [f"- {f.name}: {f.note}" for f in figures if f.topic == topic and f.note]
        lines += ["", *notes, ""] if notes else [""]
    for topic, text in sorted(kept.items()):
        if topic not in fresh and topic != "failures":
            lines += [text.rstrip("\n"), ""]
    if failures:
        lines += ["## failures", "", *[f"- {x}" for x in failures], ""]
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


def _sections(text: str) -> dict[str, str]:
    """`## topic` sections of a previous report, each with its own header line (and run note)."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = line
        elif current is not None:
            sections[current] += line
    return sections


if __name__ == "__main__":
    main()
