"""`lake maintain`: compact, rewrite manifests, expire and gc with the defaults, planned together
(what `--dry-run` and the confirmation show) and applied in that order, each step exactly as planned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyiceberg.table import Table

from lakehouse.ops.compaction import compact, plan_compaction
from lakehouse.ops.expire import ExpirePlan, ExpireResult, apply_expire, plan_expire
from lakehouse.ops.gc import GcPlan, GcResult, apply_gc, plan_gc
from lakehouse.ops.manifests import ManifestsPlan, ManifestsResult, apply_manifests, plan_manifests

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lakehouse.core.config import Profile
    from lakehouse.io.engine import Engine
    from lakehouse.ops.compaction import CompactionPlan, CompactionResult
    from lakehouse.table.claims import Claim


@dataclass(frozen=True)
class MaintenancePlan:
    """The four steps of `lake maintain`, previewed together and executed in order."""

    table: str
    compaction: CompactionPlan
    manifests: ManifestsPlan
    expire: ExpirePlan
    gc: GcPlan

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "compact": self.compaction.to_dict(),
            "rewrite_manifests": self.manifests.to_dict(),
            "expire": self.expire.to_dict(),
            "gc": self.gc.to_dict(),
        }


@dataclass(frozen=True)
class MaintenanceResult:
    plan: MaintenancePlan
    dry_run: bool
    compact: CompactionResult | None = None
    manifests: ManifestsResult | None = None
    expire: ExpireResult | None = None
    gc: GcResult | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.dry_run:
            return {"dry_run": True, **self.plan.to_dict()}
        return {
            "table": self.plan.table,
            "dry_run": False,
            "compact": self.compact.to_dict() if self.compact else None,
            "rewrite_manifests": self.manifests.to_dict() if self.manifests else None,
            "expire": self.expire.to_dict() if self.expire else None,
            "gc": self.gc.to_dict() if self.gc else None,
        }


def plan_maintenance(
    profile: Profile, table: Table, identifier: str, claims: Sequence[Claim] = ()
) -> MaintenancePlan:
    return MaintenancePlan(
        identifier,
        plan_compaction(table, identifier),
        plan_manifests(table, identifier),
        plan_expire(profile, table, identifier, claims=claims),
        plan_gc(profile, table, identifier, claims=claims),
    )


def apply_maintenance(
    profile: Profile,
    engine: Engine,
    load: Callable[[], Table],
    plan: MaintenancePlan,
    *,
    on_progress: Callable[[float], None] | None = None,
    claims: Callable[[], Sequence[Claim]] = tuple,
) -> MaintenanceResult:
    """Compact, rewrite manifests, expire, gc: in that order, each step as the plan says (the manifest
    merge runs only when the plan found one). `claims` is re-read right before gc deletes."""
    return MaintenanceResult(
        plan,
        dry_run=False,
        compact=compact(profile, engine, load, plan.compaction, on_progress=on_progress),
        manifests=apply_manifests(profile, load, plan.manifests),
        expire=apply_expire(profile, load, plan.expire),
        gc=apply_gc(profile, load, plan.gc, claims=claims),
    )
