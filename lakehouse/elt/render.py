"""Rendering a model's jinja as dbt does: `config()`, `ref()`, `source()`, `this`, `is_incremental()`,
`var()`, `env_var()`, `target`, `run_started_at`, `adapter.quote()` and the project's macros.

Templates render in jinja2's immutable sandbox with no globals but these, so a model can neither run
code nor read the process's secrets (`env_var` reads only variables meant for models).

`ref()` resolves as dbt's does: `ref('stg_orders')` by model name when one model has it (an ambiguous
name lists the candidates), `ref('package', 'stg_orders')` the same within a package, and lake's
`ref('silver.events')` / `ref('silver', 'events')` by table name.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lakehouse.errors import LakehouseError

# `env_var()` reads only variables meant for models, never credentials such as AWS_SECRET_ACCESS_KEY.
ENV_VAR_PREFIXES = ("LAKE_VAR_", "DBT_ENV_")


class ModelError(LakehouseError):
    """A model file cannot be read, rendered or parsed, or the project's graph is invalid."""


@dataclass(frozen=True)
class RenderContext:
    """What a project gives every template: its models' names, vars, target and macros."""

    tables: Mapping[str, str] = field(default_factory=dict)  # "ns.name" (lower) -> as spelled
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # model name -> its tables
    package: str = ""  # dbt_project.yml `name`
    vars: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, str] = field(
        default_factory=lambda: {"name": "dev", "schema": "main", "type": "duckdb"}
    )
    macros: str = ""  # the text of every macro file, `{% macro %}` blocks
    run_started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ephemeral: Mapping[str, str] = field(default_factory=dict)  # "ns.name" -> the CTE that inlines it
    sources: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (source, table) -> "ns.t"
    probe: bool = False  # rendering only to read config(): every ref() renders a placeholder


class _Adapter:
    """The part of dbt's `adapter` that models use for SQL text."""

    @staticmethod
    def quote(identifier: str) -> str:
        return '"' + str(identifier).replace('"', '""') + '"'


class _DbtUtils:
    """The dbt_utils macros lake provides (the SQL dbt-duckdb compiles them to); any other fails
    naming itself, not as an undefined name."""

    @staticmethod
    def generate_surrogate_key(fields: list[str]) -> str:
        null = "'_dbt_utils_surrogate_key_null_'"
        parts = [f"coalesce(cast({f} as VARCHAR), {null})" for f in fields]
        joined = " || '-' || ".join(parts)
        return f"md5(cast({joined} as VARCHAR))"

    def __getattr__(self, name: str) -> Any:
        raise ModelError(
            f"macro dbt_utils.{name} is not available in lake (it provides dbt_utils.generate_surrogate_key); "
            "copy the macro into the project's macros/"
        )


_ENV: Any = None


def _environment() -> Any:
    global _ENV
    if _ENV is None:
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        _ENV = ImmutableSandboxedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        _ENV.globals.clear()  # range, dict, cycler, joiner, namespace, lipsum
    return _ENV


def _env_var(name: str, default: str | None = None) -> str:
    from jinja2.exceptions import SecurityError, TemplateRuntimeError

    if not str(name).startswith(ENV_VAR_PREFIXES):
        raise SecurityError(
            f"env_var({name!r}) is not allowed: models read only variables named {' or '.join(p + '*' for p in ENV_VAR_PREFIXES)}"
        )
    value = os.environ.get(str(name), default)
    if value is None:
        raise TemplateRuntimeError(f"env_var({name!r}): the variable is not set and has no default")
    return value


def resolve_ref(name: str, parts: tuple[str, ...], context: RenderContext | None) -> str:
    """The table `ref(*parts)` names, for model `name`."""
    shown = ", ".join(map(repr, parts))
    if not parts or len(parts) > 2 or not all(isinstance(p, str) and p for p in parts):
        raise ModelError(f"{name}: ref({shown}) takes a model name, or a package and a model name")
    joined = ".".join(parts).lower()
    if context is not None and context.probe:
        return "lake_probe." + parts[-1]
    if context is None or not context.names:  # no project around it: lake's `layer.model` names
        if joined.count(".") != 1:
            raise ModelError(f"{name}: ref({shown}) must name a `layer.model`")
        return ".".join(parts)
    if joined in context.tables:
        return _inlined(context, context.tables[joined])
    model = parts[-1].lower()
    if "." in parts[0] or (len(parts) == 2 and parts[0].lower() != context.package.lower()):
        return ".".join(parts)  # a table name (lake's `layer.model`): the project names what it lacks
    found = context.names.get(model, ())
    if len(found) == 1:
        return _inlined(context, found[0])
    if found:
        raise ModelError(f"{name}: ref({shown}) is ambiguous: {', '.join(found)}; use ref('namespace.name')")
    close = difflib.get_close_matches(model, list(context.names), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ModelError(f"{name}: ref({shown}) names no model of the project{hint}")


def _inlined(context: RenderContext, table: str) -> str:
    return context.ephemeral.get(table.lower(), table)


def render(
    template: str, name: str, *, incremental: bool = False, context: RenderContext | None = None
) -> tuple[str, dict[str, Any]]:
    """Render a model's jinja; returns the SQL and the keyword arguments of its `config(...)` call."""
    import jinja2

    captured: dict[str, Any] = {}
    ctx = context or RenderContext()

    def config(**kwargs: Any) -> str:
        captured.update(kwargs)
        return ""

    def var(key: str, default: Any = jinja2.Undefined) -> Any:
        if key in ctx.vars:
            return ctx.vars[key]
        if default is not jinja2.Undefined:
            return default
        raise ModelError(
            f"{name}: var({key!r}) is not set; set it under `vars:` in dbt_project.yml or pass --vars"
        )

    values = {
        "config": config,
        "ref": lambda *parts: resolve_ref(name, parts, context),
        "source": lambda source, table: ctx.sources.get((source.lower(), table.lower()), f"{source}.{table}"),
        "this": name,
        "is_incremental": lambda: incremental,
        "env_var": _env_var,
        "var": var,
        "target": dict(ctx.target),
        "run_started_at": ctx.run_started_at,
        "adapter": _Adapter(),
        "dbt_utils": _DbtUtils(),
    }
    env = _environment()
    try:
        if ctx.macros:  # each macro sees the same functions as the model
            module = env.from_string(ctx.macros).make_module(values)
            values |= {k: getattr(module, k) for k in dir(module) if not k.startswith("_")}
        sql = env.from_string(template).render(**values)
    except ModelError:
        raise
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise ModelError(f"cannot render model {name}{where}: {exc}") from None
    return sql.strip().rstrip(";").strip(), captured


def with_inlines(sql: str, inlines: Mapping[str, str]) -> str:
    """`sql` with the SQL of each view or ephemeral model it reads (CTE name -> SQL) as a CTE."""
    used = {cte: inner for cte, inner in inlines.items() if cte in sql}
    if not used:
        return sql
    from sqlglot import exp

    from lakehouse.read.query import parse_single

    tree = parse_single(sql)
    if not isinstance(tree, exp.Query):
        return sql
    own = tree.args.get("with_")
    tree.set("with_", None)
    for cte, inner in used.items():  # first, so that the model's own CTEs can read them
        tree = tree.with_(cte, as_=parse_single(inner))
    if own is not None:
        for cte in own.expressions:
            tree = tree.with_(cte.alias, as_=cte.this, recursive=bool(own.args.get("recursive")))
    return tree.sql(dialect="duckdb")
