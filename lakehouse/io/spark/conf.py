"""The Spark settings that open a lake profile's catalog: same tables, same catalog, no migration.

The Spark catalog is named like the profile, because pyiceberg's SQL catalog stores its own name in every
row of `iceberg_tables` (`catalog_name`) and Iceberg's JdbcCatalog only sees rows with its name.
- SQL catalogs (SQLite, PostgreSQL) -> Iceberg's JdbcCatalog with `jdbc.schema-version=V1` (pyiceberg's
  table layout), the JDBC url derived from the profile's SQLAlchemy url, user and password apart;
- REST -> RESTCatalog, with the profile's `rest.*`, OAuth and header properties (the names are shared);
- S3 keys -> S3FileIO (`s3.*`, `client.region`), or Hadoop S3A's `spark.hadoop.fs.s3a.*` with `s3_io="s3a"`.
The values are real (credentials included); `secret_keys` says which to mask before showing them.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from lakehouse.core.config import SECRET_KEYS, Profile
from lakehouse.errors import ConfigError

if TYPE_CHECKING:
    from lakehouse.io.spark.env import SparkEnv

S3Io = Literal["s3fileio", "s3a"]
EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
SPARK_CATALOG = "org.apache.iceberg.spark.SparkCatalog"
JDBC_CATALOG = "org.apache.iceberg.jdbc.JdbcCatalog"
S3_FILE_IO = "org.apache.iceberg.aws.s3.S3FileIO"
# Catalog properties Iceberg Java reads under the same names as pyiceberg.
_SHARED_PREFIXES = ("rest.", "header.", "client.")
_SHARED_KEYS = ("credential", "token", "scope", "oauth2-server-uri", "audience", "resource", "prefix")
_S3_KEYS = (
    "s3.endpoint",
    "s3.access-key-id",
    "s3.secret-access-key",
    "s3.session-token",
    "s3.path-style-access",
)
# pyiceberg's S3 key -> Hadoop S3A's.
_S3A = {
    "s3.endpoint": "fs.s3a.endpoint",
    "s3.access-key-id": "fs.s3a.access.key",
    "s3.secret-access-key": "fs.s3a.secret.key",
    "s3.session-token": "fs.s3a.session.token",
    "s3.path-style-access": "fs.s3a.path.style.access",
    "s3.region": "fs.s3a.endpoint.region",
}


def catalog_prefix(profile: Profile) -> str:
    return f"spark.sql.catalog.{profile.name}"


def spark_conf(profile: Profile, *, s3_io: S3Io = "s3fileio") -> dict[str, str]:
    """`spark.sql.extensions` and the `spark.sql.catalog.<profile name>.*` settings of `profile`."""
    props = profile.properties
    kind = profile.catalog_type
    at = catalog_prefix(profile)
    conf = {"spark.sql.extensions": EXTENSIONS, at: SPARK_CATALOG}
    if kind in ("sql", "postgres"):
        conf[f"{at}.catalog-impl"] = JDBC_CATALOG
        conf |= {f"{at}.{k}": v for k, v in jdbc_properties(props.get("uri", ""), profile.name).items()}
        conf[f"{at}.jdbc.schema-version"] = "V1"
        # lake creates the catalog tables. Iceberg's check for them leaves a JDBC ResultSet open, and
        # on SQLite that open statement holds a read transaction for the life of the connection: it
        # blocked every commit of lake's ("database is locked") or, in WAL mode, hid new tables.
        conf[f"{at}.jdbc.init-catalog-tables"] = "false"
    elif kind == "rest":
        conf[f"{at}.type"] = "rest"
        conf[f"{at}.uri"] = _required(profile, "uri")
        shared = {k: v for k, v in props.items() if k.startswith(_SHARED_PREFIXES) or k in _SHARED_KEYS}
        conf |= {f"{at}.{k}": v for k, v in sorted(shared.items())}
    else:
        raise ConfigError(
            f"profile {profile.name!r}: no Spark settings for catalog type {kind!r} (sql, postgres, rest)"
        )
    conf[f"{at}.warehouse"] = props["warehouse"]
    if _uses_s3(profile):
        conf |= _s3a_conf(props) if s3_io == "s3a" else _s3_file_io_conf(at, props)
    return conf


def jdbc_properties(uri: str, name: str) -> dict[str, str]:
    """A SQLAlchemy url (`sqlite:///p.db`, `postgresql[+driver]://u:p@h:port/db?x=y`) as JdbcCatalog properties."""
    if uri.startswith("sqlite:///"):
        return {
            "uri": "jdbc:sqlite:" + uri[len("sqlite:///") :]
        }  # sqlite:////abs/x.db -> jdbc:sqlite:/abs/x.db
    scheme = uri.split("://", 1)[0]
    if scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ConfigError(f"profile {name!r}: Spark's JdbcCatalog takes a sqlite:/// or postgresql:// uri")
    # The password may hold `@` or `:`: the userinfo ends at the last `@` (as core.config reads it).
    rest = uri.split("://", 1)[1]
    userinfo, _, location = rest.rpartition("@")
    out = {"uri": f"jdbc:postgresql://{location}"}
    if userinfo:
        user, _, password = userinfo.partition(":")
        out["jdbc.user"] = unquote(user)
        if password:
            out["jdbc.password"] = unquote(password)
    if not urlsplit(f"postgresql://{location}").hostname:
        raise ConfigError(f"profile {name!r}: the catalog uri has no host")
    return out


def _uses_s3(profile: Profile) -> bool:
    return profile.is_s3 or any(k in profile.properties for k in _S3_KEYS)


def _s3_file_io_conf(at: str, props: dict[str, str]) -> dict[str, str]:
    conf = {f"{at}.io-impl": S3_FILE_IO}
    conf |= {f"{at}.{k}": props[k] for k in _S3_KEYS if k in props}
    if "s3.endpoint" in props:
        conf.setdefault(f"{at}.s3.path-style-access", "true")  # local and most non-AWS endpoints need it
    if "s3.region" in props and "client.region" not in props:
        conf[f"{at}.client.region"] = props["s3.region"]
    return conf


def _s3a_conf(props: dict[str, str]) -> dict[str, str]:
    conf = {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    }
    conf |= {f"spark.hadoop.{_S3A[k]}": v for k, v in props.items() if k in _S3A}
    if "s3.endpoint" in props:
        conf.setdefault("spark.hadoop.fs.s3a.path.style.access", "true")
        conf.setdefault(
            "spark.hadoop.fs.s3a.connection.ssl.enabled",
            str(props["s3.endpoint"].startswith("https")).lower(),
        )
    if "s3.access-key-id" in props:
        provider = (
            "TemporaryAWSCredentialsProvider"
            if "s3.session-token" in props
            else "SimpleAWSCredentialsProvider"
        )
        conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = f"org.apache.hadoop.fs.s3a.{provider}"
    return conf


def _required(profile: Profile, key: str) -> str:
    value = profile.properties.get(key)
    if not value:
        raise ConfigError(f"profile {profile.name!r} needs a `{key}` property")
    return value


def secret_keys(conf: dict[str, str]) -> list[str]:
    """The settings in `conf` whose values are credentials."""
    return [
        k for k in conf if any(s in k.rsplit(".", 1)[-1].lower() or s in k.lower() for s in _SECRET_NAMES)
    ]


_SECRET_NAMES = (*SECRET_KEYS, "access.key", "secret.key", "session.token")


def env_conf(env: SparkEnv) -> dict[str, str]:
    """Settings that put the local environment's jars and sqlite-jdbc's native library on the JVM's paths."""
    jars = ",".join(str(jar) for jar in env.jars)
    conf = {"spark.jars": jars}
    if env.java_library_path:
        option = f"-Djava.library.path={env.java_library_path}"
        conf["spark.driver.extraJavaOptions"] = option
        conf["spark.executor.extraJavaOptions"] = option
        conf["spark.driver.extraLibraryPath"] = env.java_library_path
        conf["spark.executor.extraLibraryPath"] = env.java_library_path
    return conf


def spark_submit_args(env: SparkEnv, conf: dict[str, str] | None = None) -> list[str]:
    """`spark-submit` / PYSPARK_SUBMIT_ARGS arguments: the environment's jars and paths plus `conf`."""
    args: list[str] = []
    for key, value in {**env_conf(env), **(conf or {})}.items():
        args += ["--conf", f"{key}={value}"]
    return args


def submit_args_string(env: SparkEnv, conf: dict[str, str] | None = None) -> str:
    """PYSPARK_SUBMIT_ARGS for a driver started with `pyspark` (ends with `pyspark-shell`, as it must)."""
    return shlex.join([*spark_submit_args(env, conf), "pyspark-shell"])
