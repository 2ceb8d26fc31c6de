"""`Text`: the output for people, one mixin per group of commands so each stays small."""

from __future__ import annotations

from lakehouse.cli.text.alter import AlterText
from lakehouse.cli.text.changes import ChangesText
from lakehouse.cli.text.dev import DevText
from lakehouse.cli.text.diff import DiffText
from lakehouse.cli.text.docs import DocsText
from lakehouse.cli.text.drift import DriftText
from lakehouse.cli.text.elt import EltText
from lakehouse.cli.text.erase import EraseText
from lakehouse.cli.text.history import HistoryText
from lakehouse.cli.text.maintenance import MaintenanceText
from lakehouse.cli.text.project import ProjectText
from lakehouse.cli.text.seed import SeedText
from lakehouse.cli.text.spark import SparkText
from lakehouse.cli.text.tables import TableText


class Text(
    TableText,
    HistoryText,
    MaintenanceText,
    ChangesText,
    EraseText,
    AlterText,
    EltText,
    DocsText,
    SeedText,
    DevText,
    ProjectText,
    DiffText,
    DriftText,
    SparkText,
):
    """Lines, rich tables and trees on stdout; notes and progress on stderr only at a terminal."""


__all__ = ["Text"]
