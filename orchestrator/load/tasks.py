"""Tasks and handlers as loaded from YAML: one module call plus Ansible's keywords.

Everything that can be checked without a host is checked here, at load time: the module name,
its argument names, the keywords. A typo stops the run before any host is touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import modules
from orchestrator.errors import InputError
from orchestrator.load import coerce, kvargs
from orchestrator.load.loops import Loop, is_loop_key, parse_loop
from orchestrator.load.yamlfile import Located
from orchestrator.modules.base import Module, nearest
from orchestrator.templating.render import Variables, is_template, render_value

KEYWORDS = {
    "name", "when", "loop", "with_items", "loop_control", "notify", "become", "become_user",
    "tags", "ignore_errors", "check_mode", "changed_when", "vars", "undo", "listen", "register",
    "args", "no_log", "failed_when", "until", "retries", "delay", "environment",
}
# what a block takes: its sections, and keywords its tasks inherit
BLOCK_KEYS = {"block", "rescue", "always", "name", "when", "tags", "vars", "become",
              "become_user", "ignore_errors", "no_log", "check_mode", "environment"}


@dataclass(frozen=True)
class Task:
    name: str
    module: Module
    args: dict[str, Any]
    path: str
    line: int
    when: Any = None
    loop: Loop | None = None  # `loop:` or `with_<lookup>:`, with its loop_control
    notify: tuple[str, ...] = ()
    listen: tuple[str, ...] = ()
    # booleans, or a template rendered per host (see `flag`)
    become: bool | str | None = None
    become_user: str | None = None
    tags: frozenset[str] = frozenset()
    ignore_errors: bool | str = False
    check_mode: bool | str | None = None
    changed_when: Any = None
    failed_when: Any = None
    register: str | None = None
    until: Any = None  # a condition on the task's result, retried until it holds
    retries: int | str | None = None  # with `until`: how many times more (Ansible: 3)
    delay: int | float | str | None = None  # seconds between attempts (Ansible: 5)
    environment: dict[str, Any] | str | None = None  # the commands' environment
    vars: dict[str, Any] = field(default_factory=dict)
    undo: str | None = None
    role: str | None = None
    no_log: bool | str | None = None  # Ansible's no_log (a template: per host); None: the play's

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def location(self) -> dict:
        return {"path": self.path, "line": self.line}

    def flag(self, keyword: str, variables: Variables) -> bool | None:
        """A boolean keyword's value on one host: a template is rendered with the host's
        variables, then converted as Ansible's `boolean()` does ("false" is false)."""
        value = getattr(self, keyword)
        return flag(value, variables, keyword, self.location)


def flag(value: Any, variables: Any, keyword: str, where: dict) -> bool | None:
    """`value` of a boolean keyword (None: unset), rendered when it is a template."""
    if isinstance(value, str) and is_template(value):
        value = render_value(value, variables, f"{where.get('path')}:{where.get('line')}")
    if value is None:
        return None
    try:
        return coerce.boolean(value)
    except coerce.ConversionError as err:
        raise InputError(f"{keyword}: {err}", **where) from None


def literal_flag(raw: Any, keyword: str, where: dict) -> bool | str | None:
    """A boolean keyword as loaded: checked now unless it is a template (checked per host)."""
    value = raw.get(keyword) if isinstance(raw, dict) else None
    if value is None or (isinstance(value, str) and is_template(value)):
        return value
    return flag(value, {}, keyword, _key_where(raw, keyword, where))


def _key_where(raw: Any, key: str, where: dict) -> dict:
    return {**where, "line": raw.line_of(key)} if isinstance(raw, Located) else where


def _mapping(raw: Any, key: str, where: dict) -> dict[str, Any]:
    """A keyword that holds a mapping (`vars`, `loop_control`); unset is empty."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{key}: expected a mapping", **_key_where(raw, key, where))
    return dict(value)


def mapping(raw: Any, key: str, where: dict) -> dict[str, Any]:
    """A keyword that holds a mapping (`vars`), checked; unset is empty."""
    return _mapping(raw, key, where)


def strings(raw: Any, key: str, where: dict) -> tuple[str, ...]:
    """A keyword that holds a string or a list of strings (`tags`, `notify`), checked; the
    error names the keyword's own line."""
    return _strings(raw.get(key), key, _key_where(raw, key, where))


def listing(raw: Any, key: str, what: str, where: dict) -> list[Any]:
    """A keyword that holds a list (`roles`, `tasks`, `handlers`); unset is empty."""
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{key}: expected a list of {what}", **_key_where(raw, key, where))
    return value


def condition(raw: Any, key: str, where: dict) -> Any:
    """`when`/`changed_when`: an expression, a boolean or a list of them (all must hold)."""
    value = raw.get(key)
    scalar = (str, bool, int, float)
    if value is None or isinstance(value, scalar) or (
            isinstance(value, list) and all(isinstance(v, scalar) for v in value)):
        return value
    raise InputError(f"{key}: expected an expression or a list of expressions",
                     **_key_where(raw, key, where))


def text(raw: Any, key: str, what: str, where: dict) -> str | None:
    """A keyword that holds one string (`become_user`, `register`, `undo`)."""
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"{key}: expected {what}", **_key_where(raw, key, where))


def _strings(value: Any, what: str, where: dict) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InputError(f"{what} must be a string or a list of strings", **where)


def _action(value: Any, where: dict) -> tuple[str, Any]:
    """Ansible's older `action: MODULE ARGS` (or a mapping with `module:`): the module's name
    and its arguments, a key=value string or a mapping."""
    if isinstance(value, str):
        try:
            words = kvargs.split_args(value)
        except kvargs.KvError as err:
            raise InputError(f"action: {err}", **where) from None
        if words:
            return words[0].strip(), " ".join(words[1:])
    elif isinstance(value, dict) and isinstance(value.get("module"), str):
        return value["module"], {k: v for k, v in value.items() if k != "module"}
    raise InputError("action: expected 'MODULE key=value ...' or a mapping with module:",
                     **where)


@dataclass(frozen=True)
class Block:
    """Ansible's `block`: tasks run in order; when one fails on a host, `rescue` runs there
    (and the failure is forgiven if it succeeds); `always` runs either way. The block's own
    keywords (`when`, `tags`, `vars`, `become`...) are given to each task inside at load, as
    Ansible's inheritance does, so only the three sections stay here."""

    name: str
    path: str
    line: int
    block: tuple[Any, ...]  # Task | Block
    rescue: tuple[Any, ...] = ()
    always: tuple[Any, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def tasks(self) -> list[Task]:
        """Every task inside, in order, nested blocks flattened."""
        return flatten([*self.block, *self.rescue, *self.always])


def flatten(items: list[Any]) -> list[Task]:
    """Tasks of a list that may hold blocks, in the order they appear."""
    found: list[Task] = []
    for item in items:
        found.extend(item.tasks() if isinstance(item, Block) else [item])
    return found


def _number(raw: Any, key: str, where: dict) -> Any:
    """`retries` / `delay`: a number, or a template rendered per host."""
    value = raw.get(key)
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool) or (
            isinstance(value, str) and (is_template(value) or value.strip().isdigit())):
        return value
    raise InputError(f"{key}: expected a number", **_key_where(raw, key, where))


def environment_of(raw: Any, where: dict) -> Any:
    """`environment`: a mapping of variables, or a template giving one."""
    value = raw.get("environment")
    if value is None or isinstance(value, dict) or (isinstance(value, str)
                                                     and is_template(value)):
        return value
    raise InputError("environment: expected a mapping of environment variables",
                     **_key_where(raw, "environment", where))


def _conditions(*values: Any) -> Any:
    """Conditions that must all hold, as one `when` (None when there are none)."""
    found: list[Any] = []
    for value in values:
        if value is None:
            continue
        found.extend(value if isinstance(value, list) else [value])
    return found or None


def _inherit(task: Any, parent: dict[str, Any]) -> Any:
    """A block's keywords given to a task inside it (the task's own values win)."""
    if isinstance(task, Block):
        return Block(task.name, task.path, task.line,
                     *(tuple(_inherit(t, parent) for t in section)
                       for section in (task.block, task.rescue, task.always)))
    changes: dict[str, Any] = {
        "when": _conditions(parent.get("when"), task.when),
        "tags": task.tags | parent.get("tags", frozenset()),
        "vars": {**parent.get("vars", {}), **task.vars},
    }
    for key in ("become", "become_user", "no_log", "check_mode"):
        if getattr(task, key) is None and parent.get(key) is not None:
            changes[key] = parent[key]
    if parent.get("environment") is not None:  # Ansible merges them, the task's own winning
        changes["environment"] = _merged_environment(parent["environment"], task.environment)
    if task.ignore_errors is False and parent.get("ignore_errors"):
        changes["ignore_errors"] = parent["ignore_errors"]
    return dataclasses.replace(task, **changes)


def _merged_environment(outer: Any, inner: Any) -> Any:
    if inner is None:
        return outer
    if isinstance(outer, dict) and isinstance(inner, dict):
        return {**outer, **inner}
    return inner  # a template on the task: it says all


def _parse_block(raw: Any, path: str, role: str | None, extra_tags: frozenset,
                 items: Callable[[list[Any]], list[Any]] | None = None) -> Block:
    where = {"path": path, "line": raw.line if isinstance(raw, Located) else 0}
    for key in raw:
        if key not in BLOCK_KEYS:
            hint = nearest(str(key), sorted(BLOCK_KEYS))
            raise InputError(f"a block takes no keyword {key!r}{hint}",
                             **_key_where(raw, key, where))
    parent = {
        "when": condition(raw, "when", where),
        "tags": frozenset(strings(raw, "tags", where)) | extra_tags,
        "vars": _mapping(raw, "vars", where),
        "become": literal_flag(raw, "become", where),
        "become_user": text(raw, "become_user", "a user name", where),
        "no_log": literal_flag(raw, "no_log", where),
        "check_mode": literal_flag(raw, "check_mode", where),
        "ignore_errors": literal_flag(raw, "ignore_errors", where),
        "environment": environment_of(raw, where),
    }
    if items is None:
        def items(listed: list[Any]) -> list[Any]:
            return [parse_task(item, path=path, role=role) for item in listed]
    sections = []
    for key in ("block", "rescue", "always"):
        sections.append(tuple(_inherit(task, parent)
                              for task in items(listing(raw, key, "tasks", where))))
    return Block(str(raw.get("name") or "block"), path, where["line"], *sections)


def parse_task(raw: Any, *, path: str, role: str | None = None, extra_tags: frozenset = frozenset(),
               items: Callable[[list[Any]], list[Any]] | None = None) -> Any:
    """A task, or a `Block` of them, as loaded (`items` reads a block's task lists: with the
    imports in them expanded, from `orchestrator.load.imports`)."""
    line = raw.line if isinstance(raw, Located) else 0
    where = {"path": path, "line": line}
    if not isinstance(raw, dict):
        raise InputError("a task must be a mapping (module: args, plus keywords)", **where)
    if "block" in raw:
        return _parse_block(raw, path, role, extra_tags, items)
    module_keys = [k for k in raw if k not in KEYWORDS and not is_loop_key(k)]
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
    if key == "action":
        name, raw_args = _action(raw[key], key_where)
    else:
        name, raw_args = key, raw[key]
    module = modules.lookup(name, key_where)
    if raw.get("args") is not None and not isinstance(raw["args"], dict):
        raise InputError("args: expected a mapping of the module's arguments",
                         **_key_where(raw, "args", where))
    # `args:` merges under what the module's line says (a mapping or key=value text)
    args = module.normalise(raw_args, key_where, extra=raw.get("args"))
    loop = parse_loop(raw, path=path, line=line, action=module.name)
    become_user = text(raw, "become_user", "a user name", where)
    register = text(raw, "register", "a variable name", where)
    if register is not None and not register.isidentifier():
        raise InputError(f"register: {register!r} is not a variable name",
                         **_key_where(raw, "register", where))
    tags = frozenset(strings(raw, "tags", where)) | extra_tags
    return Task(
        name=str(raw.get("name") or f"{module.name}"),
        module=module,
        args=args,
        path=path,
        line=line,
        when=condition(raw, "when", where),
        loop=loop,
        notify=strings(raw, "notify", where),
        listen=strings(raw, "listen", where),
        become=literal_flag(raw, "become", where),
        become_user=become_user,
        tags=tags,
        ignore_errors=literal_flag(raw, "ignore_errors", where) or False,
        check_mode=literal_flag(raw, "check_mode", where),
        changed_when=condition(raw, "changed_when", where),
        failed_when=condition(raw, "failed_when", where),
        register=register,
        until=condition(raw, "until", where),
        retries=_number(raw, "retries", where),
        delay=_number(raw, "delay", where),
        environment=environment_of(raw, where),
        vars=_mapping(raw, "vars", where),
        undo=text(raw, "undo", "a command that undoes the task", where),
        role=role,
        no_log=literal_flag(raw, "no_log", where),
    )


def parse_tasks(raw: Any, *, path: str, role: str | None = None,
                extra_tags: frozenset = frozenset(), role_path: Path | None = None,
                playbook_dir: Path | None = None) -> list[Any]:
    """A list of tasks read on its own (a file `include_tasks` brings in), its static imports
    expanded as at load (`orchestrator.load.imports.load_tasks`); roles are looked for beside
    `playbook_dir` (by default the file's own directory)."""
    from orchestrator.load import imports

    return imports.parse_list(raw, Path(path), role=role, role_path=role_path,
                              tags=extra_tags, playbook_dir=playbook_dir)
