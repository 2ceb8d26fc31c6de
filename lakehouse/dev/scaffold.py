"""`lake init`: a new project, as `dbt init` makes one. Writes the catalog profiles, a model project
with one source and one model, a sample feed, `.gitignore` and a README; never overwrites a file.

The `local` and `dev` profiles are exactly what the built-in default (`core.config.default_profile`)
and `lake dev up` use, so a project starts where a command without a config would, and `lake dev up`
works in it at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.core.project import CONFIG_RELPATH, LAKE_DIR, enclosing_root
from lakehouse.errors import ConfigError

LAKE_YAML = """\
# Catalog profiles for `lake`, written by `lake init`. Each profile is a pyiceberg catalog definition
# with pyiceberg's own property names; `lake.*` keys are lake's own settings. Relative paths are
# relative to the project root (the directory holding catalog/). ${VAR} and ${VAR:-default} take
# values from the environment. `lake info` shows which profile a command here uses.
default: local

profiles:
  # SQLite catalog and local files under .lake/ (git-ignored). No server needed.
  local:
    type: sql
    uri: sqlite:///.lake/catalog.db
    warehouse: file://.lake/warehouse

  # Local S3: `lake dev up` starts moto's S3 server on 127.0.0.1, then `lake --profile dev ...`.
  # On another port (`lake dev up --port N`) commands here find the server by themselves.
  dev:
    type: sql
    uri: sqlite:///.lake/dev/catalog.db
    warehouse: s3://lake-dev/warehouse
    s3.endpoint: http://127.0.0.1:${LAKE_DEV_PORT:-9753}
    s3.region: us-east-1
    s3.access-key-id: dev
    s3.secret-access-key: dev

  # A team lake: PostgreSQL catalog and real S3. Credentials come from the environment or boto3's
  # chain (AWS_PROFILE, instance roles). Uncomment and adapt:
  # team:
  #   type: postgres
  #   uri: postgresql://lake:${LAKE_PG_PASSWORD:-}@${LAKE_PG_HOST:-127.0.0.1}:5432/lake
  #   warehouse: s3://${LAKE_BUCKET:-my-lake-bucket}/warehouse
  #   s3.region: ${AWS_REGION:-us-east-1}

  # An Iceberg REST catalog (Polaris, Lakekeeper, Nessie, ...) over S3. Uncomment and adapt:
  # rest:
  #   type: rest
  #   uri: ${LAKE_REST_URI:-http://127.0.0.1:8181}
  #   credential: ${LAKE_REST_CREDENTIAL:-}
  #   warehouse: s3://${LAKE_BUCKET:-my-lake-bucket}/warehouse
  #   s3.region: ${AWS_REGION:-us-east-1}
"""

SOURCES_YML = """\
# Tables that models read but no model builds, loaded by `lake ingest`. `lake test` runs their checks.
sources:
  bronze.events:
    description: Raw events as delivered (lake ingest bronze.events data/events.jsonl --create).
    checks:
      - row_count: {min: 1}
      - not_null: event_id
"""

EVENTS_SQL = """\
{{ config(
    materialized='table',
    description='Typed events: rows without an event_id or ts dropped, re-delivered copies removed.',
    checks=[{'unique': 'event_id'}],
) }}
-- One model: `lake run` builds the table silver.events from the source bronze.events.
SELECT DISTINCT
    CAST(event_id AS VARCHAR) AS event_id,
    CAST(user_id AS BIGINT) AS user_id,
    CAST(ts AS TIMESTAMPTZ) AS ts,
    lower(event_type) AS event_type,
    CAST(amount AS DOUBLE) AS amount
FROM {{ source('bronze', 'events') }}
WHERE event_id IS NOT NULL
  AND ts IS NOT NULL
"""

SAMPLE_EVENTS = """\
{"event_id": "e1", "user_id": 1, "ts": "2026-06-01T10:00:00Z", "event_type": "view", "amount": 0.0}
{"event_id": "e2", "user_id": 1, "ts": "2026-06-01T10:05:00Z", "event_type": "purchase", "amount": 19.5}
{"event_id": "e2", "user_id": 1, "ts": "2026-06-01T10:05:00Z", "event_type": "purchase", "amount": 19.5}
{"event_id": "e3", "user_id": 2, "ts": "2026-06-02T09:00:00Z", "event_type": "CLICK", "amount": 0.0}
{"event_id": "e4", "user_id": 3, "ts": null, "event_type": "view", "amount": 0.0}
"""

README = """\
# {name}

A lake project made by `lake init`: Iceberg tables, queried and transformed with DuckDB SQL.

```sh
lake ingest bronze.events data/events.jsonl --create   # load the sample feed
lake run                                               # build silver.events from sql/
lake query "SELECT event_type, count(*) AS n FROM silver.events GROUP BY 1"
lake test                                              # the checks of sources and models
lake info                                              # which config, profile and catalog are used
```

Profiles live in `catalog/lake.yaml`: `local` (the default; files under `.lake/`) and `dev` (local
S3: `lake dev up`, then `lake --profile dev ...`, and `lake dev down`). Commands run anywhere inside
this directory use this project.
"""

GITIGNORE_LINE = f"{LAKE_DIR}/"
# The project's own files: `lake init` refuses to run if any exists. README.md and .gitignore are often
# there already (a git repository): an existing README is kept, `.lake/` is added to a .gitignore.
OWN_FILES = {
    str(CONFIG_RELPATH): LAKE_YAML,
    "sql/sources.yml": SOURCES_YML,
    "sql/silver/events.sql": EVENTS_SQL,
    "data/events.jsonl": SAMPLE_EVENTS,
}


@dataclass(frozen=True)
class InitResult:
    """What `lake init` did, paths relative to `root`."""

    root: str
    written: list[str]
    updated: list[str] = field(default_factory=list)  # .gitignore, with `.lake/` added
    kept: list[str] = field(default_factory=list)  # an existing README.md
    notes: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def init_project(directory: str | Path = ".") -> InitResult:
    """Scaffold a project in `directory` (created if missing). Raises ConfigError, having written
    nothing, if any of the project's own files exists."""
    root = Path(directory).resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"cannot create a project in {root}: it is a file")
    existing = [name for name in OWN_FILES if (root / name).exists()]
    if existing:
        raise ConfigError(
            f"{root} already holds {', '.join(existing)}; lake init writes only new files, "
            "so nothing was written (remove them or choose another directory)"
        )
    outer = enclosing_root(root)
    written: list[str] = []
    for name, text in OWN_FILES.items():
        _write_new(root / name, text)
        written.append(name)
    updated, kept = [], []
    readme = root / "README.md"
    if readme.exists():
        kept.append("README.md")
    else:
        _write_new(readme, README.format(name=root.name))
        written.append("README.md")
    match _ignore_lake(root / ".gitignore"):
        case "written":
            written.append(".gitignore")
        case "updated":
            updated.append(".gitignore")
    notes = []
    if outer is not None:
        notes.append(
            f"{root} lies inside the project {outer.path} ({outer.marker}); commands under {root} now "
            "use this new project"
        )
    here = Path.cwd().resolve()
    cd = [] if root == here else [f"cd {_shown(root, here)}"]
    steps = [
        *cd,
        "lake ingest bronze.events data/events.jsonl --create",
        "lake run",
        'lake query "SELECT * FROM silver.events"',
    ]
    return InitResult(str(root), written, updated, kept, notes, steps)


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x") as out:  # "x": never overwrite, even a file created since the check
        out.write(text)


def _ignore_lake(path: Path) -> str | None:
    """Make `.gitignore` ignore `.lake/`: "written" (new file), "updated" (line added) or None (already)."""
    if not path.exists():
        _write_new(path, f"{GITIGNORE_LINE}\n")
        return "written"
    text = path.read_text()
    if any(line.strip().strip("/") == LAKE_DIR for line in text.splitlines()):
        return None
    with path.open("a") as out:
        out.write(("" if text.endswith("\n") or not text else "\n") + f"{GITIGNORE_LINE}\n")
    return "updated"


def _shown(root: Path, here: Path) -> str:
    try:
        return str(root.relative_to(here))
    except ValueError:
        return str(root)
