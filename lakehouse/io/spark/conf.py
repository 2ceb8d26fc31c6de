"""The Spark settings that open a lake profile's catalog: same tables, same catalog, no migration.

The Spark catalog is named like the profile, because pyiceberg's SQL catalog stores its own name in every
row of `iceberg_tables` (`catalog_name`) and Iceberg's JdbcCatalog only sees rows with its name.
- SQL catalogs (SQLite, PostgreSQL) -> Iceberg's JdbcCatalog with `jdbc.schema-version=V1` (pyiceberg's
  table layout) and `jdbc.init-catalog-tables=false` (lake made them), the JDBC url derived from the
  profile's SQLAlchemy url, user and password apart;
- REST -> RESTCatalog, with the profile's `rest.*`, OAuth and header properties (the names are shared);
- S3 keys -> S3FileIO (`s3.*`, `client.region`), or Hadoop S3A's `spark.hadoop.fs.s3a.*` with `s3_io="s3a"`.
Table caching is off (`cache-enabled=false`): lake commits to the same tables. The values are real (credentials included); `secret_keys` says which to mask before showing them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

import yaml

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
    conf[f"{at}.cache-enabled"] = "false"  # lake commits too: a cached table would be read stale for 30 s
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
    """The settings in `conf` whose values are credentials (by the catalog property or S3A key they set)."""
    found = []
    for key in conf:
        if key.startswith("spark.hadoop."):
            secret = key.removeprefix("spark.hadoop.") in _S3A_SECRETS
        elif key.startswith("spark.sql.catalog.") and key.count(".") >= 4:
            prop = key.split(".", 4)[4].lower()
            secret = any(s in prop for s in SECRET_KEYS)
        else:
            secret = False
        if secret:
            found.append(key)
    return found


_S3A_SECRETS = ("fs.s3a.access.key", "fs.s3a.secret.key", "fs.s3a.session.token")


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


# Maven coordinates a Spark outside this machine needs for these settings (`spark.jars.packages`).
ICEBERG_RUNTIME = "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.2"
ICEBERG_AWS = "org.apache.iceberg:iceberg-aws-bundle:1.10.2"
HADOOP_AWS = "org.apache.hadoop:hadoop-aws:3.3.4"  # the Hadoop pyspark 3.5 ships with
SQLITE_JDBC = "org.xerial:sqlite-jdbc:3.46.1.3"
PG_JDBC = "org.postgresql:postgresql:42.7.4"


def spark_packages(profile: Profile, *, s3_io: S3Io = "s3fileio") -> list[str]:
    """The Maven packages the settings of `profile` need: Iceberg, the JDBC driver, and the S3 client."""
    packages = [ICEBERG_RUNTIME]
    if profile.catalog_type in ("sql", "postgres"):
        packages.append(SQLITE_JDBC if profile.properties.get("uri", "").startswith("sqlite") else PG_JDBC)
    signs = profile.properties.get("rest.sigv4-enabled", "").lower() == "true"
    if _uses_s3(profile) or signs:
        packages.append(HADOOP_AWS if s3_io == "s3a" and not signs else ICEBERG_AWS)
    return packages


@dataclass(frozen=True)
class ShownConf:
    """Settings fit to print: each credential is a `${VAR}` placeholder (when the profile took it from the
    environment) or `***`, unless asked to show secrets."""

    profile: str
    settings: dict[str, str]
    placeholders: dict[str, str]  # setting -> the environment variable its value comes from
    masked: list[str]  # settings whose value is hidden as `***`

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "settings": self.settings,
            "from_environment": self.placeholders,
            "masked": self.masked,
        }


_PLACEHOLDER = re.compile(r"^\$\{(\w+)(?::-[^}]*)?\}$")


def shown_conf(
    profile: Profile,
    *,
    show_secrets: bool = False,
    s3_io: S3Io = "s3fileio",
    extra: dict[str, str] | None = None,
) -> ShownConf:
    """`spark_conf` (+ `extra`) with credentials replaced by placeholders or masks, ready to print."""
    settings = {**(extra or {}), **spark_conf(profile, s3_io=s3_io)}
    if show_secrets:
        return ShownConf(profile.name, settings, {}, [])
    raw = _raw_conf(profile, s3_io)
    placeholders, masked = {}, []
    for key in secret_keys(settings):
        found = _PLACEHOLDER.match(raw.get(key, ""))
        if found:
            settings[key] = "${" + found.group(1) + "}"
            placeholders[key] = found.group(1)
        else:
            settings[key] = "***"
            masked.append(key)
    return ShownConf(profile.name, settings, placeholders, masked)


def _raw_conf(profile: Profile, s3_io: S3Io) -> dict[str, str]:
    """The settings computed from the profile as written (`${VAR}` unexpanded); empty when that fails."""
    if profile.config_path is None:
        return {}
    try:
        document = yaml.safe_load(profile.config_path.read_text()) or {}
        raw = document["profiles"][profile.name]
        props = {str(k): str(v) for k, v in raw.items() if not str(k).startswith("lake.")}
        return spark_conf(Profile(profile.name, props, profile.config_path, profile.base_dir), s3_io=s3_io)
    except Exception:  # any surprise in the raw text: mask instead of guessing
        return {}
