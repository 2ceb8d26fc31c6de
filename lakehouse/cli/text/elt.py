"""Text output of the ELT commands: run, test, lineage, provenance."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import click

from lakehouse.cli.base import redact
from lakehouse.cli.output import Output
from lakehouse.cli.terminal import print_table, print_tree, sample_row, stdout_is_terminal


class EltText(Output):
    _counter: itertools.count[int] | None = None
    _engines: dict[str, str] = {}  # noqa: RUF012 - replaced per run, never mutated
    _models: int = 0

    def run_started(self, plan: Any) -> None:
        for path, why in plan.ignored:  # no file of the project is skipped silently
            click.echo(f"skipped {path}: {why}", err=True)
        for note in plan.notes:
            click.echo(note, err=True)
        self._counter, self._models = itertools.count(1), len(plan.steps)
        # with Spark in the run, each model's line says which engine built it
        self._engines = {s.model: s.engine for s in plan.steps} if _uses_spark(plan) else {}

    def _done(self) -> str:
        """`2 of 4`: models finished of the run's, as they finish (next() is atomic: threads share it)."""
        if self._counter is None:
            return ""
        width = len(str(self._models))
        return f"{next(self._counter):>{width}} of {self._models} "

    def run_plan(self, plan: Any) -> None:
        fresh = sum(s.up_to_date for s in plan.steps)
        click.echo(
            f"run {plan.run_id}: {len(plan.steps)} model(s), {len(plan.steps) - fresh} to build, "
            f"{fresh} up to date; inputs pinned:"
        )
        for name, sid in plan.inputs.items():
            click.echo(f"  {name} @ {sid}")
        for path, why in plan.ignored:
            click.echo(f"skipped {path}: {why}")
        for note in plan.notes:
            click.echo(note)
        for i, step in enumerate(plan.steps, 1):
            if step.up_to_date:
                click.echo(f"\n-- {i}. {step.model}: up to date at snapshot {step.target_snapshot_id}")
                continue
            how = f"{step.strategy}{' (incremental)' if step.incremental else ''}"
            if _uses_spark(plan):
                how += f" on {_ENGINE_NAMES[step.engine]}"
            checks = ", ".join(c.name for c in step.checks) or "none"
            click.echo(f"\n-- {i}. {step.model}: {how}; why: {step.reason}; checks: {checks}")
            if step.increment is not None and step.incremental:
                for read in step.increment.ranges:
                    click.echo(f"   reads {read.describe()}")
            click.echo(step.sql)

    def model_done(self, model: Any) -> None:
        """One line on stderr as each model finishes, as dbt's (stdout keeps the summary):
        `2 of 4 OK   silver.events ....... [snapshot, 1,204 rows in 0.52s, snapshot 123]`."""
        m = model
        engine = self._engines.get(m.model) and (m.engine or self._engines[m.model])
        how = f"{m.strategy}{f' on {_ENGINE_NAMES[engine]}' if engine else ''}"
        if m.status == "skipped":
            what = f"{how}, {redact(str(m.error))}"
        elif m.status == "up_to_date":
            what = f"{how}, up to date, snapshot {m.snapshot_id}"
        else:
            sid = m.snapshot_id if m.status == "ok" else _unchanged(m.previous_snapshot_id)
            what = f"{how}, {m.rows:,} row{'' if m.rows == 1 else 's'} in {m.seconds:.2f}s, snapshot {sid}"
        dots = "." * max(3, DOTS - len(m.model))
        click.echo(f"{self._done()}{_STATUS[m.status]:<4} {m.model} {dots} [{what}]", err=True)
        if m.status == "error":
            click.echo(f"  {redact(str(m.error))}", err=True)
        for check in m.checks:
            _check_failure(check)

    def run_finished(self, result: Any) -> None:
        if stdout_is_terminal() and result.models:  # piped, stdout keeps its one line
            rows = [
                {
                    "model": m.model, "status": m.status, "strategy": m.strategy, "rows": m.rows,
                    "seconds": Decimal(f"{m.seconds:.2f}"), "snapshot": _summary_snapshot(m),
                }
                for m in result.models
            ]  # fmt: skip
            print_table(rows, title=f"run {result.run_id}")
        if result.ok:  # a failed run says so in its error line
            fresh = result.count("up_to_date")
            click.echo(
                f"run {result.run_id}: {len(result.models) - fresh} model(s) built, {fresh} up to date "
                f"in {result.seconds:.2f}s"
            )

    def test_results(self, results: list[Any]) -> None:
        rows = [
            {
                "table": r.table,
                "check": r.check,
                "result": "pass" if r.passed else ("warn" if r.severity == "warn" else "FAIL"),
                "failing_rows": r.failing_rows if r.error is None else redact(r.error),
                "snapshot": r.snapshot_id,
            }
            for r in results
        ]
        print_table(rows)
        for r in results:
            _check_failure(r)

    def lineage(self, result: Any, fmt: str) -> None:
        if fmt == "json":
            from lakehouse.cli.output import Json

            Json().lineage(result, fmt)
        elif fmt == "mermaid":
            click.echo(result.to_mermaid())
        elif fmt == "html":
            from lakehouse.elt.lineage_html import render_html

            click.echo(render_html(result), nl=False)
        else:
            click.echo(result.to_text())

    def provenance(self, node: dict[str, Any]) -> None:
        from rich.tree import Tree

        def grow(tree: Tree, node: dict[str, Any]) -> None:
            if len(node.get("ingests") or []) > 1:  # rows from several ingests: each, with its sources
                for group in node["ingests"]:
                    tree.add(_ingest_label(group))
            for child in node.get("inputs") or []:
                grow(tree.add(_label(child)), child)

        root = Tree(_label(node))
        grow(root, node)
        print_tree(root)


DOTS = 40  # model names are padded with dots to this width, as dbt's lines are
_STATUS = {"ok": "OK", "up_to_date": "OK", "failed": "FAIL", "error": "ERR", "skipped": "SKIP"}


def _summary_snapshot(m: Any) -> str:
    """The snapshot the table is at after the run: published, up to date, or unchanged."""
    if m.status in ("ok", "up_to_date"):
        return str(m.snapshot_id)
    return _unchanged(m.previous_snapshot_id)


def _unchanged(previous: int | None) -> str:
    """A failed model's table as it stays: its snapshot, or none yet (a new table was not created)."""
    return f"{previous} (unchanged)" if previous is not None else "none (the table was not created)"


def _label(node: dict[str, Any]) -> Any:
    """`gold.training_set @ 123 (run-overwrite, run 2026...)`, as plain text (a `[` is no markup)."""
    from rich.text import Text

    what = node.get("operation") or ""
    extra = []
    if node.get("run_id"):
        extra.append(f"run {node['run_id']}")
    if len(node.get("ingests") or []) > 1:
        extra.append(f"rows from {len(node['ingests'])} ingests")
    elif node.get("sources"):
        extra.append(f"from {node['sources']}")
    if node.get("error"):
        extra.append(f"unavailable: {redact(node['error'])}")
    if node.get("note"):
        extra.append(node["note"])
    for table, read in sorted((node.get("increment") or {}).items()):
        if read.get("read") != "same":
            rows = f", {read['rows']} rows" if "rows" in read else ""
            extra.append(
                f"incremental: {table} {read.get('from')} -> {read.get('to')} ({read.get('read')}{rows})"
            )
    if node.get("rebuild"):
        extra.append(f"rebuilt: {node['rebuild']}")
    label = f"{node['table']} @ {node.get('snapshot_id')}"
    if what or extra:
        label += " (" + ", ".join([x for x in [what, *extra] if x]) + ")"
    return Text(label)


def _ingest_label(group: dict[str, Any]) -> Any:
    """`ingest @ 123 (ingest-append, 2026-..., 60 rows in 4 files, from a.jsonl)`."""
    from rich.text import Text

    if group.get("note"):
        return Text(f"ingest @ {group['snapshot_id']} ({group['note']})")
    parts = [group.get("operation") or "", group.get("committed_at") or ""]
    if group.get("live_files"):
        parts.append(f"{group['live_rows']} rows in {group['live_files']} files")
    if group.get("compacted_into"):
        parts.append("compacted into " + ", ".join(str(s) for s in group["compacted_into"]))
    if group.get("sources"):
        parts.append(f"from {group['sources']}")
    return Text(f"ingest @ {group['snapshot_id']} (" + ", ".join(p for p in parts if p) + ")")


def _check_failure(result: Any) -> None:
    """A failing or warning check on stderr, with its sampled offending rows."""
    if result.passed:
        return
    mark = "WARN" if result.severity == "warn" else "FAIL"
    click.echo(f"  {mark} {redact(result.message())}", err=True)
    for row in result.sample:
        click.echo(f"       {sample_row(row)}", err=True)


_ENGINE_NAMES = {"spark": "Spark", "duckdb": "DuckDB"}


def _uses_spark(plan: Any) -> bool:
    return any(s.engine == "spark" and not s.up_to_date for s in plan.steps)
