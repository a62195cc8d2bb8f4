"""Executable inventories: a program run with `--list` that prints Ansible's inventory JSON.

The JSON is `{group: {hosts: [...], vars: {...}, children: [...]}, ..., "_meta": {"hostvars":
{host: {...}}}}`. Without `_meta.hostvars` the program is asked once per host with `--host NAME`,
the protocol's older form. A program that fails, or prints anything but that JSON, is an error
naming it: a half-read inventory must never become a smaller rollout.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from orchestrator.errors import InventoryError
from orchestrator.inventory.building import InventoryBuilder
from orchestrator.inventory.values import decode_marked


def _kind(value: Any) -> str:
    return type(value).__name__


def run_inventory_program(path: Path, *args: str) -> Any:
    """Run the program and return its decoded JSON output."""
    try:
        done = subprocess.run([str(path), *args], capture_output=True, check=False)
    except OSError as err:
        raise InventoryError(f"cannot run dynamic inventory: {err.strerror}", path=path) from None
    stderr = done.stderr.decode(errors="replace").strip()
    last_words = f": {stderr.splitlines()[-1]}" if stderr else ""
    if done.returncode != 0:
        raise InventoryError(
            f"dynamic inventory {' '.join(args)} exited with status {done.returncode}{last_words}",
            path=path,
        )
    try:
        return json.loads(done.stdout.decode(), object_hook=decode_marked)
    except UnicodeDecodeError:
        raise InventoryError(f"dynamic inventory {' '.join(args)} printed non-UTF-8 output",
                             path=path) from None
    except json.JSONDecodeError as err:
        raise InventoryError(
            f"dynamic inventory {' '.join(args)} printed no valid JSON ({err.msg} at output line "
            f"{err.lineno} column {err.colno}); expected Ansible's inventory JSON",
            path=path,
        ) from None
    except RecursionError:
        raise InventoryError(f"dynamic inventory {' '.join(args)} printed JSON nested too deeply "
                             "to read", path=path) from None


class DynamicInventory:
    """Reads the output of one inventory program into a builder."""

    def __init__(self, builder: InventoryBuilder, path: Path):
        self.builder = builder
        self.path = path
        self.hosts: dict[str, None] = {}

    def fail(self, message: str) -> InventoryError:
        return InventoryError(f"dynamic inventory --list: {message}", path=self.path)

    def read(self) -> None:
        data = run_inventory_program(self.path, "--list")
        if not isinstance(data, dict):
            raise self.fail(f"expected a JSON object of groups, got {_kind(data)}")
        meta = data.get("_meta", {})
        if not isinstance(meta, dict):
            raise self.fail(f"'_meta' must be an object, got {_kind(meta)}")
        hostvars = meta.get("hostvars")
        if "_meta" in data and not isinstance(hostvars, dict):
            raise self.fail(f"'_meta.hostvars' must be an object, got {_kind(hostvars)}")
        try:
            for name, group_data in data.items():
                if name != "_meta":
                    self.group(name, group_data)
        except InventoryError as err:
            raise self.fail(err.message) from None
        for host in self.hosts:
            if hostvars is None:
                variables = run_inventory_program(self.path, "--host", host)
            else:
                variables = hostvars.get(host, {})
            if not isinstance(variables, dict):
                raise self.fail(
                    f"variables of host {host!r} must be an object, got {_kind(variables)}"
                )
            for key, value in variables.items():
                self.builder.set_host_var(host, key, value)

    def group(self, name: str, data: Any) -> None:
        name = self.builder.add_group(name)
        if not isinstance(data, dict):
            data = {"hosts": data}  # the old short form: a group is its list of hosts
        elif not any(key in data for key in ("hosts", "vars", "children")):
            # the oldest form, still honoured by ansible-core: a group that is its own only host
            data = {"hosts": [name], "vars": data}
        hosts = data.get("hosts", [])
        if not isinstance(hosts, list):
            raise InventoryError(f"'{name}.hosts' must be a list, got {_kind(hosts)}")
        for host in hosts:
            self.hosts[self.builder.add_host(host, name)] = None
        variables = data.get("vars", {})
        if not isinstance(variables, dict):
            raise InventoryError(f"'{name}.vars' must be an object, got {_kind(variables)}")
        for key, value in variables.items():
            self.builder.set_group_var(name, key, value)
        for child in data.get("children", []):
            self.builder.add_child(name, self.builder.add_group(child))
