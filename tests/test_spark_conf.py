"""`lake spark-conf` and lakehouse.io.spark.conf: the Spark settings per catalog kind (no JVM needed; the
interop test in tests/spark runs them on a real Spark)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import one_line_error

from lakehouse.cli import cli
from lakehouse.core.config import load_profile
from lakehouse.errors import ConfigError
from lakehouse.io.spark.conf import (
    EXTENSIONS,
    jdbc_properties,
    secret_keys,
    shown_conf,
    spark_conf,
    spark_packages,
)

CATALOG = "spark.sql.catalog"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog" / "lake.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _lake(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), "spark-conf", *args], env=env)


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    monkeypatch.setenv("LAKE_TEST_PG_SECRET", "p@ss:w0rd")
    monkeypatch.setenv("LAKE_TEST_S3_SECRET", "s3-secret-value")
    return _config(
        tmp_path,
        "default: local\n"
        "profiles:\n"
        "  local:\n    type: sql\n    uri: sqlite:///.lake/catalog.db\n    warehouse: file://.lake/warehouse\n"
        "  team:\n    type: postgres\n"
        "    uri: postgresql://lake:${LAKE_TEST_PG_SECRET}@db.example:5433/lake?sslmode=require\n"
        "    warehouse: s3://bucket/warehouse\n    s3.region: eu-west-1\n"
        "    s3.secret-access-key: ${LAKE_TEST_S3_SECRET:-}\n    s3.access-key-id: AKIALITERAL\n"
        "  rest:\n    type: rest\n    uri: http://127.0.0.1:8181\n    warehouse: lakewh\n"
        "    s3.endpoint: http://127.0.0.1:8333\n    s3.region: us-east-1\n"
        "    s3.access-key-id: admin\n    s3.secret-access-key: password\n"
        "    rest.sigv4-enabled: 'true'\n    rest.signing-name: s3tables\n    rest.signing-region: us-east-1\n"
        "    lake.commit-retries: 3\n"
        "  glue:\n    type: glue\n    warehouse: s3://b/w\n",
    )


def test_sqlite_profile_is_a_jdbc_catalog_named_like_the_profile(configs: Path) -> None:
    conf = spark_conf(load_profile("local", configs))
    root = configs.parent.parent.resolve()
    assert conf == {
        "spark.sql.extensions": EXTENSIONS,
        f"{CATALOG}.local": "org.apache.iceberg.spark.SparkCatalog",
        f"{CATALOG}.local.catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
        f"{CATALOG}.local.uri": f"jdbc:sqlite:{root}/.lake/catalog.db",
        f"{CATALOG}.local.jdbc.schema-version": "V1",
        f"{CATALOG}.local.jdbc.init-catalog-tables": "false",
        f"{CATALOG}.local.warehouse": f"file://{root}/.lake/warehouse",
        f"{CATALOG}.local.cache-enabled": "false",
    }


def test_postgres_profile_splits_user_and_password_and_uses_s3fileio(configs: Path) -> None:
    conf = spark_conf(load_profile("team", configs))
    at = f"{CATALOG}.team"
    assert conf[f"{at}.uri"] == "jdbc:postgresql://db.example:5433/lake?sslmode=require"
    assert conf[f"{at}.jdbc.user"] == "lake"
    assert conf[f"{at}.jdbc.password"] == "p@ss:w0rd"
    assert conf[f"{at}.jdbc.schema-version"] == "V1"
    assert conf[f"{at}.io-impl"] == "org.apache.iceberg.aws.s3.S3FileIO"
    assert conf[f"{at}.client.region"] == "eu-west-1"
    assert conf[f"{at}.s3.secret-access-key"] == "s3-secret-value"
    assert f"{at}.s3.path-style-access" not in conf  # real AWS: virtual-hosted style
    assert set(secret_keys(conf)) == {
        f"{at}.jdbc.password",
        f"{at}.s3.secret-access-key",
        f"{at}.s3.access-key-id",
    }


def test_encoded_and_sqlalchemy_style_postgres_urls() -> None:
    assert jdbc_properties("postgresql+psycopg2://u:a%40b@h/db", "p") == {
        "uri": "jdbc:postgresql://h/db", "jdbc.user": "u", "jdbc.password": "a@b",
    }  # fmt: skip
    assert jdbc_properties("postgresql://h:5432/db", "p") == {"uri": "jdbc:postgresql://h:5432/db"}
    with pytest.raises(ConfigError, match="sqlite:/// or postgresql://"):
        jdbc_properties("mysql://h/db", "p")


def test_rest_profile_is_a_rest_catalog_with_sigv4_and_s3(configs: Path) -> None:
    conf = spark_conf(load_profile("rest", configs))
    at = f"{CATALOG}.rest"
    assert conf[f"{at}.type"] == "rest"
    assert conf[f"{at}.uri"] == "http://127.0.0.1:8181"
    assert conf[f"{at}.warehouse"] == "lakewh"
    assert conf[f"{at}.rest.sigv4-enabled"] == "true"
    assert conf[f"{at}.rest.signing-name"] == "s3tables"
    assert conf[f"{at}.s3.endpoint"] == "http://127.0.0.1:8333"
    assert conf[f"{at}.s3.path-style-access"] == "true"  # a local endpoint
    assert not any("lake." in key or "catalog-impl" in key for key in conf)
    assert spark_packages(load_profile("rest", configs))[-1] == "org.apache.iceberg:iceberg-aws-bundle:1.10.2"


def test_s3a_instead_of_s3fileio(configs: Path) -> None:
    conf = spark_conf(load_profile("rest", configs), s3_io="s3a")
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:8333"
    assert conf["spark.hadoop.fs.s3a.access.key"] == "admin"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert not any(key.endswith("io-impl") for key in conf)
    assert set(secret_keys(conf)) == {"spark.hadoop.fs.s3a.access.key", "spark.hadoop.fs.s3a.secret.key"}


def test_secrets_become_placeholders_or_masks(configs: Path) -> None:
    shown = shown_conf(load_profile("team", configs))
    at = f"{CATALOG}.team"
    assert shown.settings[f"{at}.jdbc.password"] == "${LAKE_TEST_PG_SECRET}"
    assert shown.settings[f"{at}.s3.secret-access-key"] == "${LAKE_TEST_S3_SECRET}"
    assert shown.settings[f"{at}.s3.access-key-id"] == "***"  # written literally in the file
    assert shown.masked == [f"{at}.s3.access-key-id"]
    text = json.dumps(shown.to_dict())
    assert "p@ss" not in text and "s3-secret-value" not in text and "AKIALITERAL" not in text


@pytest.mark.parametrize("fmt", ["conf", "properties", "json", "pyspark"])
def test_cli_never_prints_a_secret_unless_asked(configs: Path, fmt: str) -> None:
    result = _lake(configs, "--profile", "team", "--format", fmt)
    code, output = result.exit_code, result.stdout
    assert code == 0, output
    assert "p@ss" not in output and "w0rd" not in output and "s3-secret-value" not in output
    assert "AKIALITERAL" not in output
    result = _lake(configs, "--profile", "team", "--format", fmt, "--show-secrets")
    code, output = result.exit_code, result.stdout
    assert "s3-secret-value" in output and "AKIALITERAL" in output


def test_conf_format_is_spark_submit_arguments(configs: Path) -> None:
    result = _lake(configs, "--profile", "team")
    assert result.exit_code == 0, result.output
    output = result.stdout
    words = shlex.split(output.replace("\\\n", " "), posix=True)
    assert words[::2] == ["--conf"] * (len(words) // 2)
    pairs = dict(word.split("=", 1) for word in words[1::2])
    assert pairs["spark.sql.catalog.team.jdbc.password"] == "${LAKE_TEST_PG_SECRET}"
    assert pairs["spark.jars.packages"].split(",") == [
        "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.2",
        "org.postgresql:postgresql:42.7.4",
        "org.apache.iceberg:iceberg-aws-bundle:1.10.2",
    ]


def test_pyspark_format_is_python_reading_the_environment(configs: Path) -> None:
    result = _lake(configs, "--profile", "team", "--format", "pyspark")
    code, output = result.exit_code, result.stdout
    assert code == 0
    compile(output, "<spark-conf>", "exec")
    assert ".config('spark.sql.catalog.team.jdbc.password', os.environ[\"LAKE_TEST_PG_SECRET\"])" in output


def test_json_flag_and_default_profile(configs: Path) -> None:
    result = _lake(configs, "--json")
    assert result.exit_code == 0, result.output
    output = result.stdout
    document = json.loads(output)
    assert document["profile"] == "local"
    assert document["settings"]["spark.sql.catalog.local.jdbc.schema-version"] == "V1"


def test_unsupported_catalog_is_one_line_error(configs: Path) -> None:
    assert one_line_error(_lake(configs, "--profile", "glue")).startswith(
        "Error: profile 'glue': no Spark settings for catalog type 'glue'"
    )


def test_local_without_an_environment_names_make_spark(configs: Path, tmp_path: Path) -> None:
    result = _lake(configs, "--local", env={"LAKE_SPARK_HOME": str(tmp_path / "nothing")})
    assert "make spark" in one_line_error(result)
