"""Controller-side modules, run per host in their task's place: each returns what the task did
(its status and what `register` stores) and may set variables on the host's run.

Semantics and return values follow ansible-core 2.19's module documentation (`ansible-doc
set_fact`, `debug`, `assert`, `fail`, `include_vars`, `stat`, `setup`, `package_facts`,
`service_facts`).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra.api import FactBase

from orchestrator.engine.hostrun import HostRun
from orchestrator.engine.results import FAILED, OK
from orchestrator.errors import InputError
from orchestrator.modules.base import sudo_arguments
from orchestrator.templating.render import Variables, evaluate, render_value, to_text


@dataclass
class Outcome:
    status: str
    registered: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    msg: str | None = None  # shown with the task (debug's message)
    # operations the engine adds in the task's place (uri's `dest`, written by a journaled
    # files.put): the task's status then comes from them, `registered` joins their result
    calls: list[Any] = field(default_factory=list)


@dataclass
class ActionContext:
    """What an action may use besides its arguments. `become`/`become_user`: the task's own
    (or its block's, its play's): an action that reads the host reads it as that user, as
    Ansible runs the module it stands for."""

    task: Any
    run: HostRun
    variables: Variables
    search: list[Path]  # where a relative include_vars file is looked for
    check_mode: bool = False
    become: bool = False
    become_user: str | None = None

    @property
    def sudo(self) -> dict[str, Any]:
        """pyinfra's connector arguments for a command the action runs on the host."""
        return sudo_arguments(self.become, self.become_user)


def _where(task: Any) -> dict[str, Any]:
    return {"path": task.path, "line": task.line}


def set_fact(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    if args.get("cacheable"):
        raise InputError("set_fact: cacheable: true needs a fact cache, which orc does not keep "
                         "between runs", **_where(ctx.task))
    values = {}
    for key, value in args.items():
        if key == "cacheable":
            continue
        name = render_value(key, ctx.variables, ctx.task.where) if "{{" in key else key
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(f"set_fact: {name!r} is not a variable name", **_where(ctx.task))
        values[name] = value
    ctx.run.facts_set.update(values)
    return Outcome(OK, {"changed": False, "ansible_facts": values})


def debug(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    if args.get("var") is not None:
        name = str(args["var"])
        if "{{" in name:
            value = render_value(name, ctx.variables, ctx.task.where)
        else:
            value = render_value("{{ " + name + " }}", ctx.variables, ctx.task.where)
        return Outcome(OK, {"changed": False, name: value}, msg=f"{name}: {to_text(value)}")
    msg = args.get("msg")
    msg = "Hello world!" if msg is None else msg
    return Outcome(OK, {"changed": False, "msg": msg}, msg=to_text(msg))


def assert_(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    that = args["that"] if isinstance(args["that"], list) else [args["that"]]
    for condition in that:
        if not evaluate(condition, ctx.variables, ctx.task.where):
            msg = args.get("fail_msg") or "Assertion failed"
            return Outcome(FAILED, {"changed": False, "failed": True, "msg": msg,
                                    "assertion": condition, "evaluated_to": False},
                           error=to_text(msg))
    msg = args.get("success_msg") or "All assertions passed"
    return Outcome(OK, {"changed": False, "msg": msg})


def fail(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    msg = args.get("msg") or "Failed as requested from task"
    return Outcome(FAILED, {"changed": False, "failed": True, "msg": msg}, error=to_text(msg))


def include_vars(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    from orchestrator.load.includevars import read

    values = read(args, ctx.search, _where(ctx.task))
    ctx.run.included.update(values)
    return Outcome(OK, {"changed": False, "ansible_facts": values})


class _Stat(FactBase):
    """Ansible's `stat` of one path in one command: GNU stat's fields, where a link resolves
    to, and the checksum, each on a line of its own prefix."""

    def command(self, path: str, follow: bool = False, algorithm: str | None = None) -> str:
        quoted = shlex.quote(path)
        flag = "-L " if follow else ""
        # a path that is not there is `exists: false`; any other failure (a directory on the
        # way the user may not search, a file on the way) fails the task, as os.stat's
        # error fails Ansible's module
        line = (f"out=$(LC_ALL=C stat {flag}-c '%F|%a|%u|%g|%U|%G|%s|%Y|%X|%Z|%i|%h|%d|%b|%B'"
                f" -- {quoted} 2>&1) || {{ case $out in *'No such file or directory') "
                f"echo absent;; *) printf 'error:%s\\n' \"${{out##*: }}\";; esac; exit 0; }}"
                f"; printf 'stat:%s\\n' \"$out\""
                f"; [ -L {quoted} ] && printf 'link:%s\\nreal:%s\\n' "
                f"\"$(readlink -- {quoted})\" \"$(readlink -f -- {quoted})\"")
        if algorithm:
            line += (f"; [ -f {quoted} ] && printf 'sum:%s\\n' "
                     f"\"$({algorithm}sum -- {quoted} | cut -d' ' -f1)\"")
        return line + "; true"

    def process(self, output: list[str]) -> dict[str, str]:
        found = {}
        for line in output:
            key, _, value = line.partition(":")
            found[key] = value
        return found


_TYPES = {"regular file": "isreg", "regular empty file": "isreg", "directory": "isdir",
          "symbolic link": "islnk", "character special file": "ischr",
          "block special file": "isblk", "fifo": "isfifo", "socket": "issock"}


def stat(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    path = str(args["path"])
    algorithm = args.get("checksum_algorithm") if args.get("get_checksum") else None
    found = ctx.run.host.get_fact(_Stat, path=path, follow=bool(args.get("follow")),
                                  algorithm=algorithm, **ctx.sudo)
    if "error" in found:
        return Outcome(FAILED, {"changed": False, "failed": True, "msg": found["error"]},
                       error=found["error"])
    if "stat" not in found or found["stat"] == "absent":
        return Outcome(OK, {"changed": False, "stat": {"exists": False}})
    kind, mode, uid, gid, user, group, size, mtime, atime, ctime, inode, nlink, dev, \
        blocks, block_size = found["stat"].split("|")
    bits = int(mode, 8)
    result: dict[str, Any] = {"exists": True, "path": path, "mode": format(bits & 0o7777, "04o")}
    for name in set(_TYPES.values()):
        result[name] = _TYPES.get(kind) == name
    result.update({
        "uid": int(uid), "gid": int(gid), "pw_name": user, "gr_name": group,
        "size": int(size), "mtime": float(mtime), "atime": float(atime), "ctime": float(ctime),
        "inode": int(inode), "nlink": int(nlink), "dev": int(dev), "blocks": int(blocks),
        "block_size": int(block_size),
        "isuid": bool(bits & 0o4000), "isgid": bool(bits & 0o2000),
    })
    for who, shift in (("usr", 6), ("grp", 3), ("oth", 0)):
        for letter, bit in (("r", 4), ("w", 2), ("x", 1)):
            result[f"{letter}{who}"] = bool(bits >> shift & bit)
    if "link" in found:
        result["lnk_target"] = found["link"]
        result["lnk_source"] = found.get("real", "")
    if "sum" in found and result["isreg"]:
        result["checksum"] = found["sum"]
    return Outcome(OK, {"changed": False, "stat": result})


def _gather(ctx: ActionContext, subset: Any) -> dict[str, Any]:
    from orchestrator.engine import gather

    # an explicit setup reads the host again; its facts are merged into those already held
    facts = gather.gather(ctx.run.host, subset=subset, fresh=True, become=ctx.become,
                          become_user=ctx.become_user)
    gathered = ctx.run.gathered or {}
    merged = {**(gathered.get("ansible_facts") or {}), **facts}
    ctx.run.gathered = {**gathered, **gather.as_variables(facts), "ansible_facts": merged}
    return facts


def setup(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    facts = _gather(ctx, args.get("gather_subset"))
    return Outcome(OK, {"changed": False, "ansible_facts": facts})


def gather_facts(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    return setup({}, ctx)


def _add_facts(ctx: ActionContext, extra: dict[str, Any]) -> None:
    gathered = dict(ctx.run.gathered or {})
    facts = dict(gathered.get("ansible_facts") or {})
    facts.update(extra)
    gathered["ansible_facts"] = facts
    # injected under the names the module returned: `packages`, `services` (not ansible_*)
    gathered.update(extra)
    ctx.run.gathered = gathered


def package_facts(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    from orchestrator.engine import gather

    packages = gather.package_facts(ctx.run.host)["packages"]
    _add_facts(ctx, {"packages": packages})
    return Outcome(OK, {"changed": False, "ansible_facts": {"packages": packages}})


def service_facts(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    from orchestrator.engine import gather

    services = gather.service_facts(ctx.run.host)["services"]
    _add_facts(ctx, {"services": services})
    return Outcome(OK, {"changed": False, "ansible_facts": {"services": services}})


def validate_argument_spec(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    """The variables the task sees (or `provided_arguments`) against an argument spec (a
    role's, see orchestrator/load/argspec.py): `argument_spec` is its options, or the whole entry
    point with them."""
    from orchestrator.load import argspec

    spec = args["argument_spec"]
    if not isinstance(spec, dict):
        raise InputError("validate_argument_spec: argument_spec must be a mapping",
                         **_where(ctx.task))
    spec = spec if "options" in spec else {"options": spec}
    argspec.check(spec, _where(ctx.task))
    provided = args["provided_arguments"]
    if provided is None:
        names = [key for name, option in spec["options"].items()
                 for key in (name, *((option or {}).get("aliases") or []))]
        provided = {name: ctx.variables[name] for name in names if name in ctx.variables}
    errors = argspec.validate(spec, provided)
    if errors:
        msg = "Validation of arguments failed:\n" + "\n".join(errors)
        return Outcome(FAILED, {"changed": False, "failed": True, "msg": msg,
                                "argument_errors": errors}, error=msg)
    return Outcome(OK, {"changed": False, "msg": "The arg spec validation passed"})

from orchestrator.engine import probes  # noqa: E402 - uses Outcome, ActionContext

ACTIONS: dict[str, Callable[[dict[str, Any], ActionContext], Outcome]] = {
    "uri": probes.uri,
    "wait_for": probes.wait_for,
    "set_fact": set_fact,
    "debug": debug,
    "assert": assert_,
    "fail": fail,
    "include_vars": include_vars,
    "stat": stat,
    "setup": setup,
    "gather_facts": gather_facts,
    "package_facts": package_facts,
    "service_facts": service_facts,
    "validate_argument_spec": validate_argument_spec,
}
# actions that read the host: they wait until the segment's predicted changes have run
READS_HOST = frozenset({"uri", "wait_for", "stat", "setup", "gather_facts", "package_facts",
                        "service_facts"})
# actions whose failure ends the host: earlier changes run first, as in Ansible
MAY_FAIL = frozenset({"assert", "fail", "validate_argument_spec", "uri", "wait_for"})
