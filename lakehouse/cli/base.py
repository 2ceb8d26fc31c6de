"""The `lake` command group, its shared context and error handling. Commands live in sibling modules."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from lakehouse.cli.candidates import complete_profiles

if TYPE_CHECKING:
    from lakehouse.core.config import Profile
    from lakehouse.lake import Lakehouse


@dataclass
class Context:
    """What every command gets: the chosen profile, lazily opened."""

    profile_name: str | None
    config: str | None
    debug: bool
    _lake: Any = field(default=None, repr=False)

    def secrets(self) -> list[str]:
        """The opened profile's credential values, to mask; none before a profile is opened."""
        return self._lake.profile.secrets() if self._lake is not None else []

    def unreachable(self) -> str | None:
        """Which server of the opened profile does not answer (None: all do, or none opened yet)."""
        from lakehouse.dev.reach import unreachable

        return unreachable(self._lake.profile) if self._lake is not None else None

    @property
    def profile(self) -> Profile:
        return self.lake.profile

    @property
    def lake(self) -> Lakehouse:
        if self._lake is None:
            from lakehouse.lake import connect
            from lakehouse.read.files import default_cache_dir

            # File plans outlive the process: the next command plans without reading manifests.
            self._lake = connect(self.profile_name, self.config, plan_cache=default_cache_dir())
        return self._lake


class LakeGroup(click.Group):
    """Turns every library error into one line `Error: ...` and exit code 1 (tracebacks with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        import warnings

        from lakehouse.errors import LakehouseError, LakehouseWarning

        def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, LakehouseWarning):  # ours: one line, masked, like an error
                click.echo(
                    f"Warning: {_redact(ctx.find_object(Context), ' '.join(str(message).split()))}", err=True
                )
            else:
                original(message, category, *args, **kwargs)

        original, warnings.showwarning = warnings.showwarning, show
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's flush at exit
            return result
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            _interrupted()
        except Exception as exc:
            if _caused_by(exc, _is_broken_pipe):  # `lake query ... | head` closed the pipe: not an error
                _quiet_exit()
            if _caused_by(exc, _is_interrupt):  # DuckDB turned Ctrl-C into an exception
                _interrupted()
            if isinstance(exc, LakehouseError):
                _fail(ctx, str(exc), exc)
            # a bug or an unexpected dependency error: still one line, no secrets
            _fail(
                ctx,
                f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                exc,
            )
        finally:
            warnings.showwarning = original


def _interrupted() -> None:
    """Ctrl-C: one line saying what was committed, exit code 130 (128 + SIGINT) as shells expect."""
    click.echo(_interrupted_line(), err=True)
    sys.exit(130)


def _interrupted_line() -> str:
    from lakehouse.core.hooks import commits

    done = commits()
    return f"interrupted; committed {', '.join(done)}" if done else "interrupted; nothing was committed"


def _stuck() -> None:
    """Ctrl-C did not unwind the command within the grace period (a DuckDB stream that ignores its
    interrupt): end the process the same way, from the watcher thread. A commit is one catalog
    transaction, so nothing is left half-committed; written files are orphans `lake gc` removes."""
    import os

    with contextlib.suppress(Exception):
        sys.stderr.write(_interrupted_line() + "\n")
        sys.stderr.flush()
    os._exit(130)


def _quiet_exit() -> None:
    """The reader of stdout went away: stop quietly with exit 0, as Python's SIGPIPE recipe does
    (stdout pointed at /dev/null, so the interpreter's last flush cannot fail again)."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def _is_broken_pipe(exc: BaseException) -> bool:
    import errno

    return isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)


def _is_interrupt(exc: BaseException) -> bool:
    """DuckDB's InterruptException, or the RuntimeError its Arrow stream raises when interrupted."""
    name = type(exc).__name__
    return name == "InterruptException" or (
        isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower()
    )


def _caused_by(exc: BaseException, test: Callable[[BaseException], bool]) -> bool:
    """`test` holds for `exc` or an exception it was raised from or during (a wrapper keeps the cause)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if test(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _fail(ctx: click.Context, message: str, exc: BaseException) -> None:
    """The one way a command fails: `Error: ...` on one line, credentials masked, exit code 1."""
    obj = ctx.find_object(Context)
    if obj is not None and obj.debug:
        click.echo(_redact(obj, "".join(traceback.format_exception(exc))), err=True)
    if obj is not None:  # a server of the profile that does not answer is named, not a raw OSError
        message = obj.unreachable() or message
    click.echo(f"Error: {_redact(obj, ' '.join(message.split()))}", err=True)
    sys.exit(1)


def redact(text: str) -> str:
    """`text` with URI passwords and the profile's credentials masked: for every library message the
    CLI shows, the error line and the errors a run, a check or a provenance node reports alike."""
    ctx = click.get_current_context(silent=True)
    return _redact(ctx.find_object(Context) if ctx is not None else None, text)


def _redact(obj: Context | None, text: str) -> str:
    """Mask URI passwords and any credential value of the profile that slipped into a message or traceback."""
    from lakehouse.core.config import mask_secrets, redact_uri

    text = redact_uri(text)
    return mask_secrets(text, obj.secrets()) if obj is not None else text


@click.group(
    cls=LakeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--profile",
    envvar="LAKE_PROFILE",
    help="Catalog profile from catalog/lake.yaml (env: LAKE_PROFILE).",
    shell_complete=complete_profiles,
)
@click.option(
    "--config", envvar="LAKE_CONFIG", type=click.Path(dir_okay=False), help="Config file (env: LAKE_CONFIG)."
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="lakehouse", prog_name="lake")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, config: str | None, debug: bool) -> None:
    """lake: Iceberg tables on S3, queried and transformed with DuckDB SQL.

    \b
    Examples:
      lake ingest bronze.events data/events/ --create --partition-by "day(ts)"
      lake query "SELECT country, count(*) FROM bronze.events GROUP BY 1"
      lake describe bronze.events --json
    """
    from lakehouse.core import interrupts

    interrupts.install(stuck=_stuck)  # Ctrl-C reaches a query running inside DuckDB
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
    )
    # Wire-level loggers stay quiet even with --debug: botocore's DEBUG log prints signed request
    # headers, which carry the access key id.
    for wire in ("werkzeug", "botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(wire).setLevel(logging.WARNING if debug else logging.ERROR)
    logging.getLogger("pyiceberg").setLevel(logging.DEBUG if debug else logging.ERROR)
    ctx.obj = Context(profile, config, debug)
