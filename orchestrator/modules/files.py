"""File modules: copy, template, file, lineinfile, blockinfile, replace -> pyinfra `files.*`."""

from __future__ import annotations

import io
import json
import re
import stat
from pathlib import Path
from typing import Any

from pyinfra.facts.files import Directory, File
from pyinfra.operations import files

from orchestrator import inputfile
from orchestrator.modules import modes
from orchestrator.modules.base import (
    REQUIRED,
    FilePreview,
    HostContext,
    Module,
    OpCall,
    present,
)
from orchestrator.templating import render_file

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


def _put(dest: str, content: str, args: dict[str, Any], ctx: HostContext,
         source: Path | None = None) -> OpCall:
    kwargs = {"src": io.BytesIO(content.encode()), "dest": dest,
              **_put_ownership(args, ctx, dest, source)}
    return OpCall(files.put, kwargs, FilePreview(dest, content))


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
    if not args["force"] and ctx.host.get_fact(File, path=args["dest"]) is not None:
        return []  # force: false only creates the file; an existing one is left as it is
    if args["content"] is not None:
        return [_put(args["dest"], _content(args["content"]), args, ctx)]
    source = ctx.find("files", args["src"])
    kwargs = {"src": str(source), "dest": args["dest"],
              **_put_ownership(args, ctx, args["dest"], source)}
    content = inputfile.read_bytes(source, copy=True)  # a regular file within the copy limit
    try:
        preview = FilePreview(args["dest"], content.decode("utf-8"))
    except UnicodeDecodeError:
        preview = None  # binary: the plan says it changes, without a text diff
    return [OpCall(files.put, kwargs, preview)]


def _template(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    source = ctx.find("templates", args["src"])
    content = render_file(source, ctx.variables, trim_blocks=bool(args["trim_blocks"]),
                          lstrip_blocks=bool(args["lstrip_blocks"]),
                          newline_sequence=args["newline_sequence"])
    return [_put(args["dest"], content, args, ctx, source)]


def _file(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    path, state = args["path"], args["state"] or "file"
    if state == "directory" and args["recurse"] and modes.is_symbolic(args["mode"]):
        raise ValueError("a symbolic mode with recurse: true is not supported; give the mode "
                         "as octal digits")
    owned = _owned(args, ctx, path, directory=state == "directory")
    if state == "directory":
        return [OpCall(files.directory, {"path": path, "recursive": bool(args["recurse"]), **owned})]
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


def _ere_escape(text: str) -> str:
    return re.sub(r"([.\\+*?\[^\]$(){}|/])", r"\\\1", text)


def _lineinfile(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    path, line, regexp = args["path"], args["line"], args["regexp"]
    want = present(args)
    if want and line is None:
        raise ValueError("lineinfile with state=present needs 'line'")
    pattern = regexp if regexp else f"^{_ere_escape(str(line))}$"
    calls = []
    if args["create"] and want:
        calls.append(OpCall(files.file, {"path": path, **_owned(args, ctx, path)}))

    def transform(before: str | None) -> str | None:
        lines = (before or "").splitlines()
        matcher = re.compile(regexp) if regexp else None
        hits = [i for i, text in enumerate(lines)
                if (matcher.search(text) if matcher else text == line)]
        if not want:
            lines = [text for i, text in enumerate(lines) if i not in hits]
        elif hits:
            for i in hits:
                lines[i] = str(line)
        else:
            lines.append(str(line))
        return "\n".join(lines) + "\n" if lines else ""

    calls.append(OpCall(
        files.line,
        {"path": path, "line": pattern, "replace": None if line is None else str(line),
         "present": want, "extended_regex": True, "ensure_newline": True},
        FilePreview(path, transform=transform),
    ))
    return calls


def _blockinfile(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    path, block, want = args["path"], str(args["block"] or ""), present(args)
    marker = args["marker"]
    begin = marker.replace("{mark}", args["marker_begin"])
    end = marker.replace("{mark}", args["marker_end"])
    calls = []
    if args["create"] and want:
        calls.append(OpCall(files.file, {"path": path, **_owned(args, ctx, path)}))

    def transform(before: str | None) -> str | None:
        lines = (before or "").splitlines()
        new_block = [begin, *block.rstrip("\n").splitlines(), end] if want else []
        if begin in lines and end in lines[lines.index(begin):]:
            start = lines.index(begin)
            stop = lines.index(end, start)
            lines[start:stop + 1] = new_block
        else:
            lines += new_block
        return "\n".join(lines) + "\n" if lines else ""

    calls.append(OpCall(
        files.block,
        {"path": path, "content": block.rstrip("\n"), "present": want, "marker": marker,
         "begin": args["marker_begin"], "end": args["marker_end"]},
        FilePreview(path, transform=transform),
    ))
    return calls


def _replace(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    regexp, replacement = args["regexp"], args["replace"] or ""

    def transform(before: str | None) -> str | None:
        if before is None:
            return None
        return "".join(re.sub(regexp, replacement, line) for line in before.splitlines(True))

    return [OpCall(
        files.replace,
        {"path": args["path"], "text": regexp, "replace": replacement, "extended_regex": True},
        FilePreview(args["path"], transform=transform),
    )]


MODULES = [
    Module("copy", {"src": None, "content": None, "dest": REQUIRED, "backup": False,
                    "force": True, **OWNERSHIP}, _copy, source=("src", "files"),
           types={"src": "path", "content": "raw", "dest": "path", "backup": "bool",
                  "force": "bool", **OWNERSHIP_TYPES}),
    Module("template", {"src": REQUIRED, "dest": REQUIRED, "backup": False,
                        "trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n",
                        **OWNERSHIP},
           _template, source=("src", "templates"),
           choices={"newline_sequence": ("\n", "\r", "\r\n")},
           types={"src": "path", "dest": "path", "backup": "bool", "trim_blocks": "bool",
                  "lstrip_blocks": "bool", "newline_sequence": "str", **OWNERSHIP_TYPES}),
    Module("file", {"path": REQUIRED, "state": None, "src": None, "recurse": False,
                    "force": False, **OWNERSHIP}, _file,
           aliases={"dest": "path", "name": "path"},
           choices={"state": ("file", "directory", "link", "absent", "touch")},
           types={"path": "path", "state": "str", "src": "path", "recurse": "bool",
                  "force": "bool", **OWNERSHIP_TYPES}),
    Module("lineinfile", {"path": REQUIRED, "line": None, "regexp": None, "state": "present",
                          "create": False, "backup": False, **OWNERSHIP}, _lineinfile,
           aliases={"dest": "path", "name": "path", "value": "line", "regex": "regexp"},
           choices={"state": ("present", "absent")},
           types={"path": "path", "line": "str", "regexp": "str", "state": "str",
                  "create": "bool", "backup": "bool", **OWNERSHIP_TYPES}),
    Module("blockinfile", {"path": REQUIRED, "block": "", "state": "present",
                           "marker": "# {mark} ANSIBLE MANAGED BLOCK", "marker_begin": "BEGIN",
                           "marker_end": "END", "create": False, "backup": False, **OWNERSHIP},
           _blockinfile, aliases={"dest": "path", "name": "path", "content": "block"},
           choices={"state": ("present", "absent")},
           types={"path": "path", "block": "str", "state": "str", "marker": "str",
                  "marker_begin": "str", "marker_end": "str", "create": "bool",
                  "backup": "bool", **OWNERSHIP_TYPES}),
    Module("replace", {"path": REQUIRED, "regexp": REQUIRED, "replace": "", "backup": False},
           _replace, aliases={"dest": "path", "name": "path"},
           types={"path": "path", "regexp": "str", "replace": "str", "backup": "bool"}),
]
