"""`dbt_project.yml`: where a dbt project keeps its models, seeds and macros, its `vars:`, and the
`models:` config blocks that apply `+materialized`, `+schema`, `+tags` ... per folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakehouse.core.textfiles import read_text_file
from lakehouse.elt.render import ModelError

PROJECT_FILE = "dbt_project.yml"


@dataclass(frozen=True)
class DbtProject:
    root: Path
    name: str
    model_paths: tuple[str, ...] = ("models",)
    seed_paths: tuple[str, ...] = ("seeds",)
    macro_paths: tuple[str, ...] = ("macros",)
    analysis_paths: tuple[str, ...] = ("analyses",)
    vars: Mapping[str, Any] = field(default_factory=dict)
    models: Mapping[str, Any] = field(default_factory=dict)  # the `models:` block

    def folder_config(self, folders: tuple[str, ...], model: str) -> dict[str, Any]:
        """The `models:` settings for a model in `folders` (relative to its model path): the project's
        block, then each folder's, then the model's own, the nearer winning as in dbt."""
        out: dict[str, Any] = {}
        block: Any = self.models.get(self.name, {})
        for part in ("", *folders, model):
            if part:
                block = block.get(part) if isinstance(block, dict) else None
            if not isinstance(block, dict):
                break
            out |= {k[1:]: v for k, v in block.items() if k.startswith("+")}
        return out


def _paths(data: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = data.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelError(f"{PROJECT_FILE}: {key} must be a list of folders")
    return tuple(value)


def load_dbt_project(root: Path) -> DbtProject | None:
    """The project's dbt_project.yml, if it has one."""
    path = root / PROJECT_FILE
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(read_text_file(path, PROJECT_FILE)) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not data.get("name"):
        raise ModelError(f"{path}: a dbt project needs a `name:`")
    variables = data.get("vars") or {}
    models = data.get("models") or {}
    if not isinstance(variables, dict) or not isinstance(models, dict):
        raise ModelError(f"{path}: `vars:` and `models:` must be mappings")
    return DbtProject(
        root=root,
        name=str(data["name"]),
        model_paths=_paths(data, "model-paths", ("models",)),
        seed_paths=_paths(data, "seed-paths", ("seeds",)),
        macro_paths=_paths(data, "macro-paths", ("macros",)),
        analysis_paths=_paths(data, "analysis-paths", ("analyses",)),
        vars=variables,
        models=models,
    )
