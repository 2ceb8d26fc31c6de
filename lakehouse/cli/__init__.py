"""The `lake` CLI. Each sibling module registers its commands on the group in `base`."""

from __future__ import annotations

import importlib
import pkgutil

from lakehouse.cli.base import cli

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "output", "__main__"):
        importlib.import_module(f"{__name__}.{_module.name}")


def main() -> None:
    cli(prog_name="lake")


__all__ = ["cli", "main"]
