"""Data contracts: a model's declared `columns` against what its SELECT returns and what its table
holds, checked before anything is written; the table a first build creates from the contract; and the
contract's not-null columns as checks that audit every build."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pyarrow as pa

from lakehouse.core.schemas import parse_partition_terms, parse_schema
from lakehouse.elt.checks import Check, parse_checks
from lakehouse.elt.models import contract_text
from lakehouse.errors import NoSuchTableError, SchemaMismatchError
from lakehouse.ops.columns import compatible, iceberg_schema_from_arrow
from lakehouse.table import tables
from lakehouse.table.commits import RetryPolicy, commit_with_retry

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table, Transaction


def not_null_checks(name: str, columns: Mapping[str, str]) -> list[Check]:
    """One `not_null` check per contract column declared `not null`."""
    return parse_checks(name, [{"not_null": c} for c, spec in columns.items() if "not null" in spec.lower()])


def check_contract(name: str, columns: Mapping[str, str], table: Table | None, output: pa.Schema) -> None:
    """Names and types of the SELECT against the declared contract and the table, before any write."""
    got = {f.name.lower(): f for f in iceberg_schema_from_arrow(output).fields}
    problems = []
    if columns:
        declared = {f.name.lower(): f for f in parse_schema(contract_text(columns) or "").fields}
        for col, fld in declared.items():
            if col not in got:
                problems.append(f"{fld.name}: declared {fld.field_type} but the model does not return it")
            elif reason := compatible(got[col].field_type, fld.field_type):
                problems.append(
                    f"{fld.name}: declared {fld.field_type}, the model returns {got[col].field_type} ({reason})"
                )
        for col, fld in got.items():
            if col not in declared:
                problems.append(
                    f"{fld.name}: returned by the model ({fld.field_type}) but not declared in columns"
                )
        if problems:
            raise SchemaMismatchError(f"{name} does not match its columns contract: " + "; ".join(problems))
    if table is None:
        return
    target = {f.name.lower(): f for f in table.schema().fields}
    for col, fld in target.items():
        if col not in got:
            problems.append(f"{fld.name}: the table has it, the model does not return it")
        elif reason := compatible(got[col].field_type, fld.field_type):
            problems.append(
                f"{fld.name}: the table has {fld.field_type}, the model returns {got[col].field_type}"
            )
    extra = [f.name for c, f in got.items() if c not in target]
    if extra:
        problems.append(f"new column(s) {', '.join(extra)} not in the table")
    if problems:
        raise SchemaMismatchError(
            f"{name}: the model's output no longer matches table {name}: "
            + "; ".join(problems)
            + f". Drop the table (`lake drop {name}`) and run again to rebuild it with the new schema"
            + (", or set config(on_schema_change='append_new_columns') to add new columns" if extra else "")
        )


def append_new_columns(
    load: Callable[[str], Table], name: str, table: Table, output: pa.Schema, policy: RetryPolicy
) -> Table:
    """dbt's on_schema_change='append_new_columns': the output's columns the table lacks are added
    (optional, last, one metadata commit) before the write; every other difference still fails."""
    have = {f.name.lower() for f in table.schema().fields}
    new = [f for f in iceberg_schema_from_arrow(output).fields if f.name.lower() not in have]
    if not new:
        return table

    def stage(tx: Transaction) -> None:
        current = {f.name.lower() for f in tx.table_metadata.schema().fields}
        with tx.update_schema() as update:
            for fld in new:
                if fld.name.lower() not in current:
                    update.add_column(fld.name, fld.field_type, doc=fld.doc)

    return commit_with_retry(lambda: load(name), stage, policy, f"{name}: add new columns")


def ensure_table(
    load: Callable[[str], Table],
    catalog: Catalog,
    name: str,
    columns: Mapping[str, str],
    partition_by: str | None,
    description: str,
    output: pa.Schema,
) -> Table:
    """The model's table; on a first build, created with the contract's schema (else the output's)."""
    try:
        return load(name)
    except NoSuchTableError:
        pass
    contract = contract_text(columns)
    schema = parse_schema(contract) if contract else iceberg_schema_from_arrow(output)
    terms = parse_partition_terms(partition_by)
    properties = {"lake.model": name}
    if description:
        properties["comment"] = description
    return tables.create_table(catalog, name, schema, terms, properties)
