"""Tasks and handlers as loaded from YAML: one module call plus Ansible's keywords.

Everything that can be checked without a host is checked here, at load time: the module name,
its argument names, the keywords. A typo stops the run before any host is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator import modules
from orchestrator.errors import InputError
from orchestrator.modules.base import Module, nearest
from orchestrator.yamlfile import Located

KEYWORDS = {
    "name", "when", "loop", "with_items", "loop_control", "notify", "become", "become_user",
    "tags", "ignore_errors", "check_mode", "changed_when", "vars", "undo", "listen", "register",
    "args", "no_log",
}


@dataclass(frozen=True)
class Task:
    name: str
    module: Module
    args: dict[str, Any]
    path: str
    line: int
    when: Any = None
    loop: Any = None
    loop_var: str = "item"
    notify: tuple[str, ...] = ()
    listen: tuple[str, ...] = ()
    become: bool | None = None
    become_user: str | None = None
    tags: frozenset[str] = frozenset()
    ignore_errors: bool = False
    check_mode: bool | None = None
    changed_when: Any = None
    vars: dict[str, Any] = field(default_factory=dict)
    undo: str | None = None
    role: str | None = None
    no_log: Any = None  # Ansible's no_log (a bool or a template); None: the play's

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def location(self) -> dict:
        return {"path": self.path, "line": self.line}


def _strings(value: Any, what: str, where: dict) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InputError(f"{what} must be a string or a list of strings", **where)


def parse_task(raw: Any, *, path: str, role: str | None = None, extra_tags: frozenset = frozenset()
               ) -> Task:
    line = raw.line if isinstance(raw, Located) else 0
    where = {"path": path, "line": line}
    if not isinstance(raw, dict):
        raise InputError("a task must be a mapping (module: args, plus keywords)", **where)
    module_keys = [k for k in raw if k not in KEYWORDS]
    if not module_keys:
        raise InputError("task names no module: expected one of " + ", ".join(modules.names()),
                         **where)
    if len(module_keys) > 1:
        unknown = [k for k in module_keys if not modules.is_module_key(k)]
        if unknown:
            key = unknown[0]
            hint = nearest(key, sorted(KEYWORDS) + modules.names())
            raise InputError(f"unknown keyword or module {key!r}{hint}",
                             path=path, line=raw.line_of(key) if isinstance(raw, Located) else line)
        raise InputError(f"task names more than one module: {', '.join(module_keys)}", **where)
    key = module_keys[0]
    key_where = {"path": path, "line": raw.line_of(key) if isinstance(raw, Located) else line}
    module = modules.lookup(key, key_where)
    raw_args = raw[key]
    if isinstance(raw.get("args"), dict):
        raw_args = {**(raw_args if isinstance(raw_args, dict) else
                       {} if raw_args is None else {module.free_form or "_": raw_args}),
                    **raw["args"]}
    args = module.normalise(raw_args, key_where)
    loop = raw.get("loop", raw.get("with_items"))
    loop_control = raw.get("loop_control") or {}
    tags = frozenset(_strings(raw.get("tags"), "tags", where)) | extra_tags
    return Task(
        name=str(raw.get("name") or f"{module.name}"),
        module=module,
        args=args,
        path=path,
        line=line,
        when=raw.get("when"),
        loop=loop,
        loop_var=loop_control.get("loop_var", "item"),
        notify=_strings(raw.get("notify"), "notify", where),
        listen=_strings(raw.get("listen"), "listen", where),
        become=raw.get("become"),
        become_user=raw.get("become_user"),
        tags=tags,
        ignore_errors=bool(raw.get("ignore_errors", False)),
        check_mode=raw.get("check_mode"),
        changed_when=raw.get("changed_when"),
        vars=dict(raw.get("vars") or {}),
        undo=raw.get("undo"),
        role=role,
        no_log=raw.get("no_log"),
    )


def parse_tasks(raw: Any, *, path: str, role: str | None = None,
                extra_tags: frozenset = frozenset()) -> list[Task]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError("expected a list of tasks", path=path,
                         line=raw.line if isinstance(raw, Located) else None)
    return [parse_task(item, path=path, role=role, extra_tags=extra_tags) for item in raw]
