"""Why a compaction plan leaves partitions alone, counted per reason for `--dry-run`:
"1,012 partitions hold a single small file: below --min-input-files 5".

Each partition the planner made no group for gets one code from its plan (`reason`); `left_alone`
counts them (and the partitions `--where` left out) into one line each, largest count first.
"""

from __future__ import annotations

from typing import Any

from lakehouse.core.sizes import format_size

# The plan's types (ops.compaction.plan) import this module, so they are `Any` here.
CompactionPlan = Any
PartitionPlan = Any

AT_TARGET = "at-target"  # no file below --min-size or above --max-size, none with deletes
SINGLE_SMALL_FILE = "single-small-file"  # one small file: below --min-input-files
FEW_SMALL_FILES = "few-small-files"  # small files, fewer than --min-input-files and under one target
ONE_FILE_NO_GAIN = "one-file-no-gain"  # its packing left single in-range files: rewriting one gains nothing
OLDER_SPEC = "older-spec"  # written with an older partition spec: its folder cannot be rewritten
OUTSIDE_WHERE = "outside-where"  # no row in it can match --where


def reason(p: PartitionPlan, min_input_files: int) -> str | None:
    """Why the planner made no group of partition `p` (None: it has groups). It rewrites a partition
    with at least `min_input_files` candidates (small, oversized or with deletes) or more than one
    target's worth, and drops a group that would rewrite one in-range file into itself."""
    if p.skipped:
        return OLDER_SPEC
    if p.groups:
        return None
    if p.candidates == 0:
        return AT_TARGET
    if p.candidates >= min_input_files:
        return ONE_FILE_NO_GAIN
    return SINGLE_SMALL_FILE if p.candidates == 1 else FEW_SMALL_FILES


def _message(code: str, n: int, plan: CompactionPlan) -> str:
    parts = f"{n:,} partition{'s' if n != 1 else ''}"
    holds = "hold" if n != 1 else "holds"
    low, high = format_size(plan.min_size), format_size(plan.max_size)
    below = f"below --min-input-files {plan.min_input_files}"
    return {
        AT_TARGET: f"{parts} {'are' if n != 1 else 'is'} already at target size: every file between "
        f"--min-size {low} and --max-size {high}",
        SINGLE_SMALL_FILE: f"{parts} {holds} a single small file: {below}",
        FEW_SMALL_FILES: f"{parts} {holds} 2 to {plan.min_input_files - 1} small files, together under "
        f"--target-size {format_size(plan.target_size)}: {below}",
        ONE_FILE_NO_GAIN: f"{parts} would rewrite a single file into itself: nothing to gain",
        OLDER_SPEC: f"{parts} {'were' if n != 1 else 'was'} written with an older partition spec: "
        "compaction rewrites only the current spec's partitions",
        OUTSIDE_WHERE: f"{parts} {holds} no row matching --where {plan.where}",
    }[code]


def left_alone(plan: CompactionPlan) -> list[dict[str, Any]]:
    """Per reason: its code, how many partitions and files it leaves alone, and the sentence."""
    counts: dict[str, list[int]] = {}
    for p in plan.partitions:
        code = reason(p, plan.min_input_files)
        if code is None:
            continue
        tally = counts.setdefault(code, [0, 0])
        tally[0] += 1
        tally[1] += p.files
    if plan.outside_where:
        counts[OUTSIDE_WHERE] = [plan.outside_where, 0]
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return [
        {"reason": code, "partitions": n, "files": files, "message": _message(code, n, plan)}
        for code, (n, files) in ordered
    ]
