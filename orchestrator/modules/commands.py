"""command, shell, git, get_url -> pyinfra `server.shell`, `git.repo`, `files.download`.

A command is opaque: orc cannot know what it changed, so it always counts as a change (unless
`creates`/`removes` say it has nothing to do, or `changed_when: false`) and only an `undo:` on
the task lets `orc rollback` reverse it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath
from typing import Any

from pyinfra.api import FactBase
from pyinfra.operations import files, git, server

from orchestrator.modules.base import REQUIRED, Decided, HostContext, Module, OpCall


# When a task's result is registered, its command's exit status is printed after its output
# (`rc` of Ansible's result) and the engine, not pyinfra, decides from it whether it failed.
RC_MARK = "__orc_rc="


def _command_line(args: dict[str, Any], shell: bool) -> str:
    cmd = args["cmd"] if args["cmd"] is not None else args["argv"]
    if cmd is None:
        raise ValueError("a command task needs a command (free form, 'cmd' or 'argv')")
    line = shlex.join(cmd) if isinstance(cmd, list) else str(cmd)
    if args["chdir"]:
        line = f"cd {shlex.quote(args['chdir'])} && {line}"
    if shell and args["executable"]:
        line = f"{args['executable']} -c {shlex.quote(line)}"
    if args["stdin"] is not None:
        data = args["stdin"] + ("\n" if args["stdin_add_newline"] else "")
        line = f"printf %s {shlex.quote(data)} | ( {line} )"
    return line


def _beside(path: str, chdir: str | None) -> str:
    """`creates`/`removes` as the command module checks them: after changing to `chdir`."""
    return str(PurePosixPath(chdir) / path) if chdir else path


# what Python's glob (fnmatch) reads as a pattern: `*`, `?` and a closed bracket expression
_MAGIC = re.compile(r"\*|\?|\[!?\]?[^\]]*\]")


def shell_pattern(pattern: str) -> str:
    """`pattern` as sh words that expand as Python's `glob.glob` expands it: the parts glob
    reads as a pattern left bare, everything else quoted (spaces, `$`, quotes are literal)."""
    words, start = [], 0
    for found in _MAGIC.finditer(pattern):
        if found.start() > start:
            words.append(shlex.quote(pattern[start:found.start()]))
        words.append(found.group(0))
        start = found.end()
    if start < len(pattern):
        words.append(shlex.quote(pattern[start:]))
    return "".join(words)


class Matches(FactBase):
    """Whether anything on the host matches a glob pattern, as `glob.glob` sees it (a broken
    symbolic link counts, as `os.path.lexists` counts it): the command module's test for
    `creates` and `removes` ("a filename or glob pattern", its documentation)."""

    def command(self, pattern: str) -> str:
        # sh keeps a pattern that matched nothing as it is: `case` tells a real match
        words = shell_pattern(pattern)
        return (f'for p in {words}; do case "$p" in {words}) if test -e "$p" || test -L "$p"; '
                'then echo yes; break; fi;; esac; done')

    def process(self, output: list[str]) -> bool:
        return "yes" in output


def _looks(args: dict[str, Any]) -> bool:
    """`creates` and `removes` look at the host as the task is about to run, so what earlier
    tasks would change there runs first (a file the task before creates counts)."""
    return args.get("creates") is not None or args.get("removes") is not None


def _not_run(args: dict[str, Any], shell: bool, path: str, verb: str) -> dict[str, Any]:
    """What the command module registers when `creates`/`removes` say it has nothing to do."""
    cmd = args["cmd"] if args["cmd"] is not None else args["argv"]
    if not shell and isinstance(cmd, str):
        cmd = shlex.split(cmd)
    stdout = f"skipped, since {path} {verb}"
    return {"changed": False, "failed": False, "cmd": cmd, "rc": 0, "stdout": stdout,
            "stdout_lines": [stdout],
            "stderr": "", "stderr_lines": [], "start": None, "end": None, "delta": None,
            "msg": f"Did not run command since '{path}' {verb}"}


def _run(shell: bool):
    def build(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
        if args["creates"] and ctx.host.get_fact(
                Matches, pattern=_beside(args["creates"], args["chdir"])):
            raise Decided(_not_run(args, shell, args["creates"], "exists"))
        if args["removes"] and not ctx.host.get_fact(
                Matches, pattern=_beside(args["removes"], args["chdir"])):
            raise Decided(_not_run(args, shell, args["removes"], "does not exist"))
        line = _command_line(args, shell)
        if ctx.capture_rc:  # the exit status as the last line's end (see RC_MARK)
            # a subshell, so an `exit` in the command ends only it
            line = f"( {line}\n); printf '{RC_MARK}%d\\n' \"$?\""
        return [OpCall(server.shell, {"commands": [line]})]

    return build


def _git(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    return [OpCall(git.repo, {
        "src": args["repo"], "dest": args["dest"],
        "branch": None if args["version"] in (None, "HEAD") else args["version"],
        "pull": bool(args["update"]), "depth": args["depth"],
    })]


def _get_url(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    checksum = args["checksum"]
    sums: dict[str, str] = {}
    if checksum:
        algorithm, _, digest = str(checksum).partition(":")
        if algorithm not in ("sha256", "sha1", "md5", "sha384") or not digest:
            raise ValueError("checksum must look like 'sha256:<hex digest>'")
        sums[f"{algorithm}sum"] = digest
    return [OpCall(files.download, {
        "src": args["url"], "dest": args["dest"], "user": args["owner"], "group": args["group"],
        "mode": args["mode"] if args["mode"] is None else str(args["mode"]),
        "force": bool(args["force"]), **sums,
    })]


COMMAND_ARGS = {"cmd": None, "argv": None, "chdir": None, "creates": None, "removes": None,
                "executable": None, "stdin": None, "stdin_add_newline": True}
COMMAND_TYPES = {"cmd": "str", "argv": "list", "chdir": "path", "creates": "path",
                 "removes": "path", "executable": "path", "stdin": "str",
                 "stdin_add_newline": "bool"}
# the options Ansible takes out of a free-form command line (the rest is the command); those
# orc's command has no argument for are then refused by name rather than run as text
COMMAND_OPTIONS = frozenset({"chdir", "creates", "removes", "executable", "stdin",
                             "stdin_add_newline", "strip_empty_ends", "warn"})

MODULES = [
    Module("command", COMMAND_ARGS, _run(False), free_form="cmd", raw_options=COMMAND_OPTIONS,
           types=COMMAND_TYPES, reads_host=_looks),
    Module("shell", COMMAND_ARGS, _run(True), free_form="cmd", raw_options=COMMAND_OPTIONS,
           types=COMMAND_TYPES, reads_host=_looks),
    Module("git", {"repo": REQUIRED, "dest": REQUIRED, "version": "HEAD", "update": True,
                   "depth": None}, _git, aliases={"name": "repo"},
           types={"repo": "str", "dest": "path", "version": "str", "update": "bool",
                  "depth": "int"}),
    Module("get_url", {"url": REQUIRED, "dest": REQUIRED, "mode": None, "owner": None,
                       "group": None, "checksum": None, "force": False}, _get_url,
           types={"url": "str", "dest": "path", "mode": "raw", "owner": "str", "group": "str",
                  "checksum": "str", "force": "bool"}),
]
