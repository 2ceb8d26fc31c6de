"""Load a project: its files (`lakehouse.elt.discovery`), their settings, and every model rendered.

Two passes, as dbt parses: the first renders each model only to learn its table's name (`schema` /
`alias` in config(), YAML or dbt_project.yml, else the first folder under the model path, else
`main`), so that the second can resolve bare `ref('name')` to tables. Settings merge as in dbt, the
nearer winning: dbt_project.yml's folder blocks, then the model's YAML, then its own `config()`.

A `view` or `ephemeral` model is not built: the models that ref it read its SQL as a CTE, at the same
pinned snapshots as everything else in the run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lakehouse.elt.dbtproject import DbtProject, load_dbt_project
from lakehouse.elt.discovery import ModelFile, ProjectFiles, find_files
from lakehouse.elt.models import INLINE, Model, ModelConfig, Source, parse_config
from lakehouse.elt.render import ModelError, RenderContext, render, resolve_ref, with_inlines
from lakehouse.elt.seedconfig import discover_seeds
from lakehouse.elt.yamlspec import ModelSpec, YamlSpecs, read_docs, read_yaml
from lakehouse.errors import LakehouseError

DEFAULT_NAMESPACE = "main"  # dbt-duckdb's default schema
_REF = re.compile(r"""^\s*(ref|source)\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?\)\s*$""")
_DOC = re.compile(r"""{{\s*doc\(\s*['"]([^'"]+)['"]\s*\)\s*}}""")


class Loaded:
    """Everything `Project.load` needs."""

    def __init__(
        self, models: dict[str, Model], sources: dict[str, Source], ignored: list[tuple[Path, str]], dbt: bool
    ):
        self.models, self.sources, self.ignored, self.dbt = models, sources, ignored, dbt


def load_project(root: str | os.PathLike[str], variables: Mapping[str, Any] | None = None) -> Loaded:
    base = Path(root)
    if not base.is_dir():
        raise ModelError(
            f"project folder {base} does not exist; pass --project DIR (a folder of sql/<layer>/*.sql)"
        )
    dbt = load_dbt_project(base)
    files = find_files(base, dbt)
    specs = YamlSpecs()
    for path in files.yaml:
        read_yaml(path, specs)
    read_docs(files.docs, specs)
    raw = {f.path: _settings(f, dbt, specs) for f in files.models}
    ignored = list(files.ignored)
    names: dict[Path, str] = {}
    inline: dict[Path, bool] = {}  # a view or ephemeral model, by its settings and config()
    base_context = _context(files, dbt, specs, variables)
    probe = replace(base_context, probe=True)  # any ref renders: only config() matters at first
    for file in files.models:
        settings = raw[file.path]
        if settings.get("enabled") is False:
            ignored.append((file.path, "disabled (enabled: false)"))
            continue
        names[file.path], materialized = _table_name(file, settings, probe)
        inline[file.path] = materialized in INLINE
    by_name: dict[str, list[str]] = {}
    for path, table in sorted(names.items()):
        by_name.setdefault(path.stem.lower(), []).append(table)
    seeds = [seed.table for seed in discover_seeds(base)] if dbt else []  # `lake seed` loads them
    for table in seeds:
        by_name.setdefault(table.rsplit(".", 1)[1].lower(), []).append(table)
    context = replace(
        base_context,
        tables={t.lower(): t for t in [*names.values(), *seeds]},
        names={k: tuple(v) for k, v in by_name.items()},
        ephemeral={t.lower(): "lake_inline_" + t.replace(".", "__") for p, t in names.items() if inline[p]},
    )
    loader = _Renderer(context, {p: f for f in files.models if (p := f.path) in names}, raw, names, specs)
    models: dict[str, Model] = {}
    for path in names:
        model = loader.model(path)
        key = model.name.lower()
        if key in models:
            raise ModelError(f"two model files for {model.name}: {models[key].path} and {path}")
        models[key] = model
    sources = {
        ident: Source(
            ident,
            _docs(s.description, specs),
            list(s.checks),
            {c: _docs(d, specs) for c, d in s.column_docs.items()},
        )
        for ident, s in specs.sources.items()
    }
    for table in seeds:  # a seed is an input of the run, as a source is
        sources.setdefault(table.lower(), Source(table.lower(), "", [], {}))
    return Loaded(models, sources, ignored, dbt is not None)


def _settings(file: ModelFile, dbt: DbtProject | None, specs: YamlSpecs) -> dict[str, Any]:
    """dbt_project.yml's folder settings under the model's YAML config (config() comes on top later)."""
    stem = file.path.stem
    out = dbt.folder_config(file.folders, stem) if dbt else {}
    spec = specs.models.get(stem.lower())
    if spec is not None:
        tags = [*_list(out.get("tags")), *_list(spec.config.get("tags"))]
        out |= spec.config
        if tags:
            out["tags"] = tags
    return out


def _list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


def _table_name(file: ModelFile, settings: Mapping[str, Any], probe: RenderContext) -> tuple[str, Any]:
    """The model's table, and its materialization."""
    guess = f"{file.folders[0] if file.folders else DEFAULT_NAMESPACE}.{file.path.stem}"  # for errors
    _, config = render(file.template, guess, context=probe)
    merged = {**settings, **config}
    namespace = merged.get("schema") or (file.folders[0] if file.folders else DEFAULT_NAMESPACE)
    return f"{namespace}.{merged.get('alias') or file.path.stem}", merged.get("materialized")


def _context(
    files: ProjectFiles, dbt: DbtProject | None, specs: YamlSpecs, variables: Mapping[str, Any] | None
) -> RenderContext:
    return RenderContext(
        package=dbt.name if dbt else "",
        vars={**(dbt.vars if dbt else {}), **(variables or {})},
        macros="\n".join(text for _, text in files.macros),
        sources=dict(specs.source_tables),
    )


class _Renderer:
    """Renders models on demand, so that a view or ephemeral model is rendered before what inlines it."""

    def __init__(
        self,
        context: RenderContext,
        files: dict[Path, ModelFile],
        settings: dict[Path, dict[str, Any]],
        names: dict[Path, str],
        specs: YamlSpecs,
    ):
        self.files, self.settings, self.names, self.specs = files, settings, names, specs
        self.by_table = {t.lower(): p for p, t in names.items()}
        self.done: dict[Path, Model] = {}
        self.busy: set[Path] = set()
        self.context = context

    def model(self, path: Path) -> Model:
        if path in self.done:
            return self.done[path]
        if path in self.busy:
            raise ModelError(
                f"models inline each other in a cycle: {', '.join(self.names[p] for p in self.busy)}"
            )
        self.busy.add(path)
        try:
            self.done[path] = self._load(path)
        finally:
            self.busy.discard(path)
        return self.done[path]

    def _load(self, path: Path) -> Model:
        from lakehouse.elt.checks import parse_checks
        from lakehouse.read.query import changes_calls, lake_tables, parse_single

        file, name = self.files[path], self.names[path]
        context = self.context
        sql, config = render(file.template, name, context=context)
        cfg = _merged_config(
            name, {**self.settings[path], **config}, self.specs.models.get(path.stem.lower())
        )
        cfg = _resolve_check_refs(name, cfg, replace(context, ephemeral={}))  # a view is checked by name
        cfg.description = _docs(cfg.description, self.specs)
        cfg.column_docs = {c: _docs(d, self.specs) for c, d in cfg.column_docs.items()}
        if cfg.columns:
            from lakehouse.core.schemas import parse_schema

            try:
                parse_schema(cfg.contract_schema_text() or "")
            except LakehouseError as exc:
                raise ModelError(f"{name}: invalid columns contract: {exc}") from None
        if not sql:
            raise ModelError(f"model {name} ({path}) has no SELECT")
        try:
            tree = parse_single(sql)
        except LakehouseError as exc:
            raise ModelError(f"model {name} ({path}): {exc}") from None
        from sqlglot import exp

        if not isinstance(tree, exp.Query):
            raise ModelError(f"model {name} ({path}) must be one SELECT (or WITH ... SELECT)")
        inlines = {}
        deps_inline: set[str] = set()
        for table, cte in context.ephemeral.items():  # read a view's or ephemeral's SQL as a CTE
            if cte in sql:
                inner = self.model(self.by_table[table])
                inlines[cte] = inner.sql
                deps_inline |= set(inner.depends_on)
        sql = with_inlines(sql, inlines)
        tree = parse_single(sql)
        try:
            called = {identifier.lower() for _, identifier, _, _ in changes_calls(tree)}
        except LakehouseError as exc:
            raise ModelError(f"model {name} ({path}): {exc}") from None
        deps = {f"{t.db}.{t.name}".lower() for t in lake_tables(tree)} | called | deps_inline
        deps -= {name.lower()}
        checked = {t for check in parse_checks(name, cfg.checks) for t in check.tables(name)}
        return Model(
            name=name, path=path, template=file.template, config=cfg, sql=sql, depends_on=sorted(deps),
            check_reads=sorted(checked - {name.lower()}), context=context, inlines=inlines,
        )  # fmt: skip


def _merged_config(name: str, raw: dict[str, Any], spec: ModelSpec | None) -> ModelConfig:
    if spec is not None:
        raw["checks"] = [*spec.checks, *(raw.get("checks") or [])]
        raw["column_docs"] = {**spec.column_docs, **(raw.get("column_docs") or {})}
        contract = raw.get("contract") or {}
        if (
            isinstance(contract, dict)
            and contract.get("enforced")
            and spec.column_types
            and "columns" not in raw
        ):
            raw["columns"] = {
                c: f"{t}{' not null' if c in spec.not_null else ''}" for c, t in spec.column_types.items()
            }
    return parse_config(name, raw)


def _resolve_check_refs(name: str, cfg: ModelConfig, context: RenderContext) -> ModelConfig:
    """`relationships: {to: ref('customers')}` from YAML names a table once the project's are known."""
    checks = []
    for check in cfg.checks:
        target = check.get("relationships", {}).get("to") if isinstance(check, dict) else None
        found = _REF.match(str(target)) if target else None
        if found:
            kind, first, second = found.groups()
            parts = (first, second) if second else (first,)
            if kind == "ref":
                table = resolve_ref(name, parts, context)
            else:
                table = context.sources.get((first.lower(), (second or "").lower()), f"{first}.{second}")
            check = {**check, "relationships": {**check["relationships"], "to": table}}
        checks.append(check)
    return replace(cfg, checks=checks)


def _docs(text: str, specs: YamlSpecs) -> str:
    """A description with `{{ doc('name') }}` replaced by the docs block's text."""
    return _DOC.sub(lambda m: specs.docs.get(m.group(1), m.group(0)), text or "")
