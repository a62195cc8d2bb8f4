"""Which reader an inventory source gets, in ansible-core's order of inventory plugins.

A comma-separated string that is not a path is a host list; an executable file is a dynamic
inventory; a file ending in .yml/.yaml/.json or with no extension is YAML if it holds a mapping
and INI otherwise; any other file is INI. A directory is read entry by entry in sorted order,
skipping hidden entries, group_vars/host_vars and backup or documentation files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from orchestrator.errors import InventoryError
from orchestrator.inventory.building import InventoryBuilder
from orchestrator.inventory.dynamic import DynamicInventory
from orchestrator.inventory.hostnames import parse_address
from orchestrator.inventory.ini_source import IniInventory
from orchestrator.inventory.yaml_loading import parse_data, read_text
from orchestrator.inventory.yaml_source import YamlInventory

YAML_EXTENSIONS = ("", ".yml", ".yaml", ".json")
_IGNORED_EXTENSIONS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst",
                       ".orig", ".cfg", ".retry")
_IGNORED = re.compile(
    "|".join([r"^\.", "^host_vars$", "^group_vars$", "^vars_plugins$"]
             + [re.escape(ext) + "$" for ext in _IGNORED_EXTENSIONS])
)


def normalize_source(source: str) -> str:
    """A source as ansible-core keeps it: host lists as given, paths absolute, links kept."""
    if "," in source:
        return source
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.path.expandvars(source))))


def read_source(builder: InventoryBuilder, source: str) -> None:
    if os.path.isdir(source):
        for entry in sorted(os.listdir(source)):
            if not _IGNORED.search(entry):
                read_source(builder, os.path.join(source, entry))
        return
    if "," in source and not os.path.exists(source):
        read_host_list(builder, source)
        return
    path = Path(source)
    if not path.exists():
        raise InventoryError("no such inventory file or directory", path=path)
    if os.access(path, os.X_OK):
        DynamicInventory(builder, path).read()
    elif path.suffix == ".toml":
        raise InventoryError("TOML inventories are not supported; use YAML or INI", path=path)
    elif path.suffix in YAML_EXTENSIONS:
        read_yaml_or_ini(builder, path)
    else:
        IniInventory(builder, path).read(read_text(path))


def read_yaml_or_ini(builder: InventoryBuilder, path: Path) -> None:
    """YAML when the file holds a mapping; otherwise INI, as ansible-core falls back to it."""
    text = read_text(path)
    try:
        data = parse_data(text, path)
    except InventoryError:
        # a YAML syntax error in an extensionless file that reads like INI is just INI
        if path.suffix or not _looks_like_ini(text):
            raise
        IniInventory(builder, path).read(text)
        return
    if isinstance(data, dict):
        YamlInventory(builder, path, text).read(data)
    elif data is not None:  # None: empty or only comments, nothing to read either way
        try:
            IniInventory(builder, path).read(text)
        except InventoryError:
            if not path.suffix:
                raise
            raise InventoryError(
                f"expected a YAML inventory (a mapping such as `all:`), got a "
                f"{type(data).__name__}", path=path, line=1,
            ) from None


def _looks_like_ini(text: str) -> bool:
    for line in text.splitlines():
        line = line.strip()
        if line and line[0] not in "#;":
            return not (line.endswith(":") or line.startswith("---"))
    return True


def read_host_list(builder: InventoryBuilder, source: str) -> None:
    """`-i 'web1,web2:2222,'`: ungrouped hosts, with an optional port each."""
    for entry in source.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            host, port = parse_address(entry)
        except ValueError:
            host, port = entry, None
        if host not in builder.hosts:
            builder.add_host(host, "ungrouped", port)
