"""Every file of a project, classified: a model, a macro file, YAML, docs, or ignored with the reason.
No `.sql` file is skipped silently.

With a `dbt_project.yml`, models live under its `model-paths` at any depth and macros under its
`macro-paths`; without one, the project folder itself (lake's `sql/<layer>/<name>.sql`) is the model
path. Either way a `.sql` file holding only `{% macro %}` blocks is a macro file, wherever it is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.core.textfiles import read_text_file
from lakehouse.elt.dbtproject import DbtProject

_MACRO = re.compile(r"{%-?\s*macro\b.*?{%-?\s*endmacro\s*-?%}", re.S)
_COMMENT = re.compile(r"{#.*?#}", re.S)
_BLOCK = re.compile(r"{%-?\s*(snapshot|test|materialization)\b")


@dataclass(frozen=True)
class ModelFile:
    path: Path
    folders: tuple[str, ...]  # the folders between its model path and the file
    template: str


@dataclass
class ProjectFiles:
    models: list[ModelFile] = field(default_factory=list)
    macros: list[tuple[Path, str]] = field(default_factory=list)
    yaml: list[Path] = field(default_factory=list)
    docs: list[Path] = field(default_factory=list)
    ignored: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)


def is_macro_file(text: str) -> bool:
    return bool(_MACRO.search(text)) and not _COMMENT.sub("", _MACRO.sub("", text)).strip()


def _walk(folder: Path) -> list[Path]:
    """Files under `folder`, sorted, outside hidden folders."""
    found = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found += [Path(current) / f for f in sorted(files) if not f.startswith(".")]
    return found


def find_files(root: Path, dbt: DbtProject | None) -> ProjectFiles:
    out = ProjectFiles()
    model_dirs = [root / p for p in dbt.model_paths] if dbt else [root]
    seen: set[Path] = set()
    for folder in [root / p for p in dbt.macro_paths] if dbt else []:
        for path in _walk(folder):
            seen.add(path)
            if path.suffix == ".sql":
                out.macros.append((path, read_text_file(path, "macro file")))
            elif path.suffix in (".yml", ".yaml"):
                out.yaml.append(path)
    for folder in [root / p for p in dbt.analysis_paths] if dbt else []:
        for path in _walk(folder):
            seen.add(path)
            if path.suffix == ".sql":
                out.ignored.append((path, "an analysis: dbt compiles it, nothing builds it"))
    for base in model_dirs:
        for path in _walk(base):
            if path in seen:
                continue
            seen.add(path)
            _classify(path, base, out)
    if dbt is None and (root / "sources.yml").is_file() and root / "sources.yml" not in out.yaml:
        out.yaml.append(root / "sources.yml")
    return out


def _classify(path: Path, base: Path, out: ProjectFiles) -> None:
    if path.suffix in (".yml", ".yaml"):
        out.yaml.append(path)
    elif path.suffix == ".md":
        out.docs.append(path)
    elif path.suffix == ".py":
        out.ignored.append((path, "a Python model: lake builds SQL models only"))
    elif path.suffix == ".sql":
        text = read_text_file(path, "model file")
        block = _BLOCK.search(_COMMENT.sub("", text))
        if is_macro_file(text):
            out.macros.append((path, text))
        elif block:
            out.ignored.append((path, f"a dbt {block.group(1)} block, which lake does not run"))
        else:
            folders = path.relative_to(base).parts[:-1]
            out.models.append(ModelFile(path, folders, text))
