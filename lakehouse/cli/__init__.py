"""The `lake` CLI. Each command module registers its commands on the group in `base`; commands hand
what the library returns to the one output layer (`output`, `text/`), and `base` prints every error."""

from __future__ import annotations

import importlib

from lakehouse.cli.base import cli

COMMAND_MODULES = (
    "tables",
    "data",
    "history",
    "maintenance",
    "changes",
    "diff",
    "drift",
    "erase",
    "alter",
    "models",
    "docs",
    "seed",
    "dev",
    "project",
    "completion",
    "spark",
)

for _module in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_module}")


def main() -> None:
    cli(prog_name="lake")


__all__ = ["cli", "main"]
