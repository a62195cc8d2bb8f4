"""File modules: copy, template, file, lineinfile, blockinfile, replace -> pyinfra `files.*`."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path
from typing import Any

from pyinfra.facts.files import Directory, File
from pyinfra.operations import files

from orchestrator.load import inputfile
from orchestrator.modules import edits, modes, rewrite, tree
from orchestrator.modules.base import (
    REQUIRED,
    FilePreview,
    HostContext,
    Module,
    OpCall,
)
from orchestrator.templating.render import render_file

OWNERSHIP = {"mode": None, "owner": None, "group": None}
# Ansible's types for them (mode is `raw`: an octal number or a string like "u=rw,g=r")
OWNERSHIP_TYPES = {"mode": "raw", "owner": "str", "group": "str"}


def _owned(args: dict[str, Any], ctx: HostContext, path: str, directory: bool = False,
           source: Path | None = None) -> dict[str, Any]:
    return {"user": args["owner"], "group": args["group"],
            "mode": _mode(args["mode"], ctx, path, directory, source)}


def _mode(value: Any, ctx: HostContext, path: str, directory: bool,
          source: Path | None = None) -> str | None:
    """The task's `mode:` as pyinfra sets it (see modules/modes.py): a number, or for a
    symbolic mode on a path that does not exist when the task is planned, the symbolic mode
    itself, which chmod applies to the path as the task (or an earlier one) creates it.
    `preserve` is the source file's mode."""
    if value == "preserve":
        if source is None:
            raise ValueError("mode=preserve needs a source file ('src')")
        return modes.pyinfra_mode(stat.S_IMODE(source.stat().st_mode))
    if not modes.is_symbolic(value):
        return modes.pyinfra_mode(modes.octal(value))
    current = _current_mode(ctx, path, directory)
    if current is None:
        modes.apply_symbolic(str(value), 0, directory)  # a bad mode fails now, not on the host
        return str(value)
    return modes.pyinfra_mode(modes.apply_symbolic(str(value), current, directory))


def _current_mode(ctx: HostContext, path: str, directory: bool) -> int | None:
    info = ctx.host.get_fact(Directory if directory else File, path=path)
    return int(str(info["mode"]), 8) if info else None


def _put(dest: str, content: bytes, args: dict[str, Any], ctx: HostContext,
         source: Path | None = None) -> OpCall:
    if _checked(args):
        mode = args["mode"]
        if mode == "preserve":
            mode = _mode(mode, ctx, dest, False, source)
        return _rewrite(dest, lambda current: content, {**args, "mode": mode},
                        force=bool(args["force"]))
    kwargs = {"src": io.BytesIO(content), "dest": dest,
              **_put_ownership(args, ctx, dest, source)}
    return OpCall(files.put, kwargs, FilePreview(dest, content.decode("utf-8", "replace")))


def _put_ownership(args: dict[str, Any], ctx: HostContext, dest: str,
                   source: Path | None) -> dict[str, Any]:
    """copy and template: a file they create gets the umask's 0644 (pyinfra alone would make
    it 0600) and a symbolic mode applies to that; without `mode:` an existing file keeps its
    mode, as in Ansible."""
    current = _current_mode(ctx, dest, False)
    value = args["mode"]
    if value is None:
        mode = None if current is not None else modes.pyinfra_mode(modes.NEW_FILE)
    elif modes.is_symbolic(value):
        base = current if current is not None else modes.NEW_FILE
        mode = modes.pyinfra_mode(modes.apply_symbolic(str(value), base, False))
    else:
        mode = _mode(value, ctx, dest, False, source)
    return {"user": args["owner"], "group": args["group"], "mode": mode}


def _content(value: Any) -> str:
    """copy's `content` as Ansible writes it: a list or mapping (from a lone `{{ var }}`) as
    JSON, anything else as its text."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _copy(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    if (args["src"] is None) == (args["content"] is None):
        raise ValueError("copy needs exactly one of 'src' or 'content'")
    if args["remote_src"]:
        return [_remote_copy(args)]
    if args["content"] is not None:
        return [_put(args["dest"], _content(args["content"]).encode(), args, ctx)]
    source = ctx.find("files", args["src"])
    content = inputfile.read_bytes(source, copy=True)  # a regular file within the copy limit
    if _checked(args):
        return [_put(args["dest"], content, args, ctx, source)]
    kwargs = {"src": str(source), "dest": args["dest"],
              **_put_ownership(args, ctx, args["dest"], source)}
    try:
        preview = FilePreview(args["dest"], content.decode("utf-8"))
    except UnicodeDecodeError:
        preview = None  # binary: the plan says it changes, without a text diff
    return [OpCall(files.put, kwargs, preview)]


def _remote_copy(args: dict[str, Any]) -> OpCall:
    """copy with `remote_src`: `src` is a file on the host, read when the task runs (an earlier
    task may make it). A directory as `src` is refused: only files are copied this way."""
    if args["mode"] == "preserve":
        raise ValueError("mode=preserve with remote_src is not supported; give the mode")
    return _rewrite(args["dest"], _unused, args, preview=False, remote_src=args["src"],
                    force=bool(args["force"]))


def _unused(current: bytes | None) -> bytes | None:
    raise AssertionError("remote_src: the content is the source file's")


def _checked(args: dict[str, Any]) -> bool:
    """copy and template with `validate`, `backup` or `force: false` write through `rewrite`,
    which does them as Ansible does, looking at the file as the task finds it when it runs."""
    return bool(args.get("validate")) or bool(args.get("backup")) or not args["force"]


def _template(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    source = ctx.find("templates", args["src"])
    content = render_file(source, ctx.variables, trim_blocks=bool(args["trim_blocks"]),
                          lstrip_blocks=bool(args["lstrip_blocks"]),
                          newline_sequence=args["newline_sequence"])
    return [_put(args["dest"], content.encode(), args, ctx, source)]


def _file(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    path, state = args["path"], args["state"] or "file"
    if args["recurse"] and state != "directory":
        raise ValueError("recurse option requires state to be 'directory'")
    owned = _owned(args, ctx, path, directory=state == "directory")
    if state == "directory":
        calls = [OpCall(files.directory, {"path": path, **owned})]
        if args["recurse"] and any(args[k] is not None for k in ("owner", "group", "mode")):
            calls.append(OpCall(tree.attributes, {"path": path, "user": args["owner"],
                                                  "group": args["group"], "mode": args["mode"]}))
        return calls
    if state == "link":
        if not args["src"]:
            raise ValueError("file with state=link needs 'src' (the link target)")
        return [OpCall(files.link, {"path": path, "target": args["src"], "user": owned["user"],
                                    "group": owned["group"], "force": bool(args["force"])})]
    if state == "absent":
        if ctx.host.get_fact(Directory, path=path):
            return [OpCall(files.directory, {"path": path, "present": False})]
        return [OpCall(files.file, {"path": path, "present": False}, FilePreview(path, None))]
    return [OpCall(files.file, {"path": path, "touch": state == "touch", **owned})]


def _preview(path: str, compute: rewrite.Compute) -> FilePreview:
    """The plan's diff: the same edit, of the bytes the plan reads from the host."""

    def transform(before: str | None) -> str | None:
        try:
            after = compute(None if before is None
                            else before.encode("utf-8", "surrogateescape"))
        except edits.EditError:
            return before  # the task fails when it runs: nothing is written
        return None if after is None else after.decode("utf-8", "replace")

    return FilePreview(path, transform=transform)


def _rewrite(path: str, compute: rewrite.Compute, args: dict[str, Any],
             preview: bool = True, **extra: Any) -> OpCall:
    """The `rewrite` operation of `path` with the task's mode/owner/group/validate/backup."""
    kwargs = {"path": path, "compute": compute, "user": args["owner"], "group": args["group"],
              "mode": args["mode"], "validate": args.get("validate"),
              "backup": bool(args.get("backup")), **extra}
    return OpCall(rewrite.rewrite, kwargs, _preview(path, compute) if preview else None)


def _lineinfile(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    edit = edits.LineInFile(
        line=args["line"], regexp=args["regexp"], search_string=args["search_string"],
        state=args["state"] or "present", insertafter=args["insertafter"],
        insertbefore=args["insertbefore"], firstmatch=bool(args["firstmatch"]),
        backrefs=bool(args["backrefs"]), create=bool(args["create"]))
    edit.check()  # a wrong combination of arguments fails before any host is touched
    path = args["path"]
    return [_rewrite(path, lambda current: edits.lineinfile(current, edit, path), args)]


def _blockinfile(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    edit = edits.BlockInFile(
        block=str(args["block"] or ""), state=args["state"] or "present",
        marker=args["marker"], marker_begin=args["marker_begin"],
        marker_end=args["marker_end"], insertafter=args["insertafter"],
        insertbefore=args["insertbefore"], append_newline=bool(args["append_newline"]),
        prepend_newline=bool(args["prepend_newline"]), create=bool(args["create"]))
    if edit.insertafter is not None and edit.insertbefore is not None:
        raise ValueError("parameters are mutually exclusive: insertafter|insertbefore")
    path = args["path"]
    return [_rewrite(path, lambda current: edits.blockinfile(current, edit, path), args)]


def _replace(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    path, regexp, replacement = args["path"], args["regexp"], args["replace"] or ""
    after, before, encoding = args["after"], args["before"], args["encoding"]

    def compute(current: bytes | None) -> bytes | None:
        return edits.replace(current, regexp, replacement, after, before, encoding, path)

    return [_rewrite(path, compute, args)]


MODULES = [
    Module("copy", {"src": None, "content": None, "dest": REQUIRED, "backup": False,
                    "force": True, "remote_src": False, "validate": None, **OWNERSHIP},
           _copy, source=("src", "files"),
           types={"src": "path", "content": "raw", "dest": "path", "backup": "bool",
                  "force": "bool", "remote_src": "bool", "validate": "str",
                  **OWNERSHIP_TYPES}),
    Module("template", {"src": REQUIRED, "dest": REQUIRED, "backup": False, "force": True,
                        "validate": None, "trim_blocks": True, "lstrip_blocks": False,
                        "newline_sequence": "\n", **OWNERSHIP},
           _template, source=("src", "templates"),
           choices={"newline_sequence": ("\n", "\r", "\r\n")},
           types={"src": "path", "dest": "path", "backup": "bool", "force": "bool",
                  "validate": "str", "trim_blocks": "bool", "lstrip_blocks": "bool",
                  "newline_sequence": "str", **OWNERSHIP_TYPES}),
    Module("file", {"path": REQUIRED, "state": None, "src": None, "recurse": False,
                    "force": False, **OWNERSHIP}, _file,
           aliases={"dest": "path", "name": "path"},
           choices={"state": ("file", "directory", "link", "absent", "touch")},
           types={"path": "path", "state": "str", "src": "path", "recurse": "bool",
                  "force": "bool", **OWNERSHIP_TYPES}),
    Module("lineinfile", {"path": REQUIRED, "line": None, "regexp": None,
                          "search_string": None, "state": "present", "insertafter": None,
                          "insertbefore": None, "firstmatch": False, "backrefs": False,
                          "create": False, "backup": False, "validate": None, **OWNERSHIP},
           _lineinfile,
           aliases={"dest": "path", "destfile": "path", "name": "path", "value": "line",
                    "regex": "regexp"},
           choices={"state": ("present", "absent")},
           types={"path": "path", "line": "str", "regexp": "str", "search_string": "str",
                  "state": "str", "insertafter": "str", "insertbefore": "str",
                  "firstmatch": "bool", "backrefs": "bool", "create": "bool",
                  "backup": "bool", "validate": "str", **OWNERSHIP_TYPES}),
    Module("blockinfile", {"path": REQUIRED, "block": "", "state": "present",
                           "marker": "# {mark} ANSIBLE MANAGED BLOCK", "marker_begin": "BEGIN",
                           "marker_end": "END", "insertafter": None, "insertbefore": None,
                           "append_newline": False, "prepend_newline": False,
                           "create": False, "backup": False, "validate": None, **OWNERSHIP},
           _blockinfile,
           aliases={"dest": "path", "destfile": "path", "name": "path", "content": "block"},
           choices={"state": ("present", "absent")},
           types={"path": "path", "block": "str", "state": "str", "marker": "str",
                  "marker_begin": "str", "marker_end": "str", "insertafter": "str",
                  "insertbefore": "str", "append_newline": "bool", "prepend_newline": "bool",
                  "create": "bool", "backup": "bool", "validate": "str", **OWNERSHIP_TYPES}),
    Module("replace", {"path": REQUIRED, "regexp": REQUIRED, "replace": "", "after": None,
                       "before": None, "encoding": "utf-8", "backup": False, "validate": None,
                       **OWNERSHIP},
           _replace, aliases={"dest": "path", "destfile": "path", "name": "path"},
           types={"path": "path", "regexp": "str", "replace": "str", "after": "str",
                  "before": "str", "encoding": "str", "backup": "bool", "validate": "str",
                  **OWNERSHIP_TYPES}),
]
