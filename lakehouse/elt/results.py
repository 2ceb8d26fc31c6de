"""What `lake run` reports: one `ModelResult` per model, gathered in a `RunResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lakehouse.elt.checks import CheckResult
from lakehouse.elt.increments import Increment


@dataclass
class ModelResult:
    model: str
    status: str  # ok | up_to_date (data-aware: not rebuilt) | failed (a check) | error | skipped (upstream)
    strategy: str = ""
    rows: int = 0
    seconds: float = 0.0
    snapshot_id: int | None = None  # published (ok), or audited and discarded (failed)
    previous_snapshot_id: int | None = None
    inputs: dict[str, int | None] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None
    schema_id: int | None = None  # of the table as published (what downstream models read)
    increment: Increment | None = None  # snapshot strategy: what it read upstream, or why it rebuilt
    engine: str = ""  # what built it (a Spark run builds some models on DuckDB)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "status": self.status,
            "strategy": self.strategy,
            "rows": self.rows,
            "seconds": self.seconds,
            "snapshot_id": self.snapshot_id,
            "previous_snapshot_id": self.previous_snapshot_id,
            "inputs": self.inputs,
            "checks": [c.to_dict() for c in self.checks],
            "error": self.error,
            "increment": self.increment.to_dict() if self.increment is not None else None,
        }


@dataclass
class RunResult:
    run_id: str
    models: list[ModelResult]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(m.status in ("ok", "up_to_date") for m in self.models)

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.models)

    def failures(self) -> list[ModelResult]:
        return [m for m in self.models if m.status in ("failed", "error")]

    def failure_message(self) -> str:
        parts = []
        for m in self.failures():
            failing = [c for c in m.checks if c.blocking]
            if failing:
                parts += [c.message() for c in failing]
            else:
                parts.append(f"{m.model}: {m.error}")
        skipped = [m for m in self.models if m.status == "skipped"]
        stopped = [m.model for m in skipped if (m.error or "").startswith("--fail-fast")]
        downstream = [m.model for m in skipped if m.model not in stopped]
        text = "; ".join(parts)
        if downstream:
            text += f"; skipped downstream: {', '.join(downstream)}"
        if stopped:
            text += f"; skipped (--fail-fast): {', '.join(stopped)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "seconds": self.seconds,
            "models": [m.to_dict() for m in self.models],
        }
