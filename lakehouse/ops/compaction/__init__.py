"""Compaction: rewrite small data files into files of a target size on disk, as one `replace` snapshot.

Three steps, each usable on its own (tests race an append between the second and the third):

1. `plan_compaction` (`.plan`) returns a frozen `CompactionPlan` from the current snapshot's manifests:
   per partition, the bin-packed groups of candidate files. `--dry-run` prints this plan.
2. `write_compaction` (`.write`) streams each group through DuckDB into that partition's directory.
3. `commit_compaction` (`.commit`) removes the inputs and adds the outputs in one `replace` snapshot,
   retried on top of concurrent appends; if an input file was deleted or replaced meanwhile it fails,
   saying so.

`compact` (`.apply`) runs steps 2 and 3 for a plan, exactly as planned.
"""

from lakehouse.ops.compaction.apply import CompactionResult, compact
from lakehouse.ops.compaction.commit import commit_compaction
from lakehouse.ops.compaction.plan import (
    DEFAULT_MIN_INPUT_FILES,
    CompactionOptions,
    CompactionPlan,
    FileGroup,
    PartitionPlan,
    plan_compaction,
    resolve_sizes,
)
from lakehouse.ops.compaction.write import CompactionWrite, write_compaction

__all__ = [
    "DEFAULT_MIN_INPUT_FILES",
    "CompactionOptions",
    "CompactionPlan",
    "CompactionResult",
    "CompactionWrite",
    "FileGroup",
    "PartitionPlan",
    "commit_compaction",
    "compact",
    "plan_compaction",
    "resolve_sizes",
    "write_compaction",
]
