"""Erasure that reaches history: remove rows matching a predicate from the table and from every
snapshot still reachable (tags, branches, the retention window), then delete the old files."""

from lakehouse.ops.erase.apply import EraseResult, apply_erase
from lakehouse.ops.erase.plan import ErasePlan, plan_erase

__all__ = ["EraseResult", "ErasePlan", "apply_erase", "plan_erase"]
