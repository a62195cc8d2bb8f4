"""`group_vars/` and `host_vars/` beside an inventory source, found as Ansible finds them.

For a name, the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists is used; when
it is a directory, every file in it (sorted, recursing into subdirectories without an extension,
skipping hidden and `~` backup files) is merged in order. Empty files add nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from orchestrator.errors import InventoryError
from orchestrator.inventory.yaml_loading import load_data_file

EXTENSIONS = (".yml", ".yaml", ".json")


def _files_in(directory: str) -> list[str]:
    found: list[str] = []
    for entry in sorted(os.listdir(directory)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        extension = os.path.splitext(entry)[1]
        path = os.path.join(directory, entry)
        if os.path.isdir(path) and not extension:
            found.extend(_files_in(path))
        # not only regular files: a FIFO or a dangling link is refused when read, not skipped
        elif not os.path.isdir(path) and (not extension or extension in EXTENSIONS):
            found.append(path)
    return found


def find_vars_files(directory: str, name: str) -> list[str]:
    """The files holding `name`'s variables under `directory`, in merge order."""
    base = os.path.join(directory, name)
    for candidate in (base, *(base + ext for ext in EXTENSIONS)):
        if os.path.exists(candidate):
            return _files_in(candidate) if os.path.isdir(candidate) else [candidate]
    return []


class VarsDirectory:
    """The group_vars/host_vars of one base directory, each file read at most once."""

    def __init__(self, basedir: str):
        # Ansible resolves symlinks in the base directory, not in the source path itself
        self.basedir = os.path.realpath(basedir)
        self._dirs = {
            kind: path
            for kind in ("group_vars", "host_vars")
            if os.path.isdir(path := os.path.join(self.basedir, kind))
        }
        self._loaded: dict[str, dict[str, Any]] = {}

    def group(self, name: str) -> dict[str, Any]:
        return self._vars("group_vars", name)

    def host(self, name: str) -> dict[str, Any]:
        return self._vars("host_vars", name)

    def _vars(self, kind: str, name: str) -> dict[str, Any]:
        directory = self._dirs.get(kind)
        if directory is None or name.startswith(os.sep):
            return {}
        merged: dict[str, Any] = {}
        for path in find_vars_files(directory, name):
            merged |= self._load(path)
        return merged

    def _load(self, path: str) -> dict[str, Any]:
        if path not in self._loaded:
            data = load_data_file(Path(path))
            if data is not None and not isinstance(data, dict):
                raise InventoryError(
                    f"expected a mapping of variables, got a {type(data).__name__}",
                    path=path, line=1,
                )
            self._loaded[path] = data or {}
        return self._loaded[path]
