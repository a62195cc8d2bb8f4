"""What a task module is: Ansible's argument names on the outside, pyinfra operations inside.

A module checks its arguments when the playbook is loaded (before any host is touched) and, per
host, turns rendered arguments into the pyinfra operation calls that make it so. Optional file
previews let `orc plan` show a unified diff of what a file would become.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load import coerce, kvargs

REQUIRED = object()
TYPE_NAMES = {"str": "a string", "path": "a path (a string)", "int": "an integer",
              "float": "a number", "bool": "a boolean", "list": "a list",
              "dict": "a dictionary", "raw": "any value"}


class Decided(Exception):
    """Raised by a module's build when its task's result on this host is known without any
    operation: skipped (unarchive's `creates` exists) or failed with the module's own message
    (its `dest` is not a directory). `result` is what `register` stores, in Ansible's shape
    (`changed`, and `skipped` or `failed` with `msg`); the engine takes it as an action's
    outcome, so `ignore_errors` and `rescue` apply to the failure."""

    def __init__(self, result: dict[str, Any]):
        super().__init__(str(result.get("msg", "")))
        self.result = result


@dataclass(frozen=True)
class FilePreview:
    """What a task would make of a file: full new content, or a change applied to the old one."""

    path: str
    content: str | None = None  # None: the file would be removed
    transform: Callable[[str | None], str | None] | None = None

    def after(self, before: str | None) -> str | None:
        return self.transform(before) if self.transform else self.content


@dataclass(frozen=True)
class OpCall:
    """One pyinfra operation call: the function and its keyword arguments."""

    op: Callable[..., Any]
    kwargs: dict[str, Any]
    preview: FilePreview | None = None
    # False: it runs, but what it does is not a change of the task, as Ansible reports it
    # (systemd's daemon_reload: `ansible-doc systemd` counts only state, enabled and masked)
    counts: bool = True


def sudo_arguments(become: Any, become_user: str | None) -> dict[str, Any]:
    """pyinfra's connector arguments for a command run as Ansible's `become`/`become_user`
    would run it: through sudo, as `become_user` (None: root); none without become."""
    if not become:
        return {}
    return {"_sudo": True, **({"_sudo_user": become_user} if become_user else {})}


@dataclass
class HostContext:
    """What a module may look at while building one host's operations."""

    host: Any  # pyinfra Host: facts via host.get_fact
    variables: Mapping[str, Any]
    search_dirs: dict[str, list[Path]] = field(default_factory=dict)  # "files"/"templates" -> dirs
    where: dict[str, Any] = field(default_factory=dict)  # the task's path= and line=
    capture_rc: bool = False  # a command reports its exit status for `register` (commands.py)
    # the task's operations run through sudo (as `become_user`, None: root)
    become: bool = False
    become_user: str | None = None
    # keys the module adds to what `register` stores (unarchive's `files`), set by its build
    registers: dict[str, Any] = field(default_factory=dict)

    def find(self, kind: str, name: str) -> Path:
        candidate = Path(name)
        if candidate.is_absolute():
            if candidate.exists():
                return candidate
        else:
            for directory in self.search_dirs.get(kind, []):
                if (directory / name).exists():
                    return directory / name
        searched = ", ".join(str(d) for d in self.search_dirs.get(kind, [])) or "nowhere"
        raise InputError(f"{kind[:-1]} {name!r} not found (looked in {searched})", **self.where)


@dataclass(frozen=True)
class Module:
    name: str
    args: dict[str, Any]  # argument -> default, or REQUIRED
    build: Callable[[dict[str, Any], HostContext], list[OpCall]]
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> argument
    free_form: str | None = None  # `shell: echo hi` puts the string into this argument
    # the `key=` options a command line given free-form keeps out of the command (command and
    # shell's `chdir=`, `creates=`...); empty: every `key=value` word of a string is an argument
    raw_options: frozenset[str] = frozenset()
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the argument naming a local file, and the role directory it lives in ("files"/"templates")
    source: tuple[str, str] | None = None
    # argument -> its type as Ansible's documentation of the module names it (coerce.KINDS)
    types: dict[str, str] = field(default_factory=dict)
    # run on the controller by the engine (set_fact, include_tasks, assert...), not an operation
    action: bool = False
    # any argument name is taken (set_fact's variable names)
    any_args: bool = False
    # its build reads the host beyond the facts pyinfra predicts from (an archive, whether a
    # directory exists): the engine runs the changes predicted before it first. A function of
    # the task's arguments when only some arguments read it (command's `creates`)
    reads_host: bool | Callable[[dict[str, Any]], bool] = False
    # checks of argument values a table cannot say (unarchive's extra_opts), run at load on
    # the literal arguments; raises ValueError with the reason
    check: Callable[[dict[str, Any]], None] | None = None

    def reads_host_with(self, args: dict[str, Any]) -> bool:
        """Whether building a task with these arguments reads the host (`reads_host`)."""
        return self.reads_host(args) if callable(self.reads_host) else self.reads_host

    def __reduce__(self):
        """Pickled by name (a play shipped to a cluster worker): the module table where it is
        unpickled gives the same module (its `build` is often a closure, which pickle cannot
        carry)."""
        return _module_named, (self.name,)

    def free_form_args(self, text: str, where: dict) -> dict[str, str]:
        """A string given for the arguments (`apt: update_cache=yes`), read as Ansible reads it
        (`orchestrator.load.kvargs`): `key=value` words are arguments, every value a string that
        `convert` turns into the argument's type. The other words are the free-form text, for
        a module that takes one (`free_form`); for command and shell only `raw_options` come
        out of the text."""
        args: dict[str, Any] = kvargs.read(text, where, raw_options=self.raw_options or None)
        if kvargs.RAW_PARAMS in args:
            free = args.pop(kvargs.RAW_PARAMS)
            if self.free_form is None:
                first = (free.split() or [free])[0]
                raise InputError(f"{self.name} takes key=value arguments, not free-form text "
                                 f"({first!r} has no '=')", **where)
            args[self.free_form] = free
        return args

    def normalise(self, raw: Any, where: dict, extra: Mapping[str, Any] | None = None
                  ) -> dict[str, Any]:
        """Check and complete a task's arguments (names, required, choices) at load time.

        `raw` is what the module key holds (a mapping, a free-form string or nothing); `extra`
        is the task's `args:` keyword, under `raw` (Ansible lets the arguments written on the
        module's line win)."""
        if raw is None:
            raw = {}
        if isinstance(raw, str):
            raw = self.free_form_args(raw, where)
        if not isinstance(raw, Mapping):
            raise InputError(f"{self.name}: arguments must be a mapping", **where)
        if extra:
            raw = {**extra, **raw}
        args: dict[str, Any] = {}
        for key, value in raw.items():
            name = self.aliases.get(key, key)
            if name not in self.args and not self.any_args:
                hint = nearest(key, list(self.args) + list(self.aliases))
                raise InputError(f"{self.name} has no argument {key!r}{hint}", **where)
            args[name] = value
        for name, default in self.args.items():
            if name not in args:
                if default is REQUIRED:
                    raise InputError(f"{self.name} needs the argument {name!r}", **where)
                args[name] = default
        converted = self.convert(args, where, literal_only=True)
        if self.check is not None:
            try:
                self.check({k: v for k, v in converted.items() if not _templated(v)})
            except ValueError as err:
                raise InputError(f"{self.name}: {err}", **where) from None
        return converted

    def convert(self, args: dict[str, Any], where: dict, literal_only: bool = False
                ) -> dict[str, Any]:
        """Each argument as its declared type, converted as Ansible converts it (`"3600"` for
        an int, `"no"` for a bool), and checked against its choices. At load time
        (`literal_only`) values still holding a template are left for the host's rendering."""
        converted = dict(args)
        for name, value in args.items():
            if literal_only and _templated(value):
                continue
            kind = self.types.get(name, "raw")
            try:
                converted[name] = coerce.convert(value, kind)
            except coerce.ConversionError as err:
                raise InputError(f"{self.name}: argument {name!r} expects {TYPE_NAMES[kind]}: "
                                 f"{err}", **where) from None
            allowed = self.choices.get(name)
            if allowed and isinstance(value, bool) and {"yes", "no"} <= set(allowed):
                # a YAML boolean for a string choice of yes/no (apt's upgrade), as Ansible reads it
                converted[name] = "yes" if value else "no"
            if allowed and converted[name] is not None and converted[name] not in allowed:
                raise InputError(f"{self.name}: {name}={converted[name]!r} is not one of "
                                 f"{', '.join(allowed)}", **where)
        return converted


def _templated(value: Any) -> bool:
    """Whether a value still holds a template (rendered per host, converted then)."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(_templated(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_templated(v) for v in value)
    return False


def nearest(word: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]


def mode(value: Any) -> str | None:
    """Ansible modes are strings like "0644" or YAML ints like 0644 (read as octal 420)."""
    if value is None:
        return None
    if isinstance(value, int):
        return format(value, "o")
    return str(value).lstrip("0") or "0"


def present(args: Mapping[str, Any], default: str = "present") -> bool:
    return (args.get("state") or default) != "absent"


def _module_named(name: str) -> Module:
    from orchestrator.modules import lookup

    return lookup(name, {})
