"""The light SQL catalog reader (sqlite3 / psycopg2) lists and finds exactly what pyiceberg's SQL catalog
does, on SQLite and PostgreSQL: the same names, metadata locations and errors, including rows lake
itself never writes (nested namespaces, views, another catalog's tables, case twins)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import catalog_props
from sqlalchemy import text

from lakehouse.core.config import Profile
from lakehouse.errors import LakehouseError, NoSuchTableError
from lakehouse.table import sqlcatalog, tables
from lakehouse.table.catalog import catalog_properties
from lakehouse.testing import LakeEnv, make_lake_env

SCHEMA = "id long"


@pytest.fixture
def cat_lake(catalog_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> LakeEnv:
    props = {**catalog_props(catalog_kind, request, tmp_path), "warehouse": f"file://{tmp_path / 'wh'}"}
    return make_lake_env(tmp_path, props)


def _outcome(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except LakehouseError as exc:
        return (type(exc).__name__, str(exc))


def _populate(env: LakeEnv) -> None:
    """Tables lake writes, plus rows of other writers: a nested namespace, a view, a second catalog
    in the same database, tables differing only in case, an empty namespace."""
    from pyiceberg.catalog import load_catalog
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField

    lake = env.lake
    lake.create("bronze.events", SCHEMA)
    lake.create("bronze.users", SCHEMA)
    lake.create("silver.events", SCHEMA)
    schema = Schema(NestedField(1, "id", LongType()))
    catalog = lake.catalog
    catalog.create_namespace("empty_ns")
    catalog.create_namespace(("deep", "er"))
    catalog.create_table(("deep", "er", "t"), schema=schema)
    catalog.create_namespace("twins")
    catalog.create_table("twins.Ab", schema=schema)
    catalog.create_table("twins.aB", schema=schema)
    other = load_catalog("other", **catalog_properties(Profile("other", env.profile.properties)))
    other.create_namespace("bronze")
    other.create_table("bronze.elsewhere", schema=schema)
    other.create_namespace("only_other")
    with catalog.engine.begin() as con:  # type: ignore[attr-defined]
        con.execute(
            text(
                "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location,"
                " previous_metadata_location, iceberg_type) VALUES (:c, 'silver', 'a_view', 'x', NULL, 'VIEW')"
            ),
            {"c": env.profile.name},
        )


def test_reader_agrees_with_pyiceberg(cat_lake: LakeEnv) -> None:
    _populate(cat_lake)
    profile, catalog = cat_lake.profile, cat_lake.lake.catalog
    assert sqlcatalog.is_light(profile)
    for namespace in (None, "bronze", "silver", "empty_ns", "deep", "twins", "only_other", "nope", "Bronze"):
        light = _outcome(sqlcatalog.list_tables, profile, namespace)
        assert light == _outcome(tables.list_tables, catalog, namespace), namespace
    assert sqlcatalog.list_tables(profile) == [
        "bronze.events", "bronze.users", "silver.events", "twins.Ab", "twins.aB"
    ]  # fmt: skip
    for name in ("bronze.events", "BRONZE.Users", "silver.events", "twins.Ab", "twins.ab", "bronze.elsewhere",
                 "silver.a_view", "bronze.event", "nope.x", "deep.er"):  # fmt: skip
        light = _outcome(sqlcatalog.metadata_location, profile, name)

        def heavy(n: str) -> str:
            return tables.load_table(catalog, n).metadata_location

        assert light == _outcome(heavy, name), name
    assert sqlcatalog.metadata_location(profile, "bronze.users").endswith(".metadata.json")


def test_lake_tables_reads_the_catalog_directly(cat_lake: LakeEnv, run_cli) -> None:
    _populate(cat_lake)
    cat_lake.lake.drop("bronze.users")
    result = run_cli(cat_lake, "tables")
    assert result.exit_code == 0 and result.output.split() == [
        "bronze.events", "silver.events", "twins.Ab", "twins.aB"
    ]  # fmt: skip
    assert run_cli(cat_lake, "tables", "silver").output.split() == ["silver.events"]


def test_no_catalog_yet(tmp_path: Path) -> None:
    """A profile whose SQLite file does not exist yet lists nothing, like pyiceberg's fresh catalog, and
    creates no file."""
    profile = Profile(
        "p", {"type": "sql", "uri": f"sqlite:///{tmp_path / 'cat.db'}", "warehouse": "file:///x"}
    )
    assert sqlcatalog.list_tables(profile) == []
    with pytest.raises(NoSuchTableError, match="namespace bronze does not exist"):
        sqlcatalog.list_tables(profile, "bronze")
    with pytest.raises(NoSuchTableError, match="table bronze.t does not exist$"):
        sqlcatalog.metadata_location(profile, "bronze.t")
    assert not (tmp_path / "cat.db").exists()


@pytest.mark.parametrize(
    ("props", "light"),
    [
        ({"uri": "sqlite:////tmp/x.db"}, True),
        ({"type": "sql", "uri": "sqlite:///x.db"}, True),
        ({"type": "postgres", "uri": "postgresql://u:p@h/db"}, True),
        ({"type": "sql", "uri": "postgresql+psycopg2://u@h/db"}, True),
        ({"type": "sql", "uri": "postgresql+pg8000://u@h/db"}, False),
        ({"type": "sql", "uri": "sqlite://"}, False),
        ({"type": "rest", "uri": "http://localhost:8181"}, False),
        ({"type": "glue"}, False),
        ({"type": "postgres", "uri": "mysql://h/db"}, False),  # a bad profile: pyiceberg's path reports it
    ],
)
def test_which_catalogs_are_light(props: dict[str, str], light: bool) -> None:
    assert sqlcatalog.is_light(Profile("p", {**props, "warehouse": "file:///x"})) is light


def test_unreachable_postgres_is_one_masked_config_error() -> None:
    profile = Profile(
        "p", {"type": "postgres", "uri": "postgresql://u:s3cretpw@127.0.0.1:1/db", "warehouse": "file:///x"}
    )
    with pytest.raises(LakehouseError, match="cannot open catalog of profile 'p'") as info:
        sqlcatalog.list_tables(profile)
    assert "s3cretpw" not in str(info.value) and "\n" not in str(info.value)


def test_v0_catalog_without_iceberg_type(tmp_path: Path) -> None:
    """A catalog written before pyiceberg's v1 schema (no `iceberg_type` column): every row is a table."""
    import sqlite3

    from pyiceberg.catalog import load_catalog

    db = tmp_path / "v0.db"
    with sqlite3.connect(db) as con:
        con.execute(
            "CREATE TABLE iceberg_tables (catalog_name VARCHAR(255) NOT NULL, table_namespace VARCHAR(255) NOT NULL,"
            " table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000),"
            " previous_metadata_location VARCHAR(1000), PRIMARY KEY (catalog_name, table_namespace, table_name))"
        )
        con.execute(
            "CREATE TABLE iceberg_namespace_properties (catalog_name VARCHAR(255) NOT NULL, namespace VARCHAR(255)"
            " NOT NULL, property_key VARCHAR(255) NOT NULL, property_value VARCHAR(1000) NOT NULL,"
            " PRIMARY KEY (catalog_name, namespace, property_key))"
        )
        con.executemany(
            "INSERT INTO iceberg_tables VALUES (?, ?, ?, ?, NULL)",
            [("p", "a", "t1", "file:///m1.json"), ("p", "a", "t2", "file:///m2.json"), ("q", "a", "t3", "x")],
        )
    profile = Profile("p", {"type": "sql", "uri": f"sqlite:///{db}", "warehouse": f"file://{tmp_path}"})
    catalog = load_catalog("p", **catalog_properties(profile))
    assert sqlcatalog.list_tables(profile) == tables.list_tables(catalog) == ["a.t1", "a.t2"]
    assert sqlcatalog.list_tables(profile, "a") == tables.list_tables(catalog, "a")
    assert sqlcatalog.metadata_location(profile, "A.T2") == "file:///m2.json"


def test_a_damaged_catalog_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    (tmp_path / "cat.db").write_bytes(b"not a database" * 100)
    profile = Profile(
        "p", {"type": "sql", "uri": f"sqlite:///{tmp_path / 'cat.db'}", "warehouse": "file:///x"}
    )
    with pytest.raises(LakehouseError, match="catalog of profile 'p'"):
        sqlcatalog.list_tables(profile)
