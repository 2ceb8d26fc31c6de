"""Compaction's writes: stream each planned group through DuckDB into its partition's directory.

Each group is read with `read_parquet` of its files, every column, nested fields too, matched by
Iceberg field id or the name mapping (`lakehouse.io.fieldids`); a group with delete files is read
through `read_live`, so only its live rows are written. Memory is bounded by DuckDB's limit, not by
the group. Nothing is committed here; a failed write removes what it wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from lakehouse.core.hooks import checkpoint
from lakehouse.core.progress import counted
from lakehouse.core.schemas import quote_ident
from lakehouse.errors import LakehouseError
from lakehouse.io.cleanup import remove_write
from lakehouse.io.fieldids import read_by_field_id, read_live
from lakehouse.io.writer import WrittenFiles, copy_to_partition, new_write_id
from lakehouse.ops.compaction.plan import CompactionPlan, FileGroup

if TYPE_CHECKING:
    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine

ROTATION_MARGIN = 0.95  # DuckDB checks the size after each row group, so rotate a little early
DEFAULT_MEMORY_LIMIT = "512MB"


@dataclass
class CompactionWrite:
    """The files a compaction wrote, group by group, before any commit."""

    write_id: str
    outputs: list[WrittenFiles] = field(default_factory=list)

    @property
    def data_files(self) -> list[DataFile]:
        return [f for w in self.outputs for f in w.data_files]

    @property
    def bytes(self) -> int:
        return sum(w.bytes for w in self.outputs)

    @property
    def rows(self) -> int:
        return sum(w.rows for w in self.outputs)

    @property
    def paths(self) -> list[str]:
        return [f.file_path for f in self.data_files]


def group_select(table: Table, group: FileGroup, sort_by: tuple[str, ...]) -> str:
    """Read a group's live rows by Iceberg field id (renamed, added and nested columns are right)."""
    columns = ", ".join(quote_ident(f.name) for f in table.schema().fields)
    order = ""
    if sort_by:
        order = " ORDER BY " + ", ".join(
            f"{quote_ident(s.split(' ')[0])} {s.split(' ', 1)[1] if ' ' in s else ''}".strip()
            for s in sort_by
        )
    return f"SELECT {columns} FROM ({_relation(table, group)}) AS lake_group{order}"


def _relation(table: Table, group: FileGroup) -> str:
    return read_live(table, group.entries) if group.deletes else read_by_field_id(table, group.files)


def engine_settings(profile: Profile, sorted_output: bool) -> dict[str, str | bool]:
    """Bound DuckDB's memory by the group (spilling to the engine's own temp directory), and keep insertion
    order only when sorting. Applied for the compaction only; the engine's own settings come back after."""
    settings: dict[str, str | bool] = {"preserve_insertion_order": sorted_output}
    if profile.settings.duckdb_memory_limit is None:
        settings["memory_limit"] = DEFAULT_MEMORY_LIMIT
    return settings


def write_compaction(
    profile: Profile,
    engine: Engine,
    table: Table,
    plan: CompactionPlan,
    on_progress: Callable[[float], None] | None = None,
) -> CompactionWrite:
    """Write every group's output files; nothing is committed. Removes what it wrote if it fails."""
    write = CompactionWrite(new_write_id())
    threads = int(engine.setting("threads"))
    try:
        with engine.settings(**engine_settings(profile, bool(plan.sort_by)), threads=threads):
            _write_groups(engine, table, plan, write, threads, on_progress)
    except BaseException:
        remove_write(profile, table, write.write_id, write.paths)
        raise
    return write


def _write_groups(
    engine: Engine,
    table: Table,
    plan: CompactionPlan,
    write: CompactionWrite,
    threads: int,
    on_progress: Callable[[float], None] | None,
) -> None:
    total = max(1, plan.input_bytes)
    done = 0
    files_total = sum(len(g.files) for g in plan.groups)
    files_done = 0
    checkpoint("before-write")
    for index, group in enumerate(plan.groups):
        rotate = group.expected_outputs > 1
        # Parallel writers interleave rows across rotated files; one thread keeps each file sorted.
        engine.set(threads=1 if rotate and plan.sort_by else threads)

        def report(
            percent: float, base: int = done, size: int = group.input_bytes, finished: int = files_done,
            files: int = len(group.files),
        ) -> None:  # fmt: skip
            if on_progress is not None:
                overall = 100.0 * (base + size * percent / 100.0) / total
                finished += files if percent >= 100 else 0
                on_progress(counted(overall, finished, files_total, "files rewritten"))

        written = copy_to_partition(
            engine, table, group_select(table, group, plan.sort_by),
            directory=group.directory, partition=group.files[0].partition, spec_id=group.files[0].spec_id,
            file_name=f"{write.write_id}-{index:05d}",
            max_file_size=int(plan.target_size * ROTATION_MARGIN) if rotate else None,
            on_progress=report if on_progress else None,
        )  # fmt: skip
        write.outputs.append(written)
        checkpoint("after-write")  # after the first group: with several groups, mid-write
        expected = group.live_rows
        if expected is None:  # equality deletes: count the live rows apart (their keys only are read)
            expected = int(engine.value(f"SELECT count(*) FROM ({_relation(table, group)})"))
        if written.rows != expected:
            raise LakehouseError(
                f"compaction of {plan.table} wrote {written.rows} rows from a group of {expected} live rows; "
                "nothing was committed"
            )
        done += group.input_bytes
        files_done += len(group.files)
