"""community.general.pamd: a PAM service file's rules edited, computed on the controller.

A PAM service file (`man 5 pam.d`) holds one rule per line, `type control module-path
[arguments]`, among comments, `@include` lines and blank lines. The module finds the rules whose
type, control and module path all equal the task's and, by `state` (`ansible-doc`-style
documentation of community.general.pamd):

- `updated` (default): gives them `new_type`, `new_control`, `new_module_path` and, when
  `module_arguments` is given, those arguments in place of theirs (an empty list removes them);
- `before` / `after`: puts a new rule (`new_type new_control new_module_path
  module_arguments`, all three `new_*` required) just before / after each, unless the rule
  next to it on that side already is that rule;
- `args_present`: adds each of `module_arguments` a rule lacks; a `key=value` argument
  replaces the value the rule gives `key`;
- `args_absent`: removes the arguments listed, word for word (`deny` leaves `deny=5`);
- `absent`: removes them.

No matching rule: the file is left as it is. The task fails if the file does not exist or
a new type or control is not one PAM knows. A control matches as written, as community.general
compares it (`[success=1  default=ignore]` is not `[success=1 default=ignore]`). A file that
changes is
written as community.general writes it: every rule line anew, as `type` padded to 11 columns,
then control, module path and arguments separated by one space, each line ending in a newline;
comments, `@include` and blank lines keep their text. Unlike community.general, no "# Updated by Ansible - <time>"
line is added: a timestamp would make `orc plan`'s bytes differ from `orc apply`'s, and the
journal records the change. The file is written by `rewrite` (plan equals apply, `backup` as Ansible names it).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from orchestrator.modules.base import REQUIRED, HostContext, Module, OpCall
from orchestrator.modules.edits import EditError
from orchestrator.modules.files import _rewrite  # the file modules' one write path

TYPES = ("account", "-account", "auth", "-auth", "password", "-password", "session",
         "-session")
STATES = ("updated", "before", "after", "args_present", "args_absent", "absent")
SIMPLE_CONTROLS = ("required", "requisite", "sufficient", "optional", "include", "substack",
                   "definitive")
# the return values and actions a bracketed control may name (man 5 pam.d)
CONTROL_VALUES = frozenset(
    "success open_err symbol_err service_err system_err buf_err perm_denied auth_err "
    "cred_insufficient authinfo_unavail user_unknown maxtries new_authtok_reqd acct_expired "
    "session_err cred_unavail cred_expired cred_err no_module_data conv_err authtok_err "
    "authtok_recover_err authtok_lock_busy authtok_disable_aging try_again ignore abort "
    "authtok_expired module_unknown bad_item conv_again incomplete default".split())
CONTROL_ACTIONS = frozenset(("ignore", "bad", "die", "ok", "done", "reset"))

_RULE = re.compile(r"^\s*(?P<type>-?(?:auth|account|session|password))\s+"
                   r"(?P<control>\[[^\]]*\]|\S+)\s+(?P<path>\S+)\s*(?P<args>.*?)\s*$")
_ARG = re.compile(r"\[[^\]]*\]|\S+")  # an argument: a bracketed one may hold spaces


def control_key(control: str) -> str:
    """A control as rules are compared: a bracketed one with its `value=action` words
    separated by one space (`[ success = 1 ]` is `[success=1]`)."""
    control = control.strip()
    if not control.startswith("["):
        return control
    inner = re.sub(r"\s*=\s*", "=", control.strip("[]"))
    return "[" + " ".join(inner.split()) + "]"


def split_arguments(values: list[str] | None) -> list[str] | None:
    """`module_arguments` as a rule's argument words: each element split at spaces outside
    brackets (`"deny=3 silent"` is two arguments); an empty element adds none."""
    if values is None:
        return None
    words: list[str] = []
    for value in values:
        words.extend(_ARG.findall(str(value)))
    return words


@dataclass
class Rule:
    type: str
    control: str
    path: str
    args: list[str]

    def matches(self, rule_type: str, control: str, path: str) -> bool:
        # the control as written, as community.general compares it (`[a=b  c=d]`, with two
        # spaces, is not `[a=b c=d]`)
        return self.type == rule_type and self.control == control.strip() and self.path == path

    def render(self) -> bytes:
        words = [self.control, self.path, *self.args]
        return (f"{self.type:<11}" + " ".join(words)).encode("utf-8", "surrogateescape")


def _parse(line: bytes) -> Rule | None:
    text = line.decode("utf-8", "surrogateescape")
    stripped = text.lstrip()
    if not stripped or stripped.startswith(("#", "@include")):
        return None
    found = _RULE.match(text.rstrip("\r\n"))
    if found is None:
        return None
    return Rule(found["type"], found["control"], found["path"], _ARG.findall(found["args"]))


@dataclass(frozen=True)
class Pamd:
    """pamd's arguments that decide the content (community.general.pamd's documentation)."""

    type: str
    control: str
    module_path: str
    state: str = "updated"
    new_type: str | None = None
    new_control: str | None = None
    new_module_path: str | None = None
    module_arguments: list[str] | None = None

    def check(self) -> None:
        """The argument rules checked before the file is read."""
        if self.state not in STATES:
            raise EditError(f"state={self.state!r} is not one of {', '.join(STATES)}")
        for name in ("type", "new_type"):
            value = getattr(self, name)
            if value is not None and value not in TYPES:
                raise EditError(f"{name}={value!r} is not one of {', '.join(TYPES)}")
        if self.state in ("before", "after"):
            missing = [n for n in ("new_type", "new_control", "new_module_path")
                       if not getattr(self, n)]
            if missing:
                raise EditError(f"state={self.state} needs {', '.join(missing)}")
        if self.new_control:
            check_control(self.new_control)


def check_control(control: str) -> None:
    """A control PAM accepts: a simple keyword, or `[value=action ...]` where action is one
    of PAM's actions or a number of rules to jump over (man 5 pam.d)."""
    key = control_key(control)
    if not key.startswith("["):
        if key not in SIMPLE_CONTROLS:
            raise EditError(f"control {control!r} is not one of {', '.join(SIMPLE_CONTROLS)} "
                            f"or a bracketed [value=action ...]")
        return
    for word in key.strip("[]").split():
        value, _, action = word.partition("=")
        if value not in CONTROL_VALUES:
            raise EditError(f"control {control!r}: {value!r} is not a PAM return value")
        if action not in CONTROL_ACTIONS and not action.isdigit():
            raise EditError(f"control {control!r}: {action!r} is not a PAM action")


def pamd(current: bytes | None, args: Pamd, path: str = "") -> bytes:
    """The service file pamd leaves (see the module docstring); `current` None: it is missing."""
    args.check()
    if current is None:
        raise EditError(f"{path} does not exist")
    lines = current.splitlines(True)
    out: list[bytes] = []
    wanted = split_arguments(args.module_arguments)
    for number, line in enumerate(lines):
        rule = _parse(line)
        if rule is None or not rule.matches(args.type, args.control, args.module_path):
            out.append(line)
            continue
        ending = line[len(line.rstrip(b"\r\n")):] or b"\n"
        if args.state == "absent":
            continue
        if args.state in ("before", "after"):
            new = Rule(args.new_type, args.new_control, args.new_module_path,  # type: ignore
                       wanted or [])
            side = _neighbour(lines, number, -1 if args.state == "before" else 1)
            if side is not None and side.matches(new.type, new.control, new.path):
                out.append(line)  # the new rule is already there
            elif args.state == "before":
                out += [new.render() + ending, line]
            else:
                out += [line if line.endswith((b"\n", b"\r")) else line + b"\n",
                        new.render() + ending]
            continue
        changed = _edited(rule, args, wanted)
        out.append(line if changed is None else changed.render() + ending)
    if b"".join(out) == current:
        return current
    # a file that changes is written whole, every rule in the module's layout, as
    # community.general's pamd writes it
    return b"".join(_laid_out(line) for line in out)


def _laid_out(line: bytes) -> bytes:
    """A line of a file pamd writes: a rule in the module's layout, any other line as it was;
    each ends in a newline (a CRLF file comes out with LF, as community.general writes it)."""
    rule = _parse(line)
    return (rule.render() if rule is not None else line.rstrip(b"\r\n")) + b"\n"


def _neighbour(lines: list[bytes], number: int, step: int) -> Rule | None:
    """The rule on the line next to `number` (`step` -1 before, 1 after), if that line is one."""
    other = number + step
    if 0 <= other < len(lines):
        return _parse(lines[other])
    return None


def _edited(rule: Rule, a: Pamd, wanted: list[str] | None) -> Rule | None:
    """The rule as `updated`, `args_present` or `args_absent` leaves it; None: unchanged."""
    new = Rule(rule.type, rule.control, rule.path, list(rule.args))
    if a.state == "updated":
        new.type = a.new_type or new.type
        if a.new_control and a.new_control.strip() != new.control:
            new.control = a.new_control.strip()
        new.path = a.new_module_path or new.path
        if wanted is not None:
            new.args = wanted
    elif a.state == "args_present":
        if any(arg.startswith("[") for arg in wanted or []):
            # community.general's own refusal, in its words
            raise EditError("Unable to process bracketed '[' complex arguments with "
                            "'args_present'. Please use 'updated'.")
        for arg in wanted or []:
            key, eq, _ = arg.partition("=")
            at = next((i for i, have in enumerate(new.args)
                       if have == arg or (eq and have.partition("=")[0] == key)), None)
            if at is None:
                new.args.append(arg)
            else:
                new.args[at] = arg
    elif a.state == "args_absent":
        drop = set(wanted or [])  # word for word: a bare `deny` leaves `deny=5`
        new.args = [have for have in new.args if have not in drop]
    return None if new == rule else new


def _build(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    edit = Pamd(type=args["type"], control=str(args["control"]),
                module_path=args["module_path"], state=args["state"] or "updated",
                new_type=args["new_type"], new_control=args["new_control"],
                new_module_path=args["new_module_path"],
                module_arguments=args["module_arguments"])
    edit.check()  # a wrong combination of arguments fails before any host is touched
    path = posixpath.join(args["path"] or "/etc/pam.d", args["name"])
    return [_rewrite(path, lambda current: pamd(current, edit, path),
                     {"owner": None, "group": None, "mode": None, "backup": args["backup"]})]


MODULE = Module(
    "community.general.pamd",
    {"name": REQUIRED, "type": REQUIRED, "control": REQUIRED, "module_path": REQUIRED,
     "new_type": None, "new_control": None, "new_module_path": None, "module_arguments": None,
     "state": "updated", "path": "/etc/pam.d", "backup": False},
    _build,
    choices={"type": TYPES, "new_type": TYPES, "state": STATES},
    types={"name": "str", "type": "str", "control": "str", "module_path": "str",
           "new_type": "str", "new_control": "str", "new_module_path": "str",
           "module_arguments": "list", "state": "str", "path": "path", "backup": "bool"},
)
