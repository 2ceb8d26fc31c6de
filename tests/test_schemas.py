import pytest
from pyiceberg.types import DecimalType, ListType, LongType, StructType, TimestamptzType

from lakehouse.core.schemas import build_partition_spec, parse_partition_terms, parse_schema
from lakehouse.errors import SchemaError


def test_schema_string_with_nested_types() -> None:
    schema = parse_schema(
        "id long not null, ts timestamptz, price decimal(10, 2), tags list<string>, geo struct<lat: double, lon: double>"
    )
    assert schema.find_field("id").required and isinstance(schema.find_field("id").field_type, LongType)
    assert isinstance(schema.find_field("ts").field_type, TimestamptzType)
    assert schema.find_field("price").field_type == DecimalType(10, 2)
    assert isinstance(schema.find_field("tags").field_type, ListType)
    assert isinstance(schema.find_field("geo").field_type, StructType)


@pytest.mark.parametrize(
    "text, message",
    [
        ("id lng", "unknown type 'lng'"),
        ("id long, id string", "duplicate column name 'id'"),
        ("", "empty"),
    ],
)
def test_schema_errors(text: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        parse_schema(text)


def test_all_partition_transforms() -> None:
    schema = parse_schema("ts timestamptz, d date, user_id long, name string, country string")
    terms = parse_partition_terms(
        "year(d), month(ts), day(ts), hour(ts), bucket(16, user_id), truncate(3, name), country"
    )
    spec = build_partition_spec(schema, terms)
    assert [f.name for f in spec.fields] == [
        "d_year", "ts_month", "ts_day", "ts_hour", "user_id_bucket", "name_trunc", "country",
    ]  # fmt: skip
    assert str(spec.fields[4].transform) == "bucket[16]"
    assert parse_partition_terms("bucket[8](user_id)")[0].param == 8


@pytest.mark.parametrize(
    "terms, message",
    [
        ("fortnight(ts)", "unknown partition transform 'fortnight'"),
        ("day(nope)", "partition column 'nope' is not in the schema"),
        ("day(country)", "needs a date or timestamp column"),
        ("bucket(user_id)", "bucket needs a positive width"),
    ],
)
def test_partition_errors(terms: str, message: str) -> None:
    schema = parse_schema("ts timestamptz, user_id long, country string")
    with pytest.raises(SchemaError, match=message):
        build_partition_spec(schema, parse_partition_terms(terms))
