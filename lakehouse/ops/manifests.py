"""Rewrite manifests: merge a table's small data manifests (of one partition spec) into few of about
`commit.manifest.target-size-bytes`, as one `replace` snapshot, so planning a query stays fast."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyiceberg.manifest import ManifestContent, ManifestFile
from pyiceberg.table import Table, Transaction

from lakehouse.core.properties import DEFAULT_MANIFEST_TARGET, MANIFEST_TARGET_PROPERTY
from lakehouse.table.commits import RetryPolicy, commit_with_retry
from lakehouse.table.producers import RewriteManifests

if TYPE_CHECKING:
    from lakehouse.core.config import Profile


@dataclass(frozen=True)
class ManifestsPlan:
    table: str
    manifests_before: int
    manifests_after: int
    target_bytes: int

    @property
    def needed(self) -> bool:
        return self.manifests_after < self.manifests_before

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "manifests_before": self.manifests_before,
            "manifests_after": self.manifests_after,
            "target_bytes": self.target_bytes,
        }


@dataclass(frozen=True)
class ManifestsResult:
    plan: ManifestsPlan
    dry_run: bool
    snapshot_id: int | None = None
    manifests_after: int | None = None  # counted in the committed snapshot

    def to_dict(self) -> dict[str, Any]:
        out = {**self.plan.to_dict(), "dry_run": self.dry_run, "snapshot_id": self.snapshot_id}
        return out if self.manifests_after is None else {**out, "manifests_after": self.manifests_after}


def _bins(manifests: list[ManifestFile], target: int) -> list[list[ManifestFile]]:
    """Data manifests of one spec packed in order into bins of about `target` bytes."""
    bins: list[list[ManifestFile]] = [[]]
    size = 0
    for manifest in manifests:
        if bins[-1] and size + manifest.manifest_length > target:
            bins.append([])
            size = 0
        bins[-1].append(manifest)
        size += manifest.manifest_length
    return [b for b in bins if b]


def packing(
    manifests: list[ManifestFile], target: int
) -> tuple[list[ManifestFile], list[list[ManifestFile]]]:
    """(kept as they are, bins to merge): delete manifests and lone manifests are kept."""
    keep: list[ManifestFile] = []
    by_spec: dict[int, list[ManifestFile]] = defaultdict(list)
    for manifest in manifests:
        if manifest.content != ManifestContent.DATA:
            keep.append(manifest)
        else:
            by_spec[manifest.partition_spec_id].append(manifest)
    merge = []
    for spec_manifests in by_spec.values():
        for group in _bins(spec_manifests, target):
            if len(group) == 1:
                keep.append(group[0])
            else:
                merge.append(group)
    return keep, merge


def plan_manifests(table: Table, identifier: str) -> ManifestsPlan:
    from lakehouse.core.settings import whole_number

    where = f"table property of {identifier}"
    target = whole_number(
        table.properties, MANIFEST_TARGET_PROPERTY, DEFAULT_MANIFEST_TARGET, where, unit=" of bytes"
    )
    snapshot = table.current_snapshot()
    manifests = snapshot.manifests(table.io) if snapshot else []
    keep, merge = packing(manifests, target)
    return ManifestsPlan(identifier, len(manifests), len(keep) + len(merge), target)


def apply_manifests(profile: Profile, load: Callable[[], Table], plan: ManifestsPlan) -> ManifestsResult:
    """Commit the merge when the plan found one; each commit attempt packs the head it builds on with
    the plan's target, so an append landing meanwhile stays."""
    if not plan.needed:
        return ManifestsResult(plan, dry_run=False)
    summary = {"lake.operation": "rewrite-manifests", "lake.manifests-before": str(plan.manifests_before)}

    def stage(tx: Transaction) -> None:
        with RewriteManifests(tx, summary, plan.target_bytes, packing):
            pass

    committed = commit_with_retry(
        load, stage, RetryPolicy.of(profile), f"rewriting manifests of {plan.table}"
    )
    snapshot = committed.current_snapshot()
    after = len(snapshot.manifests(committed.io)) if snapshot else 0
    return ManifestsResult(plan, False, snapshot.snapshot_id if snapshot else None, after)
