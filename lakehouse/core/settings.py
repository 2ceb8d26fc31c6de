"""Lake's own settings: the `lake.*` keys of a profile, typed and checked once, when the profile loads.

Every `lake.*` profile setting, and every table property lake reads, is checked by the readers here,
so a bad value is one `Error:` line naming the key, where it was set and the form it takes, before
anything is written. Callers read `profile.settings`, never the raw strings again.

>>> Settings.from_properties({"lake.duckdb.threads": "8"}, "profile 'x'").duckdb_threads
8
>>> Settings.from_properties({}, "profile 'x'").commit_attempts
40
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lakehouse.core.sizes import shown
from lakehouse.errors import ConfigError

THREADS = "lake.duckdb.threads"
MEMORY_LIMIT = "lake.duckdb.memory-limit"
COMMIT_ATTEMPTS = "lake.commit.attempts"
COMMIT_BASE_DELAY = "lake.commit.base-delay-ms"
COMMIT_MAX_DELAY = "lake.commit.max-delay-ms"
READ_PARQUET = "lake.read.parquet"
RUN_THREADS = "lake.run.threads"

_WHOLE = re.compile(r"^[0-9]{1,18}$")
_NUMBER = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,6})?$")
_MEMORY = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,3})?\s*([kmgt]i?b)$", re.IGNORECASE)  # DuckDB's units


@dataclass(frozen=True)
class Settings:
    """The `lake.*` settings of one profile; the defaults apply to a key the profile does not set."""

    duckdb_threads: int | None = None  # lake.duckdb.threads; None: DuckDB's own (one per core)
    duckdb_memory_limit: str | None = None  # lake.duckdb.memory-limit as DuckDB reads it; None: the engine's
    commit_attempts: int = 40  # lake.commit.attempts
    commit_base_delay_ms: float = 50.0  # lake.commit.base-delay-ms
    commit_max_delay_ms: float = 2000.0  # lake.commit.max-delay-ms
    # lake.read.parquet: read a snapshot with read_parquet where it is provably what iceberg_scan reads
    # (lakehouse/read/scan.py); false always uses iceberg_scan.
    read_parquet: bool = True
    # lake.run.threads: models `lake run` builds at once (dbt's profile `threads`); None: one per core.
    # They share the one DuckDB database of the profile, so its memory limit and threads bound them all.
    run_threads: int | None = None

    @classmethod
    def from_properties(cls, props: Mapping[str, str], where: str) -> Settings:
        """Read and check every `lake.*` key of `props`; `where` names the profile and file for errors."""
        threads = (
            whole_number(props, THREADS, 4, where, high=4096, unit=" of threads")
            if THREADS in props
            else None
        )
        memory = memory_limit(props, MEMORY_LIMIT, where)
        attempts, base_ms, max_ms = commit_settings(props, where)
        parquet = str(props.get(READ_PARQUET, "true")).strip().lower()
        if parquet not in ("true", "false"):
            raise ConfigError(f"{where}: {READ_PARQUET} must be true or false, not {props[READ_PARQUET]!r}")
        run_threads = (
            whole_number(props, RUN_THREADS, 2, where, high=256, unit=" of models")
            if RUN_THREADS in props
            else None
        )
        return cls(
            duckdb_threads=threads,
            duckdb_memory_limit=memory,
            commit_attempts=attempts,
            commit_base_delay_ms=base_ms,
            commit_max_delay_ms=max_ms,
            read_parquet=parquet == "true",
            run_threads=run_threads,
        )


# ------------------------------------------------------------------- readers of one value


def whole_number(
    props: Mapping[str, str],
    key: str,
    default: int,
    where: str,
    *,
    low: int = 1,
    high: int = 2**50,
    unit: str = "",
) -> int:
    """`props[key]` as a whole number in [low, high] (digits only, as Iceberg reads its properties)."""
    value = props.get(key)
    if value is None:
        return default
    text = str(value).strip()
    if not _WHOLE.match(text) or not low <= int(text) <= high:
        raise ConfigError(
            f"{where}: {key} must be a whole number{unit} from {low} to {high}, e.g. {max(low, default)}; "
            f"got {shown(value)}"
        )
    return int(text)


def decimal_number(
    props: Mapping[str, str], key: str, default: float, where: str, *, high: float, unit: str = ""
) -> float:
    """`props[key]` as a plain decimal number in [0, high]: no sign, exponent, `nan` or `inf`."""
    value = props.get(key)
    if value is None:
        return default
    text = str(value).strip()
    if not _NUMBER.match(text) or not math.isfinite(float(text)) or float(text) > high:
        raise ConfigError(
            f"{where}: {key} must be a number{unit} from 0 to {high:g}, e.g. {default:g}; got {shown(value)}"
        )
    return float(text)


def memory_limit(props: Mapping[str, str], key: str, where: str) -> str | None:
    """A DuckDB memory limit: a number with KB, MB, GB or TB (or KiB, MiB, GiB, TiB)."""
    value = props.get(key)
    if value is None or str(value).strip() == "":
        return None
    if not _MEMORY.match(str(value).strip()):
        raise ConfigError(
            f"{where}: {key} must be a size with KB, MB, GB or TB (or KiB..TiB), e.g. 4GB; got {shown(value)}"
        )
    return str(value).strip()


def commit_settings(
    props: Mapping[str, str], where: str, defaults: tuple[int, float, float] = (40, 50.0, 2000.0)
) -> tuple[int, float, float]:
    """(attempts, base delay ms, max delay ms) of `lake.commit.*`, of a profile or a table's properties."""
    return (
        whole_number(props, COMMIT_ATTEMPTS, defaults[0], where, high=10_000),
        decimal_number(props, COMMIT_BASE_DELAY, defaults[1], where, high=600_000, unit=" of ms"),
        decimal_number(props, COMMIT_MAX_DELAY, defaults[2], where, high=600_000, unit=" of ms"),
    )
