"""`lake spark-conf`: the Spark settings that open a profile's catalog, to paste into spark-submit or a notebook."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.candidates import complete_profiles
from lakehouse.cli.options import output_option, pass_ctx

if TYPE_CHECKING:
    from lakehouse.cli.output import Output

FORMATS = ("conf", "properties", "json", "pyspark")


@cli.command("spark-conf")
@click.option(
    "--profile", "profile_name", shell_complete=complete_profiles, help="Profile (default: lake's)."
)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="conf", show_default=True,
    help="spark-submit --conf lines, a spark-defaults.conf file, JSON, or a PySpark builder.",
)  # fmt: skip
@click.option(
    "--s3", "s3_io", type=click.Choice(["s3fileio", "s3a"]), default="s3fileio", show_default=True,
    help="S3 through Iceberg's S3FileIO (iceberg-aws-bundle) or Hadoop's S3A (hadoop-aws).",
)  # fmt: skip
@click.option("--local", is_flag=True, help="Use this machine's `make spark` jars instead of Maven packages.")
@click.option("--show-secrets", is_flag=True, help="Print credentials as they are (default: ${VAR} or ***).")
@output_option("Print JSON (same as --format json).")
@pass_ctx
def spark_conf(
    ctx: Context, profile_name: str | None, fmt: str, s3_io: str, local: bool, show_secrets: bool, out: Output
) -> None:
    """Print the Spark settings that open PROFILE's catalog: the same tables, no migration.

    The Spark catalog is named like the profile. A SQL catalog (SQLite, PostgreSQL) becomes Iceberg's
    JdbcCatalog with jdbc.schema-version=V1; a REST catalog becomes RESTCatalog; S3 keys go to
    S3FileIO (or Hadoop S3A with --s3 s3a). spark.jars.packages names the Maven packages needed;
    --local puts this machine's `make spark` jars there instead. Credentials are printed as the
    ${VAR} the profile takes them from, else masked as ***, unless --show-secrets.

    \b
    Examples:
      lake spark-conf
      eval "spark-submit $(lake spark-conf --profile team) job.py"   # ${VAR}s expand here
      lake spark-conf --format pyspark
      lake spark-conf --format properties > spark-defaults.conf
      lake spark-conf --local --json
    """
    from lakehouse.cli.options import output_for
    from lakehouse.core.config import load_profile
    from lakehouse.io.spark.conf import shown_conf, spark_packages

    profile = load_profile(profile_name or ctx.profile_name, ctx.config)
    if local:
        from lakehouse.io.spark.conf import env_conf
        from lakehouse.io.spark.env import find_spark_env

        extra = env_conf(find_spark_env(profile.base_dir))
    else:
        extra = {"spark.jars.packages": ",".join(spark_packages(profile, s3_io=s3_io))}  # type: ignore[arg-type]
    shown = shown_conf(profile, show_secrets=show_secrets, s3_io=s3_io, extra=extra)  # type: ignore[arg-type]
    if fmt == "json":
        out = output_for(True)
    out.spark_conf(shown, fmt)
