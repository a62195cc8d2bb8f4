"""Roles in Ansible's layout: tasks, handlers, defaults, vars, templates, files, meta deps."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load import argspec, imports, inputfile, yamlfile
from orchestrator.load.tasks import Block, Task, condition, literal_flag, mapping, strings, text
from orchestrator.modules.base import nearest

# Keywords of a role entry that apply to every task and handler of the role (and of its
# dependencies), as Ansible's play keyword table lists them for a role; a task's own wins.
TASK_KEYWORDS = ("become", "become_user", "ignore_errors", "check_mode")
FILE_KEYS = ("tasks_from", "vars_from", "defaults_from", "handlers_from")
# Ansible's other role keywords: orc does not implement them, so they are refused rather than
# taken as role variables (https://docs.ansible.com/ansible/latest/reference_appendices/
# playbooks_keywords.html#role).
UNSUPPORTED_KEYWORDS = frozenset({
    "any_errors_fatal", "become_exe", "become_flags", "become_method", "collections",
    "connection", "debugger", "delegate_facts", "delegate_to", "diff", "environment",
    "ignore_unreachable", "module_defaults", "no_log", "port", "remote_user", "run_once",
    "throttle", "timeout",
})


@dataclass(frozen=True)
class RoleRef:
    """A role as a play (or a role's meta) names it: its parameters (role variables) and the
    keywords that apply to its tasks (`tags`, `when`, and `TASK_KEYWORDS` in `keywords`)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    when: Any = None
    keywords: dict[str, Any] = field(default_factory=dict)
    # import_role's tasks_from, vars_from, defaults_from, handlers_from (unset: main)
    files: dict[str, str] = field(default_factory=dict)
    # import_role's / include_role's rolespec_validate: check meta/argument_specs (argspec.py)
    rolespec_validate: bool = True

    def file(self, key: str) -> str:
        return self.files.get(key) or "main"


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
    """A role entry: a name, or a mapping of `role:` (or `name:`), Ansible's role keywords and
    role parameters (any other key, a variable of the role's tasks)."""
    if isinstance(raw, str):
        return RoleRef(raw)
    if isinstance(raw, dict):
        name = raw.get("role") or raw.get("name")
        if not isinstance(name, str):
            raise InputError("a role entry needs `role: NAME`", **where)
        for key in raw:
            if key in UNSUPPORTED_KEYWORDS:
                raise InputError(f"role entry keyword {key!r} is not supported by orc (Ansible "
                                 "applies it to the role's tasks; it is not a role variable)",
                                 **{**where, "line": raw.line_of(key)}
                                 if hasattr(raw, "line_of") else where)
        params = mapping(raw, "vars", where)
        params.update({k: v for k, v in raw.items()
                       if k not in ("role", "name", "vars", "tags", "when", *TASK_KEYWORDS)})
        keywords = {k: literal_flag(raw, k, where) for k in ("become", "ignore_errors",
                                                            "check_mode") if k in raw}
        if "become_user" in raw:
            keywords["become_user"] = text(raw, "become_user", "a user name", where)
        return RoleRef(name, params, frozenset(strings(raw, "tags", where)),
                       condition(raw, "when", where), keywords)
    raise InputError("a role entry must be a name or a mapping with `role:`", **where)


def with_keywords(task: Any, keywords: dict[str, Any]) -> Any:
    """A role's task under its role entry's keywords: each one the task does not set itself
    (in a block, each task inside)."""
    if isinstance(task, Block):
        return replace(task, **{key: tuple(with_keywords(t, keywords) for t in getattr(task, key))
                                for key in ("block", "rescue", "always")})
    unset = {k: v for k, v in keywords.items()
             if getattr(task, k) is None or (k == "ignore_errors" and task.ignore_errors is False)}
    return replace(task, **unset) if unset else task


def _role_file(role: Path, ref: RoleRef, section: str, key: str, where: dict) -> Path | None:
    """The file of a role's section a reference names (`tasks_from: setup` is
    tasks/setup.yml); main may be absent, a file named otherwise must be there."""
    name = ref.file(key)
    directory = role / section
    found = yamlfile.find(directory, name)
    if found is None and name != "main" and inputfile.exists(directory / name):
        found = directory / name
    if found is None and name != "main":
        raise InputError(f"role {ref.name!r} has no {section} file {name!r} ({key}; looked "
                         f"in {directory})", **where)
    return found


def load_role(ref: RoleRef, search: list[Path], where: dict,
              loading: imports.Loading | None = None) -> Role:
    """A role's files as `ref` names them; its task files with their imports expanded."""
    loading = loading or imports.Loading(list(search), Path.cwd())
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
    tasks_file = _role_file(path, ref, "tasks", "tasks_from", where)
    handlers_file = _role_file(path, ref, "handlers", "handlers_from", where)
    meta_file = yamlfile.find(path / "meta", "main")
    deps: list[RoleRef] = []
    if meta_file is not None:
        meta = yamlfile.load(meta_file) or {}
        for dep in (meta.get("dependencies") or []) if isinstance(meta, dict) else []:
            deps.append(parse_ref(dep, yamlfile.where(dep) or {"path": str(meta_file)}))
    tasks = imports.load_file(tasks_file, imports.Place(tasks_file, ref.name, path), loading,
                              imports.Parent(tags=loading.tags)) if tasks_file else []
    if ref.rolespec_validate:
        tasks = _validation(ref, path, loading) + tasks
    return Role(
        name=ref.name,
        path=path,
        tasks=tasks,
        handlers=imports.load_file(handlers_file, imports.Place(
            handlers_file, ref.name, path, "handlers"), loading) if handlers_file else [],
        defaults=yamlfile.load_mapping(_role_file(path, ref, "defaults", "defaults_from",
                                                  where)),
        vars=yamlfile.load_mapping(_role_file(path, ref, "vars", "vars_from", where)),
        dependencies=deps,
        deploys=load_deploys(path / "deploy.py", ref.name),
    )


def _validation(ref: RoleRef, path: Path, loading: imports.Loading) -> list[Task]:
    """The task Ansible puts first in a role whose entry point has an argument spec: it checks
    the variables the role sees against it (orchestrator/load/argspec.py), whatever tags select."""
    entry = ref.file("tasks_from")
    spec = argspec.load(path, entry)
    if spec is None:
        return []
    spec_file = yamlfile.find(path / "meta", "argument_specs") or yamlfile.find(path / "meta",
                                                                                "main")
    raw = {"name": argspec.task_name(entry, spec), "tags": ["always"],
           "validate_argument_spec": {"argument_spec": {
               key: spec[key] for key in ("options", "mutually_exclusive",
                                          "required_together", "required_one_of")
               if key in spec}}}
    assert spec_file is not None
    return imports.load_tasks([raw], imports.Place(spec_file, ref.name, path), loading,
                              imports.Parent(tags=loading.tags))


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


def expand(refs: list[RoleRef], search: list[Path], where: dict,
           loading: imports.Loading | None = None) -> list[tuple[RoleRef, Role]]:
    """Roles in run order: each role's dependencies first, each role once (as Ansible does
    for roles with the same parameters). `loading` collects the roles their tasks import."""
    ordered: list[tuple[RoleRef, Role]] = []
    seen: set[tuple[str, str]] = set()
    stack: list[str] = []

    def visit(ref: RoleRef, inherited: dict[str, Any]) -> None:
        if ref.name in stack:
            raise InputError(f"role dependency cycle: {' -> '.join(stack + [ref.name])}", **where)
        keywords = {**inherited, **ref.keywords}
        key = (ref.name, repr(sorted(ref.params.items())), repr(sorted(keywords.items())),
               repr(sorted(ref.files.items())))
        if key in seen:
            return
        role = load_role(ref, search, where, loading)
        stack.append(ref.name)
        for dep in role.dependencies:
            visit(dep, keywords)  # a dependency runs under its parent's keywords
        stack.pop()
        seen.add(key)
        if keywords:
            role.tasks = [with_keywords(t, keywords) for t in role.tasks]
            role.handlers = [with_keywords(h, keywords) for h in role.handlers]
        ordered.append((ref, role))

    for ref in refs:
        visit(ref, {})
    return ordered
