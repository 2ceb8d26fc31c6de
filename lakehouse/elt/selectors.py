"""dbt's node selection (`--select` / `--exclude`) over a project's models.

>>> # stg_orders                 a model by its bare name (unique), or every model of a namespace
>>> # staging.stg_orders  gold.*  a model by its full name; a glob
>>> # tag:nightly  path:sql/staging  file:orders.sql  config.materialized:incremental
>>> # source:bronze.events       the models that read the source (source:bronze: any of its tables)
>>> # state:modified             models whose SQL or config() differ from their table's last build, and new ones
>>> # +x  x+  2+x  x+1  @x        graph operators: ancestors, descendants (to a depth), x with its
>>> #                            descendants and their ancestors
>>> # "a b"  "a,b"               union (space), intersection (comma), as in dbt
>>> # --exclude ...              the same syntax, subtracted

An atom that matches nothing is an error naming what is known (a typo must not build something else);
`state:` is the exception, since "nothing changed" is a normal answer. A comma next to a space
(`"a, b"`) leaves an empty part, which is ignored: `a, b` is the union it reads as.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lakehouse.elt.models import Model, ModelError, sql_hash
from lakehouse.elt.state import Built, config_hash

if TYPE_CHECKING:
    from pyiceberg.table import Table

# model name -> what its table's current data was built from (None: no table, or not written by lake run)
LastBuild = Callable[[str], Built | None]
Selection = str | list[str] | tuple[str, ...] | None

METHODS = ("fqn", "tag", "path", "file", "source", "config", "state")
STATES = ("modified", "modified.body", "modified.configs", "new")
# dbt's spec: [@][n+][method:]value[+n]
_SPEC = re.compile(
    r"^(?P<at>@)?(?:(?P<up_depth>\d*)(?P<up>\+))?(?:(?P<method>[\w.]+):)?(?P<value>.*?)(?:(?P<down>\+)(?P<down_depth>\d*))?$"
)
_GLOB = "*?["


class Graph(Protocol):
    """What selection needs of a project (lakehouse.elt.project.Project)."""

    @property
    def root(self) -> Path: ...

    @property
    def models(self) -> Mapping[str, Model]: ...

    @property
    def sources(self) -> Mapping[str, Any]: ...

    def parents(self, name: str) -> list[str]: ...

    def children(self) -> dict[str, list[str]]: ...

    def order(self, names: set[str] | None = None) -> list[str]: ...


def select(
    graph: Graph, expr: Selection = None, exclude: Selection = None, *, last_build: LastBuild | None = None
) -> list[str]:
    """Model names in dependency order: those `expr` chooses (all when it is empty), minus those
    `exclude` chooses. `last_build` looks up a model's last build, for `state:` selectors."""
    chosen = _Selector(graph, "--select", last_build).union(expr)
    if chosen is None:
        chosen = set(graph.models)
    dropped = _Selector(graph, "--exclude", last_build).union(exclude)
    return graph.order(chosen - (dropped or set()))


def builds(load: Callable[[str], Table]) -> LastBuild:
    """A `last_build` from a table loader: None for a model with no table yet."""
    from lakehouse.elt.state import last_build
    from lakehouse.errors import NoSuchTableError

    def lookup(name: str) -> Built | None:
        try:
            table = load(name)
        except NoSuchTableError:
            return None
        return last_build(table, name)

    return lookup


def _terms(expr: Selection) -> list[str]:
    if expr is None:
        return []
    return [t for term in ([expr] if isinstance(expr, str) else expr) for t in term.split()]


class _Selector:
    def __init__(self, graph: Graph, option: str, last_build: LastBuild | None) -> None:
        self.graph, self.option, self.last_build = graph, option, last_build
        self._children: dict[str, list[str]] | None = None

    def union(self, expr: Selection) -> set[str] | None:
        """The union of the terms (None when there is none); a term is an intersection of atoms."""
        terms = _terms(expr)
        if not terms:
            return None
        chosen: set[str] = set()
        for term in terms:
            parts = [p for p in term.split(",") if p]
            if not parts:
                continue
            found = self.atom(parts[0])
            for part in parts[1:]:
                found &= self.atom(part)
            chosen |= found
        return chosen

    def fail(self, spec: str, what: str) -> ModelError:
        return ModelError(f"{self.option} {spec!r} {what}")

    # ---------------------------------------------------------------- one atom: [@][n+]method:value[+n]

    def atom(self, spec: str) -> set[str]:
        match = _SPEC.match(spec)
        if match is None or not match["value"]:
            raise self.fail(
                spec, "is not a selector; e.g. silver.events, tag:nightly, +gold.x, path:sql/gold"
            )
        if match["at"] and match["up"]:
            raise self.fail(spec, "combines @ and a leading +; use one")
        method = (match["method"] or "").lower()
        base = self.base(spec, method, match["value"])
        result = set(base)
        if match["at"]:
            below = self.walk(base, self.children_of, None)
            result |= below | self.walk(base | below, self.graph.parents, None)
            return result
        if match["up"]:
            result |= self.walk(base, self.graph.parents, _depth(match["up_depth"]))
        if match["down"]:
            result |= self.walk(base, self.children_of, _depth(match["down_depth"]))
        return result

    def base(self, spec: str, method: str, value: str) -> set[str]:
        if not method or method == "fqn":
            if not method and ("/" in value or os.sep in value):  # dbt: a path needs no `path:`
                return self.by_path(spec, value)
            if not method and value.endswith(".sql"):
                return self.base(spec, "file", value)
            return self.by_name(spec, value)
        if method == "tag":
            return self.by_tag(spec, value)
        if method == "path":
            return self.by_path(spec, value)
        if method == "file":
            return self.nonempty(
                spec, {n for n, m in self.graph.models.items() if value in (m.path.name, m.path.stem)},
                "matches no model file", [m.path.name for m in self.graph.models.values()], "files",
            )  # fmt: skip
        if method == "source":
            return self.by_source(spec, value)
        if method.startswith("config."):
            return self.by_config(spec, method.removeprefix("config."), value)
        if method == "state":
            return self.by_state(spec, value)
        raise self.fail(spec, f"has an unknown method {method!r}; use one of: {', '.join(METHODS)}")

    def nonempty(self, spec: str, found: set[str], what: str, known: Iterable[str], kind: str) -> set[str]:
        if not found:
            names = sorted(set(known))
            raise self.fail(spec, f"{what}; {kind}: {', '.join(names) if names else 'none'}")
        return found

    def by_name(self, spec: str, value: str) -> set[str]:
        pattern = value.lower()
        models = self.graph.models
        if any(ch in pattern for ch in _GLOB):
            found = {
                n for n in models if fnmatch.fnmatchcase(n, pattern) or fnmatch.fnmatchcase(_bare(n), pattern)
            }
        elif "." in pattern:
            found = {pattern} if pattern in models else set()
        else:
            named = sorted(n for n in models if _bare(n) == pattern)
            if len(named) > 1:
                raise self.fail(spec, f"is ambiguous: {', '.join(named)}; name one as namespace.model")
            found = {*named, *(n for n, m in models.items() if pattern in self.groups(n, m))}
        if not found:
            hint = ""
            if pattern in self.graph.sources:
                hint = f" (it is a source; select the models that read it with source:{pattern})"
            raise self.fail(spec, f"matches no model{hint}; models: {', '.join(sorted(models)) or 'none'}")
        return found

    def groups(self, name: str, model: Model) -> set[str]:
        """The namespace and the folders (under the project) a model sits in: dbt's fqn parts."""
        try:
            folders = model.path.resolve().relative_to(self.graph.root.resolve()).parts[:-1]
        except ValueError:
            folders = ()
        return {name.split(".", 1)[0], *(f.lower() for f in folders)}

    def by_tag(self, spec: str, value: str) -> set[str]:
        models = self.graph.models
        found = {n for n, m in models.items() if any(fnmatch.fnmatchcase(t, value) for t in m.config.tags)}
        tags = [t for m in models.values() for t in m.config.tags]
        return self.nonempty(spec, found, "matches no model", tags, "tags")

    def by_path(self, spec: str, value: str) -> set[str]:
        """A folder or file, relative to the current directory, the project folder or its parent."""
        given = Path(value)
        bases = [Path.cwd(), self.graph.root, self.graph.root.parent]
        places = [given] if given.is_absolute() else [base / given for base in bases]
        existing = [p.resolve() for p in places if p.exists()]
        if not existing:
            where = ", ".join(dict.fromkeys(str(b) for b in bases))
            raise self.fail(spec, f"names no file or folder (looked in {where})")
        found = set()
        for name, model in self.graph.models.items():
            path = model.path.resolve()
            if any(path == p or p in path.parents for p in existing):
                found.add(name)
        folders = [str(m.path.parent) for m in self.graph.models.values()]
        return self.nonempty(spec, found, "holds no model", folders, "model folders")

    def by_source(self, spec: str, value: str) -> set[str]:
        pattern = value.lower()
        sources = set(self.graph.sources)
        if "." in pattern or any(ch in pattern for ch in _GLOB):
            named = {s for s in sources if fnmatch.fnmatchcase(s, pattern)}
        else:  # a source's namespace: every table in it
            named = {s for s in sources if s.split(".", 1)[0] == pattern}
        if not named:
            raise self.fail(spec, f"is no declared source; sources: {', '.join(sorted(sources)) or 'none'}")
        found = {n for n, m in self.graph.models.items() if named & set(m.depends_on)}
        if not found:
            raise self.fail(spec, f"matches no model: none reads {', '.join(sorted(named))}")
        return found

    def by_config(self, spec: str, key: str, value: str) -> set[str]:
        models = self.graph.models
        configs = {n: vars(m.config) | {"strategy": m.config.strategy} for n, m in models.items()}
        known = sorted({k for c in configs.values() for k in c}) or ["materialized"]
        if key not in known:
            raise self.fail(spec, f"names no config key; known: {', '.join(known)}")
        found = {n for n, c in configs.items() if _config_matches(c[key], value)}
        seen = [str(x) for c in configs.values() for x in _values(c[key])]
        return self.nonempty(spec, found, "matches no model", seen, f"config.{key} values")

    def by_state(self, spec: str, value: str) -> set[str]:
        if value not in STATES:
            raise self.fail(spec, f"is no state; use one of: {', '.join('state:' + s for s in STATES)}")
        if self.last_build is None:
            raise self.fail(spec, "needs the tables' last builds: use it with lake run or lake test")
        found = set()
        for name, model in self.graph.models.items():
            if model.config.inline:  # a view or ephemeral has no table: its readers' SQL holds it
                continue
            built = self.last_build(name)
            if built is None:
                found.add(name)  # new (or last written by something else: its SQL is unknown)
            elif value != "new" and _modified(model, built, value):
                found.add(name)
        return found

    # ---------------------------------------------------------------- graph walks

    def children_of(self, name: str) -> list[str]:
        if self._children is None:
            self._children = self.graph.children()
        return self._children[name]

    @staticmethod
    def walk(start: set[str], step: Callable[[str], list[str]], depth: int | None) -> set[str]:
        """Every model reachable from `start` by `step`, up to `depth` steps (None: no limit)."""
        seen: set[str] = set()
        frontier, level = set(start), 0
        while frontier and (depth is None or level < depth):
            frontier = {n for name in frontier for n in step(name)} - seen
            seen |= frontier
            level += 1
        return seen


def _bare(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _depth(text: str | None) -> int | None:
    return int(text) if text else None


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _config_matches(actual: Any, wanted: str) -> bool:
    return any(str(v).lower() == wanted.lower() for v in _values(actual) if v is not None)


def _modified(model: Model, built: Built, what: str) -> bool:
    """dbt's state:modified against the table's last build: its SQL (full or incremental render)
    or its config() hash differ."""
    if what in ("modified", "modified.body"):
        sqls = {sql_hash(model.sql)}
        if model.config.materialized == "incremental":
            sqls.add(sql_hash(model.render(incremental=True)))
        if built.sql_hash not in sqls:
            return True
    return what in ("modified", "modified.configs") and built.config_hash != config_hash(model.config)
