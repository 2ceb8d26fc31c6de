"""The CLI's one output layer, in the manner of pyiceberg's `cli/output.py`: an `Output` with a `Json`
implementation (here) and a `Text` one (`cli/text/`). `--json` picks one per invocation
(`options.output_option`); a command calls the library and hands what it returns to one `Output`
method. Errors are not printed here: the group's handler in `cli/base.py` prints them, masked, and
sets the exit code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import click

from lakehouse.cli.jsondoc import masked_errors, to_json
from lakehouse.cli.terminal import Progress

if TYPE_CHECKING:
    from lakehouse.lake import QueryResult


class Output(ABC):
    """What every command shows. Results arrive as the library returns them (objects or dicts)."""

    show_progress = True

    def progress(self, description: str, enabled: bool = True) -> Progress:
        """A progress bar on stderr, only for people at a terminal."""
        return Progress(description, enabled=enabled and self.show_progress)

    def warning(self, message: str | None) -> None:
        """A warning on stderr in every mode (stdout stays the result)."""
        if message:
            click.echo(f"Warning: {message}", err=True)

    # tables
    @abstractmethod
    def created(self, table: str, location: str, info: dict[str, Any]) -> None: ...
    @abstractmethod
    def table_names(self, names: list[str]) -> None: ...
    @abstractmethod
    def described(self, info: dict[str, Any]) -> None: ...
    @abstractmethod
    def files(self, rows: list[dict[str, Any]]) -> None: ...
    @abstractmethod
    def dropped(self, table: str, result: dict[str, Any], purge: bool, dry_run: bool) -> None: ...

    # data
    @abstractmethod
    def ingested(self, table: str, result: Any) -> None: ...
    @abstractmethod
    def query_result(self, result: QueryResult, fmt: str | None, output: str | None) -> None: ...

    # history
    @abstractmethod
    def snapshots(self, table: str, rows: list[dict[str, Any]]) -> None: ...
    @abstractmethod
    def tagged(self, table: str, name: str, row: dict[str, Any], delete: bool) -> None: ...
    @abstractmethod
    def tags(self, table: str, rows: list[dict[str, Any]]) -> None: ...
    @abstractmethod
    def rolled_back(self, table: str, plan: Any, result: dict[str, Any], dry_run: bool) -> None: ...
    @abstractmethod
    def pinned(self, path: str, pin_file: Any) -> None: ...
    @abstractmethod
    def pins_verified(self, report: Any) -> None: ...

    # maintenance
    @abstractmethod
    def compacted(self, table: str, result: Any, dry_run: bool) -> None: ...
    @abstractmethod
    def expired(self, result: Any, dry_run: bool) -> None: ...
    @abstractmethod
    def erased(self, result: Any, dry_run: bool) -> None: ...
    @abstractmethod
    def collected(self, table: str, data: dict[str, Any], dry_run: bool) -> None: ...
    @abstractmethod
    def manifests_rewritten(self, table: str, result: dict[str, Any], dry_run: bool) -> None: ...
    @abstractmethod
    def maintenance_preview(self, preview: Any) -> None: ...
    @abstractmethod
    def maintained(self, table: str, result: Any) -> None: ...

    # row-level changes
    @abstractmethod
    def changed(self, result: Any) -> None: ...

    # ELT
    @abstractmethod
    def run_plan(self, plan: Any) -> None: ...
    @abstractmethod
    def run_started(self, plan: Any) -> None:
        """A run is about to build `plan`: text output counts the models done against it."""

    @abstractmethod
    def model_done(self, model: Any) -> None: ...
    @abstractmethod
    def run_finished(self, result: Any) -> None: ...
    @abstractmethod
    def test_results(self, results: list[Any]) -> None: ...
    @abstractmethod
    def lineage(self, result: Any, fmt: str) -> None: ...
    @abstractmethod
    def provenance(self, node: dict[str, Any]) -> None: ...
    @abstractmethod
    def docs_written(self, result: Any) -> None: ...
    @abstractmethod
    def seed_plan(self, plan: Any) -> None: ...
    @abstractmethod
    def seeded(self, result: Any) -> None: ...

    # lake dev
    @abstractmethod
    def dev_up(self, result: dict[str, Any]) -> None: ...
    @abstractmethod
    def dev_down(self, result: dict[str, Any]) -> None: ...
    @abstractmethod
    def dev_status(self, result: dict[str, Any]) -> None: ...

    # lake init, lake info
    @abstractmethod
    def project_initialized(self, result: Any) -> None: ...
    @abstractmethod
    def project_info(self, info: Any) -> None: ...

    # lake alter
    @abstractmethod
    def altered(self, result: Any) -> None: ...

    # lake diff
    @abstractmethod
    def diffed(self, result: Any) -> None: ...

    # lake drift
    @abstractmethod
    def drifted(self, result: Any) -> None: ...

    # lake spark-conf
    @abstractmethod
    def spark_conf(self, shown: Any, fmt: str) -> None: ...


class Json(Output):
    """One JSON document on stdout per command: the library's result as a dict, nothing else."""

    show_progress = False

    def emit(self, data: Any) -> None:
        click.echo(to_json(data))

    def created(self, table: str, location: str, info: dict[str, Any]) -> None:
        self.emit(info)

    def table_names(self, names: list[str]) -> None:
        self.emit(names)

    def described(self, info: dict[str, Any]) -> None:
        self.emit(info)

    def files(self, rows: list[dict[str, Any]]) -> None:
        self.emit(rows)

    def dropped(self, table: str, result: dict[str, Any], purge: bool, dry_run: bool) -> None:
        self.emit(result)

    def ingested(self, table: str, result: Any) -> None:
        self.emit(result.to_dict())

    def query_result(self, result: QueryResult, fmt: str | None, output: str | None) -> None:
        from lakehouse.cli.results import write_json_document

        write_json_document(result.reader, {"snapshots": result.snapshots()})

    def snapshots(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.emit(rows)

    def tagged(self, table: str, name: str, row: dict[str, Any], delete: bool) -> None:
        self.emit(row)

    def tags(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.emit(rows)

    def rolled_back(self, table: str, plan: Any, result: dict[str, Any], dry_run: bool) -> None:
        self.emit(result)

    def pinned(self, path: str, pin_file: Any) -> None:
        self.emit({"path": path, **pin_file.to_dict()})

    def pins_verified(self, report: Any) -> None:
        self.emit(report.to_dict())

    def compacted(self, table: str, result: Any, dry_run: bool) -> None:
        self.emit(result.to_dict())

    def expired(self, result: Any, dry_run: bool) -> None:
        self.emit(result.to_dict())

    def erased(self, result: Any, dry_run: bool) -> None:
        self.emit(result.to_dict())

    def collected(self, table: str, data: dict[str, Any], dry_run: bool) -> None:
        self.emit(data)

    def manifests_rewritten(self, table: str, result: dict[str, Any], dry_run: bool) -> None:
        self.emit(result)

    def maintenance_preview(self, preview: Any) -> None:
        self.emit(preview.to_dict())

    def maintained(self, table: str, result: Any) -> None:
        self.emit(result.to_dict())

    def changed(self, result: Any) -> None:
        self.emit(result.to_dict())

    def run_plan(self, plan: Any) -> None:
        self.emit(plan.to_dict())

    def run_started(self, plan: Any) -> None:
        pass  # the run's document lists every model at the end

    def model_done(self, model: Any) -> None:
        pass  # the run's document lists every model at the end

    def run_finished(self, result: Any) -> None:
        self.emit(masked_errors(result.to_dict()))

    def test_results(self, results: list[Any]) -> None:
        self.emit(masked_errors([r.to_dict() for r in results]))

    def lineage(self, result: Any, fmt: str) -> None:
        self.emit(result.to_dict())

    def provenance(self, node: dict[str, Any]) -> None:
        self.emit(masked_errors(node))

    def docs_written(self, result: Any) -> None:
        self.emit(result.to_dict())

    def seed_plan(self, plan: Any) -> None:
        self.emit(plan.to_dict())

    def seeded(self, result: Any) -> None:
        self.emit(result.to_dict())

    def dev_up(self, result: dict[str, Any]) -> None:
        self.emit(result)

    def dev_down(self, result: dict[str, Any]) -> None:
        self.emit(result)

    def dev_status(self, result: dict[str, Any]) -> None:
        self.emit(result)

    def project_initialized(self, result: Any) -> None:
        self.emit(result.to_dict())

    def project_info(self, info: Any) -> None:
        self.emit(info.to_dict())

    def altered(self, result: Any) -> None:
        self.emit(result.to_dict())

    def diffed(self, result: Any) -> None:
        self.emit(result.to_dict())

    def drifted(self, result: Any) -> None:
        self.emit(result.to_dict())

    def spark_conf(self, shown: Any, fmt: str) -> None:
        self.emit(shown.to_dict())
