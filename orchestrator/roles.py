"""Roles in Ansible's layout: tasks, handlers, defaults, vars, templates, files, meta deps."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import inputfile, yamlfile
from orchestrator.errors import InputError
from orchestrator.modules.base import nearest
from orchestrator.tasks import Task, parse_tasks


@dataclass(frozen=True)
class RoleRef:
    """A role as a play (or a role's meta) names it, with its parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    when: Any = None


@dataclass
class Role:
    name: str
    path: Path
    tasks: list[Task]
    handlers: list[Task]
    defaults: dict[str, Any]
    vars: dict[str, Any]
    dependencies: list[RoleRef]
    # pyinfra `@deploy` functions from the role's deploy.py, run after its YAML tasks
    deploys: list[Callable[..., Any]] = field(default_factory=list)

    @property
    def files_dir(self) -> Path:
        return self.path / "files"

    @property
    def templates_dir(self) -> Path:
        return self.path / "templates"


def parse_ref(raw: Any, where: dict) -> RoleRef:
    if isinstance(raw, str):
        return RoleRef(raw)
    if isinstance(raw, dict):
        name = raw.get("role") or raw.get("name")
        if not isinstance(name, str):
            raise InputError("a role entry needs `role: NAME`", **where)
        tags = raw.get("tags") or []
        params = dict(raw.get("vars") or {})
        params.update({k: v for k, v in raw.items()
                       if k not in ("role", "name", "vars", "tags", "when")})
        return RoleRef(name, params, frozenset([tags] if isinstance(tags, str) else tags),
                       raw.get("when"))
    raise InputError("a role entry must be a name or a mapping with `role:`", **where)



def load_role(ref: RoleRef, search: list[Path], where: dict) -> Role:
    for base in search:
        path = base / ref.name
        if path.is_dir():
            break
    else:
        known = sorted({p.name for base in search if base.is_dir() for p in base.iterdir()
                        if p.is_dir()})
        raise InputError(
            f"role {ref.name!r} not found in {', '.join(map(str, search))}"
            f"{nearest(ref.name, known)}", **where)
    tasks_file = yamlfile.find(path / "tasks", "main")
    handlers_file = yamlfile.find(path / "handlers", "main")
    meta_file = yamlfile.find(path / "meta", "main")
    deps: list[RoleRef] = []
    if meta_file is not None:
        meta = yamlfile.load(meta_file) or {}
        for dep in (meta.get("dependencies") or []) if isinstance(meta, dict) else []:
            deps.append(parse_ref(dep, yamlfile.where(dep) or {"path": str(meta_file)}))
    return Role(
        name=ref.name,
        path=path,
        tasks=parse_tasks(yamlfile.load(tasks_file), path=str(tasks_file), role=ref.name)
        if tasks_file else [],
        handlers=parse_tasks(yamlfile.load(handlers_file), path=str(handlers_file),
                             role=ref.name) if handlers_file else [],
        defaults=yamlfile.load_mapping(yamlfile.find(path / "defaults", "main")),
        vars=yamlfile.load_mapping(yamlfile.find(path / "vars", "main")),
        dependencies=deps,
        deploys=load_deploys(path / "deploy.py", ref.name),
    )


def is_deploy(value: Any) -> bool:
    return callable(value) and hasattr(getattr(value, "_inner", None), "deploy_name")


def load_deploys(path: Path, role: str) -> list[Callable[..., Any]]:
    """The `@deploy` functions a Python role defines, in the order they are written."""
    if not inputfile.exists(path):
        return []
    inputfile.check(path)  # importlib reads it: a FIFO or /dev/zero must not hang the import
    spec = importlib.util.spec_from_file_location(f"orc_role_{role}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:
        line = exc.lineno if isinstance(exc, SyntaxError) else None
        raise InputError(f"cannot load: {type(exc).__name__}: {exc}", path=path,
                         line=line) from None
    found = [value for value in vars(module).values()
             if is_deploy(value) and getattr(value, "__module__", None) == module.__name__]
    found.sort(key=lambda f: inspect.getsourcelines(f._inner)[1])
    if not found:
        raise InputError("deploy.py defines no pyinfra @deploy function", path=path)
    return found


def expand(refs: list[RoleRef], search: list[Path], where: dict) -> list[tuple[RoleRef, Role]]:
    """Roles in run order: each role's dependencies first, each role once (as Ansible does
    for roles with the same parameters)."""
    ordered: list[tuple[RoleRef, Role]] = []
    seen: set[tuple[str, str]] = set()
    stack: list[str] = []

    def visit(ref: RoleRef) -> None:
        if ref.name in stack:
            raise InputError(f"role dependency cycle: {' -> '.join(stack + [ref.name])}", **where)
        key = (ref.name, repr(sorted(ref.params.items())))
        if key in seen:
            return
        role = load_role(ref, search, where)
        stack.append(ref.name)
        for dep in role.dependencies:
            visit(dep)
        stack.pop()
        seen.add(key)
        ordered.append((ref, role))

    for ref in refs:
        visit(ref)
    return ordered
