"""The table of task modules: Ansible's builtin names, and `pyinfra.<module>.<op>` for the rest."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from orchestrator.errors import InputError
from orchestrator.modules import (commands, control, files, includes, mount, packages, pamd,
                                   repositories, system, unarchive)
from orchestrator.modules.base import REQUIRED, HostContext, Module, OpCall, nearest

BUILTIN: dict[str, Module] = {
    module.name: module
    for table in (files.MODULES, packages.MODULES, repositories.MODULES, system.MODULES,
                  commands.MODULES, control.MODULES, includes.MODULES, [mount.SHORT],
                  [unarchive.MODULE])
    for module in table
}
# modules of other collections, under their full names (`community.general.pamd`)
COLLECTIONS: dict[str, Module] = {module.name: module for module in (pamd.MODULE,
                                                                     mount.MODULE)}
# the short names ansible-core routes to a collection's module (its ansible_builtin_runtime.yml:
# `sysctl` is ansible.posix.sysctl): both names reach the same module
ROUTED = {"sysctl": "ansible.posix.sysctl", "timezone": "community.general.timezone",
          "pamd": "community.general.pamd", "mount": "ansible.posix.mount"}
for _short, _full in ROUTED.items():
    BUILTIN.setdefault(_short, COLLECTIONS.get(_full))
    COLLECTIONS.setdefault(_full, BUILTIN[_short])


def names() -> list[str]:
    return sorted(BUILTIN) + sorted(COLLECTIONS)


def is_module_key(key: str) -> bool:
    return key in BUILTIN or key in COLLECTIONS or key.startswith(("ansible.builtin.",
                                                                   "pyinfra."))


def lookup(key: str, where: dict) -> Module:
    """The module a task key names; an unknown name says which valid one is nearest."""
    name = key.removeprefix("ansible.builtin.").removeprefix("ansible.legacy.")
    if name in BUILTIN:
        return BUILTIN[name]
    if key in COLLECTIONS:
        return COLLECTIONS[key]
    if key.startswith("pyinfra."):
        return _pyinfra_passthrough(key, where)
    raise InputError(f"unknown module {key!r}{nearest(name, names())}", **where)


def _pyinfra_passthrough(key: str, where: dict) -> Module:
    """`pyinfra.files.put: {...}` calls that operation with exactly those arguments."""
    parts = key.split(".")
    if len(parts) != 3:
        raise InputError(f"{key!r}: expected pyinfra.<module>.<operation>", **where)
    _, module_name, op_name = parts
    try:
        op_module = importlib.import_module(f"pyinfra.operations.{module_name}")
    except ImportError:
        raise InputError(f"pyinfra has no operations module {module_name!r}", **where) from None
    op = getattr(op_module, op_name, None)
    if op is None or not hasattr(op, "_inner"):
        ops = [n for n, v in vars(op_module).items() if hasattr(v, "_inner")]
        raise InputError(
            f"pyinfra.{module_name} has no operation {op_name!r}{nearest(op_name, ops)}", **where
        )
    params = inspect.signature(op._inner).parameters
    args = {
        name: (REQUIRED if p.default is inspect.Parameter.empty else p.default)
        for name, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }

    def build(values: dict[str, Any], ctx: HostContext) -> list[OpCall]:
        return [OpCall(op, dict(values))]

    types = {name: _pyinfra_type(p) for name, p in params.items() if name in args}
    return Module(key, args, build, types=types)


_ANNOTATED = {"int": "int", "bool": "bool", "float": "float", "str": "str", "list[str]": "list"}


def _pyinfra_type(param: inspect.Parameter) -> str:
    """An operation argument's type for conversion (coerce.KINDS), from its annotation when it
    names exactly one simple type (`int | None` is int), else from its default (`present=True`
    is a bool); anything else is taken as it comes."""
    annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        annotation = None
    elif isinstance(annotation, type):
        annotation = annotation.__name__
    if isinstance(annotation, str):
        parts = [p.strip() for p in annotation.split("|") if p.strip() != "None"]
        if len(parts) == 1 and parts[0] in _ANNOTATED:
            return _ANNOTATED[parts[0]]
        return "raw"
    default = param.default
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    return "raw"


__all__ = ["BUILTIN", "HostContext", "Module", "OpCall", "is_module_key", "lookup", "names"]
