"""YAML for playbooks and roles, with the line of every mapping kept for error messages.

Playbooks are small, so every mapping remembers where it started and where each key is; an
unknown module or a bad argument can then be reported as `roles/web/tasks/main.yaml:12`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import InputError


class Located(dict):
    """A mapping that knows its file and line, and the line of each of its keys."""

    path: str = ""
    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    path = ""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    loader.flatten_mapping(node)
    mapping = Located()
    mapping.path = loader.path
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise InputError(
                "a mapping key must be a plain value", path=loader.path,
                line=key_node.start_mark.line + 1,
            ) from None
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load(path: Path | str) -> Any:
    """Load one YAML file; a syntax error becomes one line with the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    loader = _Loader(text)
    loader.path = str(path)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        message = f"invalid YAML: {err.problem or err.context}"
        raise InputError(message, path=path, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as err:
        raise InputError(f"invalid YAML: {err}", path=path) from None
    finally:
        loader.dispose()


def load_mapping(path: Path | None) -> dict[str, Any]:
    """A file of variables: a mapping, or nothing at all (empty file, or no file)."""
    if path is None:
        return {}
    data = load(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("expected a mapping of variables", path=path, line=1)
    return dict(data)


def find(directory: Path, stem: str) -> Path | None:
    """`stem.yaml` or `stem.yml` (Ansible accepts both), or None."""
    for suffix in (".yaml", ".yml"):
        candidate = directory / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def where(value: Any) -> dict:
    """`path=` and `line=` keywords for an error about a loaded mapping."""
    if isinstance(value, Located):
        return {"path": value.path, "line": value.line}
    return {}
