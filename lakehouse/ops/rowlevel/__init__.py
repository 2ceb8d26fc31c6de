"""Row-level changes: `lake delete` and `lake update` (plan, write, commit as one snapshot)."""

from lakehouse.ops.rowlevel.apply import ChangeResult, apply_change
from lakehouse.ops.rowlevel.plan import COPY_ON_WRITE, MERGE_ON_READ, AffectedFile, ChangePlan, plan_change

__all__ = [
    "COPY_ON_WRITE",
    "MERGE_ON_READ",
    "AffectedFile",
    "ChangePlan",
    "ChangeResult",
    "apply_change",
    "plan_change",
]
