"""A project: its models and sources as a DAG, ordered, and selected with dbt's `--select` syntax.

The syntax is dbt's (lakehouse.elt.selectors): silver.events+, +gold.x, gold.*, tag:x, path:, @x, ...
"""

from __future__ import annotations

import difflib
import heapq
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from lakehouse.elt import selectors
from lakehouse.elt.models import Model, ModelError, Source
from lakehouse.elt.selectors import LastBuild, Selection


@dataclass
class Project:
    root: Path
    models: dict[str, Model]  # lower-case name -> model
    sources: dict[str, Source]
    ignored: list[tuple[Path, str]] = field(default_factory=list)  # files that are no model, and why
    dbt: bool = False  # a dbt project (dbt_project.yml): the run names where lake differs on purpose

    @classmethod
    def load(cls, root: str | os.PathLike[str], variables: Mapping[str, Any] | None = None) -> Project:
        """The project in folder `root` (lake's `sql/` or a dbt project); `variables` override its
        `vars:` (`lake run --vars`)."""
        from lakehouse.elt.loader import load_project

        loaded = load_project(root, variables)
        project = cls(Path(root), loaded.models, loaded.sources, loaded.ignored, loaded.dbt)
        project.validate()
        return project

    # ---------------------------------------------------------------- graph

    def validate(self) -> None:
        for model in self.models.values():
            for dep in model.needs:
                if dep in self.models or dep in self.sources:
                    continue
                close = difflib.get_close_matches(dep, [*self.models, *self.sources], n=3, cutoff=0.6)
                hint = f"; did you mean {' or '.join(close)}?" if close else ""
                who = model.name if dep in model.depends_on else f"a check of {model.name}"
                raise ModelError(
                    f"{who} reads {dep}, which is neither a model in {self.root} nor a source "
                    f"declared in {self.root / 'sources.yml'}{hint}"
                )
            if model.name.lower() in self.sources:
                raise ModelError(f"{model.name} is both a model and a declared source; remove one")
        self.order()  # raises on a cycle

    def parents(self, name: str) -> list[str]:
        """The models built before `name`: those it reads and those its checks read."""
        model = self.models[name]
        checked = {d for d in self.check_parents(name) if d in self.models}
        return sorted({d for d in model.depends_on if d in self.models} | checked)

    def check_parents(self, name: str) -> list[str]:
        """The tables `name`'s checks read that are built (or pinned) first, so the checks read this
        run's snapshot.
        A model built *from* `name` (dbt's orders -> customers, with a relationships test from orders to
        customers) cannot be: its check reads the snapshot the run pinned at the start."""
        model = self.models[name]
        return [r for r in model.check_reads if r not in self.models or name not in self._reads_upstream(r)]

    def _reads_upstream(self, name: str) -> set[str]:
        """Every model `name`'s SQL reads, directly or not (no check edges)."""
        seen: set[str] = set()
        stack = [name]
        while stack:
            for dep in self.models[stack.pop()].depends_on:
                if dep in self.models and dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return seen

    def children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n: [] for n in self.models}
        for name in self.models:
            for dep in self.parents(name):
                out[dep].append(name)
        return out

    def order(self, names: set[str] | None = None) -> list[str]:
        """Models in dependency order (ties by name: the smallest ready model first); `names` restricts
        the result."""
        sorter = TopologicalSorter({n: self.parents(n) for n in self.models})
        try:
            sorter.prepare()
        except CycleError:
            raise ModelError(
                f"models depend on each other in a cycle: {', '.join(self._unorderable())}"
            ) from None
        ready = sorted(sorter.get_ready())
        ordered: list[str] = []
        while ready:
            name = heapq.heappop(ready)
            ordered.append(name)
            sorter.done(name)
            for child in sorter.get_ready():
                heapq.heappush(ready, child)
        return [n for n in ordered if names is None or n in names]

    def _unorderable(self) -> list[str]:
        """Every model in a cycle or downstream of one, sorted: what no order can place."""
        stuck: set[str] = set()
        while True:
            left = {n: [p for p in self.parents(n) if p not in stuck] for n in self.models if n not in stuck}
            try:
                TopologicalSorter(left).prepare()
            except CycleError as exc:
                for name in exc.args[1]:
                    stuck |= {name, *self.downstream(name)}
            else:
                return sorted(stuck)

    def upstream(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = [name]
        while stack:
            for parent in self.parents(stack.pop()):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    def downstream(self, name: str) -> set[str]:
        children = self.children()
        seen: set[str] = set()
        stack = [name]
        while stack:
            for child in children[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def inputs(self, names: list[str]) -> list[str]:
        """Tables the given models (or their checks) read that they do not build (sources, other models)."""
        chosen = set(names)
        needed: set[str] = set()
        stack = [dep for n in names for dep in self.models[n].needs]
        while stack:
            dep = stack.pop()
            model = self.models.get(dep)
            if model is not None and model.config.inline:  # a view has no table: pin what it reads
                stack.extend(model.needs)
            else:
                needed.add(dep)
        return sorted(needed - chosen)

    # ---------------------------------------------------------------- --select

    def select(
        self, expr: Selection = None, exclude: Selection = None, *, last_build: LastBuild | None = None
    ) -> list[str]:
        """Model names (dependency order) chosen by dbt's selectors (lakehouse.elt.selectors); None or
        empty selects all; `last_build` serves `state:modified`."""
        return selectors.select(self, expr, exclude, last_build=last_build)
