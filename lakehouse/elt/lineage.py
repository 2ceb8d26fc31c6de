"""`lake lineage`: the table DAG of a project and, with `--columns`, column lineage from sqlglot.

Column lineage runs `sqlglot.lineage` over each model's rendered SQL. Its leaves are columns of the
tables the model reads; chaining models gives the full path, e.g.

    gold.user_features.total_spend <- silver.events.amount <- bronze.events.amount

Columns used only to order or partition a window (or to join) are listed as well: they shape the value.
Input schemas come from the lake when its tables exist, else from upstream models' `columns` contracts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakehouse.elt.project import Project

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass
class Lineage:
    nodes: list[dict[str, Any]]
    edges: list[tuple[str, str]]
    columns: dict[str, list[str]] | None = None  # "layer.model.column" -> ["ns.table.column", ...]
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "nodes": self.nodes,
            "edges": [{"from": a, "to": b} for a, b in self.edges],
        }
        if self.columns is not None:
            out["columns"] = self.columns
            out["errors"] = self.errors
        return out

    def to_text(self) -> str:
        lines = []
        parents: dict[str, list[str]] = {}
        for a, b in self.edges:
            parents.setdefault(b, []).append(a)
        for node in self.nodes:
            ups = parents.get(node["name"], [])
            tail = f" <- {', '.join(sorted(ups))}" if ups else ""
            lines.append(
                f"{node['name']} ({node['kind']}{', ' + node['materialized'] if node.get('materialized') else ''}){tail}"
            )
        if self.columns is not None:
            lines.append("")
            for target in self.columns:
                for chain in self._chains(target, 0):
                    lines.append(" <- ".join([target, *chain]) if chain else target)
            for model, err in self.errors.items():
                lines.append(f"{model}: column lineage unavailable: {err}")
        return "\n".join(lines)

    def _chains(self, column: str, depth: int) -> list[list[str]]:
        """Every path from a column down to columns with no recorded lineage (the sources)."""
        ups = (self.columns or {}).get(column)
        if not ups or depth > 20:
            return [[]]
        paths = []
        for up in ups:
            for rest in self._chains(up, depth + 1):
                paths.append([up, *rest])
        return paths

    def to_mermaid(self) -> str:
        def nid(name: str) -> str:
            return name.replace(".", "_")

        lines = ["graph LR"]
        for node in self.nodes:
            shape = ("[(", ")]") if node["kind"] == "source" else ("[", "]")
            lines.append(f'  {nid(node["name"])}{shape[0]}"{node["name"]}"{shape[1]}')
        for a, b in self.edges:
            lines.append(f"  {nid(a)} --> {nid(b)}")
        if self.columns:
            for target, ups in self.columns.items():
                for up in ups:
                    lines.append(f'  {nid(up)}["{up}"] -.-> {nid(target)}["{target}"]')
        return "\n".join(lines)


def build_lineage(
    project: Project,
    model: str | None = None,
    *,
    columns: bool = False,
    load: Callable[[str], Table] | None = None,
) -> Lineage:
    """The table DAG of `project` (or of `model`, up- and downstream); with `columns`, column lineage,
    with input schemas from the tables `load` opens when given."""
    names = project.order()
    if model is not None:
        chosen = set(project.select(f"+{model}+"))
        names = [n for n in names if n in chosen]
    used_sources = sorted({d for n in names for d in project.models[n].depends_on if d in project.sources})
    nodes: list[dict[str, Any]] = [
        {"name": s, "kind": "source", "description": project.sources[s].description} for s in used_sources
    ]
    for n in names:
        m = project.models[n]
        nodes.append(
            {
                "name": m.name,
                "kind": "model",
                "materialized": m.config.materialized,
                "description": m.config.description,
                "path": str(m.path),
            }
        )
    edges = [(d, n) for n in names for d in project.models[n].depends_on if d in names or d in used_sources]
    result = Lineage(nodes, edges)
    if columns:
        result.columns, result.errors = column_lineage(project, names, load)
    return result


def _schemas(
    project: Project, names: list[str], load: Callable[[str], Table] | None
) -> dict[str, dict[str, dict[str, str]]]:
    """sqlglot's nested schema {db: {table: {column: type}}} for every table the models read."""
    from lakehouse.core.schemas import duckdb_type, parse_schema
    from lakehouse.errors import LakehouseError

    schema: dict[str, dict[str, dict[str, str]]] = {}
    wanted = sorted({d for n in names for d in project.models[n].depends_on})
    for ident in wanted:
        cols: dict[str, str] | None = None
        if load is not None:
            try:
                cols = {f.name: duckdb_type(f.field_type) for f in load(ident).schema().fields}
            except LakehouseError:
                cols = None
        if cols is None and ident in project.models and project.models[ident].config.columns:
            text = project.models[ident].config.contract_schema_text() or ""
            cols = {f.name: duckdb_type(f.field_type) for f in parse_schema(text).fields}
        if cols is not None:
            db, table = ident.split(".", 1)
            schema.setdefault(db, {})[table] = cols
    return schema


def column_lineage(
    project: Project, names: list[str], load: Callable[[str], Table] | None = None
) -> tuple[dict[str, list[str]], dict[str, str]]:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage

    schema = _schemas(project, names, load)
    out: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for name in names:
        model = project.models[name]
        try:
            tree: Any = sqlglot.parse_one(model.sql, read="duckdb")
            local = _with_guessed_inputs(schema, model.depends_on, tree)
            if any(
                isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star) for s in tree.selects
            ):
                from sqlglot.optimizer.qualify import qualify

                tree = qualify(tree, schema=local, dialect="duckdb")
            for col in tree.named_selects:
                node = lineage(col, tree, local, dialect="duckdb")
                found: list[str] = []
                for leaf in node.walk():
                    if leaf.downstream or not isinstance(leaf.source, exp.Table):
                        continue
                    table = leaf.source
                    ident = f"{table.db}.{table.name}".lower()
                    target = f"{ident}.{leaf.name.split('.')[-1]}"
                    if target not in found:
                        found.append(target)
                out[f"{model.name}.{col}"] = found
        except SqlglotError as exc:
            errors[model.name] = str(exc).splitlines()[0]
    return out, errors


def _with_guessed_inputs(schema: dict[str, Any], reads: list[str], tree: Any) -> dict[str, Any]:
    """A model reading ONE table whose schema is unknown (not in the lake yet, no contract): that table
    has every column the SQL names, which is all sqlglot needs to tell columns from aliases."""
    from sqlglot import exp

    unknown = [r for r in reads if r.split(".", 1)[1] not in schema.get(r.split(".", 1)[0], {})]
    if len(unknown) != 1:
        return schema
    db, table = unknown[0].split(".", 1)
    cols = {c.name: "UNKNOWN" for c in tree.find_all(exp.Column) if c.name}
    local = {k: dict(v) for k, v in schema.items()}
    local.setdefault(db, {})[table] = cols
    return local
