"""Rewrite `namespace.table` references in DuckDB SQL into `iceberg_scan` reads of one snapshot each.

sqlglot finds the table references (CTE names, aliases and table functions are left alone) and the
Spark/Trino `FOR TIMESTAMP AS OF` / `FOR VERSION AS OF` clauses; nothing is done with regexes.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lakehouse.errors import QueryError
from lakehouse.read.tableread import Shape, TableRead

# The resolver maps (identifier, as-of reference or None) to a TableRead.
Resolver = Callable[[str, str | None], TableRead]
# `changes(ns.t, 'FROM'[, 'TO'])` -> the SQL of its rows (identifier, from ref, to ref or None).
ChangesResolver = Callable[[str, str, str | None], str]
# The lake's tables as the catalog lists them (`namespace.table`), for SHOW TABLES.
Lister = Callable[[], list[str]]
# Read-only statements DuckDB users type; EXPLAIN (a Command to sqlglot) and SHOW TABLES are handled
# in `statement`.
_READ_ONLY = (exp.Query, exp.Describe, exp.Summarize, exp.Pivot)
_READ_ONLY_HELP = (
    "lake query is read-only: use SELECT, FROM, WITH, DESCRIBE, SUMMARIZE, PIVOT, UNPIVOT, EXPLAIN or "
    "SHOW TABLES; write with lake ingest or lake run"
)
# Table functions user SQL may call: they read no file, setting or secret. Every other one (read_*,
# glob, query(), duckdb_secrets(), iceberg_scan of a path...) is refused before DuckDB sees the SQL, so
# path tricks such as `s3://bucket/warehouse/../../other/` never reach DuckDB's own path checks.
_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# Scalar functions that read files, settings, secrets or the environment.
_DENIED_FUNCTIONS = frozenset(
    {"current_setting", "getenv", "which_secret", "read_text", "read_blob", "glob", "query", "query_table"}
)
_DENIED_PREFIXES = ("read_", "parquet_", "duckdb_", "iceberg_", "delta_", "sniff_", "pragma_")


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__.lower()


def check_reads(tree: exp.Expr, changes: bool = False) -> None:
    """Refuse anything but lake tables, CTEs and harmless table functions (and `changes()` of a lake
    table where `changes`) as a source of rows, and every function that reads a file, a setting, a
    secret or the environment."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        source = table.this
        if isinstance(source, exp.Identifier):
            if not table.db and source.name.lower() not in ctes:
                raise QueryError(
                    f"{source.name!r} is not a lake table: name tables as namespace.table (see `lake tables`)"
                )
            continue
        name = _function_name(source)
        if changes and name == "changes":
            continue  # its arguments are checked by changes_calls
        if name not in _TABLE_FUNCTIONS:
            raise QueryError(
                f"{name}() is not allowed in lake query: read lake tables by name (namespace.table); "
                "lake reads files only through its tables"
            )
    for func in tree.find_all(exp.Func):
        name = _function_name(func)
        if name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES):
            raise QueryError(f"{name}() is not allowed in lake query: it reads files, settings or secrets")


# sqlglot's "Required keyword: 'this' missing for <class '...Having'>" names a class; users know clauses.
_CLAUSES = {
    "Having": "HAVING", "Where": "WHERE", "Order": "ORDER BY", "Group": "GROUP BY", "Limit": "LIMIT",
    "Offset": "OFFSET", "Join": "JOIN", "From": "FROM", "Qualify": "QUALIFY", "Cast": "CAST",
    "Case": "CASE", "Window": "OVER", "In": "IN", "Between": "BETWEEN",
}  # fmt: skip


def syntax_error(exc: ParseError, offset: int = 0) -> str:
    """sqlglot's parse error as a user reads it: where (line, column of the token) and what.
    `offset` is the length of text lake put before the user's on line 1."""
    if not exc.errors:
        return str(exc).splitlines()[0]
    error = exc.errors[0]
    token = str(error.get("highlight") or "")
    line, end = int(error.get("line") or 1), int(error.get("col") or 0)
    column = max(1, end - len(token) + 1 - (offset if line == 1 else 0))
    description = str(error.get("description") or "")
    if description.startswith("Required keyword"):
        clause = description.rstrip("'>").rsplit(".", 1)[-1]
        what = f"{_CLAUSES[clause]} is incomplete" if clause in _CLAUSES else "an expression is incomplete"
    elif description.startswith("Invalid expression"):
        what = "unexpected token"
    elif description.startswith("Expecting"):
        what = "expected" + description[len("Expecting") :]
    else:  # "Expected table name but got <Token token_type: ...>": keep the words
        what = (
            description.split(" but got <", 1)[0].split("<class", 1)[0].strip().rstrip(":") or "syntax error"
        )
        what = what[:1].lower() + what[1:]
    near = f'near "{token}"' if token else "at the end"
    return f"syntax error at line {line}, column {column}, {near}: {what}"


def parse_single(sql: str) -> exp.Expr:
    # sqlglot logs a warning when it keeps a statement it does not model (EXPLAIN) as a Command.
    log = logging.getLogger("sqlglot")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as exc:
        raise QueryError(f"cannot parse SQL: {syntax_error(exc)}") from None
    except TokenError:
        raise QueryError(
            "cannot parse SQL: it cannot be split into tokens (is a quote or comment left open?)"
        ) from None
    finally:
        log.setLevel(level)
    if len(statements) != 1:
        raise QueryError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


def version_ref(table: exp.Table) -> str | None:
    """`FOR TIMESTAMP AS OF '...'` / `FOR VERSION AS OF n|'tag'` -> the reference text."""
    version = table.args.get("version")
    if version is None:
        return None
    value = version.expression
    if not isinstance(value, exp.Literal):
        raise QueryError(f"AS OF for {table.sql('duckdb')} must be a literal")
    text = str(value.this)
    kind = str(version.this).upper()
    if kind == "TIMESTAMP" and text.strip().lstrip("-").isdigit():
        raise QueryError(
            f"FOR TIMESTAMP AS OF needs a time, not {text!r}; use FOR VERSION AS OF for snapshot ids"
        )
    return text


def lake_tables(tree: exp.Expr) -> list[exp.Table]:
    """Table nodes naming `namespace.table` that are not CTEs or table functions."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or not table.db or table.catalog:
            continue
        if not table.db and table.name.lower() in ctes:
            continue
        found.append(table)
    return found


def changes_calls(tree: exp.Expr) -> list[tuple[exp.Table, str, str, str | None]]:
    """Every `changes(ns.t, 'FROM'[, 'TO'])` used as a table: (its node, `ns.t`, FROM, TO or None)."""
    found = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Expr) or _function_name(table.this) != "changes":
            continue
        args = list(table.this.expressions)
        target = args[0] if args else None
        if not isinstance(target, exp.Column) or not target.table or target.args.get("db"):
            raise QueryError(
                "changes() takes a lake table then one or two snapshot references: "
                "changes(ns.t, 'FROM'[, 'TO'])"
            )
        refs = args[1:]
        if not 1 <= len(refs) <= 2 or not all(isinstance(r, exp.Literal) for r in refs):
            raise QueryError(
                f"changes({target.table}.{target.name}, ...) needs one or two literal snapshot references "
                "(an id, a tag or branch, a time, or '@file.lock'): changes(ns.t, 'FROM'[, 'TO'])"
            )
        texts = [str(r.this) for r in refs]
        found.append((table, f"{target.table}.{target.name}", texts[0], texts[1] if len(texts) > 1 else None))
    return found


def rewrite(
    sql: str, resolve: Resolver, list_tables: Lister | None = None, changes: ChangesResolver | None = None
) -> tuple[str, list[TableRead]]:
    """Return DuckDB SQL reading pinned snapshots, and the reads it makes (for reporting and pinning).

    `resolve(identifier, ref)` gets the reference the SQL names (`FOR TIMESTAMP AS OF ...`) or None,
    once per distinct pair; `changes(identifier, from, to)` the SQL of a `changes()` call."""
    tree = parse_single(sql)
    prefix = ""
    if isinstance(tree, exp.Command) and str(tree.this).upper() == "EXPLAIN":
        prefix, tree = _explained(tree)
    tree = statement(tree, list_tables)
    check_reads(tree, changes=changes is not None)
    reads: dict[tuple[str, str | None], TableRead] = {}
    # Each table becomes a placeholder name, replaced by its scan's SQL text after printing: a scan over
    # thousands of files is never parsed by sqlglot.
    token = secrets.token_hex(6)
    shape = Shape.of(tree)
    scans: dict[str, str] = {}
    for n, (node, identifier, old, new) in enumerate(changes_calls(tree) if changes is not None else ()):
        placeholder = f"lake_changes_{token}_{n}_end"  # no placeholder is a prefix of another
        scans[placeholder] = f"({changes(identifier, old, new)})" if changes is not None else ""
        alias = node.alias or "changes"
        node.replace(
            exp.Table(
                this=exp.to_identifier(placeholder),
                alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
            )
        )
    for table in lake_tables(tree):
        identifier = f"{table.db}.{table.name}"
        ref = version_ref(table)
        key = (identifier, ref)  # exact: `s.t` and a legacy `s.T` are different tables
        if key not in reads:
            reads[key] = resolve(identifier, ref).planned(shape)
        placeholder = f"lake_scan_{token}_{list(reads).index(key)}"
        scans[placeholder] = reads[key].scan_sql()
        table.replace(
            exp.Table(
                this=exp.to_identifier(placeholder),
                alias=exp.TableAlias(this=exp.to_identifier(table.alias or table.name, quoted=True)),
                pivots=table.args.get("pivots"),  # `FROM ns.t PIVOT (...)` / `UNPIVOT (...)`
            )
        )
    text = prefix + tree.sql(dialect="duckdb")
    for placeholder, scan in scans.items():
        text = text.replace(placeholder, scan)
    return text, list(reads.values())


def statement(tree: exp.Expr, list_tables: Lister | None) -> exp.Expr:
    """A read-only statement as DuckDB runs it over scans: `DESCRIBE ns.t` / `SUMMARIZE ns.t` /
    `PIVOT ns.t ...` read `SELECT * FROM ns.t` (a scan is not a catalog table), and `SHOW TABLES`
    lists the lake's tables as its catalog does; anything that is not a read is refused."""
    if isinstance(tree, exp.Show):
        return _show_tables(tree, list_tables)
    if not isinstance(tree, _READ_ONLY):
        raise QueryError(_READ_ONLY_HELP)
    if isinstance(tree, (exp.Describe, exp.Summarize, exp.Pivot)) and not isinstance(
        tree.this, (exp.Table, exp.Query, exp.Subquery)
    ):  # `SUMMARIZE '/path/file.csv'`: DuckDB would read the file
        raise QueryError(
            f"{tree.this.sql('duckdb')} is not a lake table: name tables as namespace.table (see `lake tables`)"
        )
    if isinstance(tree, (exp.Describe, exp.Summarize, exp.Pivot)) and isinstance(tree.this, exp.Table):
        source = tree.this
        select = exp.select("*").from_(source.copy())
        tree.set("this", exp.Subquery(this=select) if isinstance(tree, exp.Pivot) else select)
        if isinstance(tree, exp.Summarize):
            tree.set("table", None)
    return tree


def _explained(tree: exp.Command) -> tuple[str, exp.Expr]:
    """`EXPLAIN [ANALYZE] statement` (sqlglot keeps it as text): the prefix, and the statement parsed."""
    text = str(tree.expression.name if isinstance(tree.expression, exp.Literal) else tree.expression or "")
    tokens = sqlglot.tokenize(text, read="duckdb")
    prefix = "EXPLAIN "
    if tokens and tokens[0].text.upper() == "ANALYZE":
        prefix, text = "EXPLAIN ANALYZE ", text[tokens[0].end + 1 :]
    if not text.strip():
        raise QueryError("EXPLAIN needs a statement: EXPLAIN SELECT ...")
    inner = parse_single(text)
    if isinstance(inner, exp.Command):
        raise QueryError(f"EXPLAIN {str(inner.this).upper()} is not supported: EXPLAIN a SELECT")
    return prefix, inner


def _show_tables(tree: exp.Show, list_tables: Lister | None) -> exp.Expr:
    """`SHOW [ALL] TABLES [FROM ns]` as a SELECT over the catalog's listing: namespace, name."""
    kind = str(tree.this).upper()
    if kind not in ("TABLES", "ALL TABLES") or list_tables is None:
        raise QueryError(f"SHOW {kind} is not supported in lake query: use SHOW TABLES (or lake tables)")
    within = tree.args.get("from_") or tree.args.get("db")
    namespace = within.name.lower() if isinstance(within, exp.Expr) else None
    names = [n.split(".", 1) for n in list_tables()]
    rows = [(ns, name) for ns, name in names if namespace is None or ns.lower() == namespace]
    columns = ["namespace", "name"]
    if not rows:  # a VALUES list cannot be empty: a typed relation with no row
        return exp.select(*(exp.cast(exp.null(), "VARCHAR").as_(c) for c in columns)).where(exp.false())
    values = exp.values(rows, "lake_tables", columns)
    return exp.select(*columns).from_(values).order_by(*columns)
