"""include_vars: the variables a task reads from YAML or JSON files on the controller.

A pure function of its arguments and the directories to search, so the engine runs it in the
task's place per host (after rendering the arguments) and `orc plan` can run it as read-only.
Semantics of ansible-core 2.19's include_vars (`ansible-doc include_vars`, and as observed):

- `file` (or the free-form text) names one file; a relative one is looked for in `search`
  (`search_path`: the role's `vars/` and the role, then beside the task's file, then beside the
  playbook, each as `<dir>/vars/` then `<dir>`).
- `dir` reads every file under a directory found the same way: the directory's own files
  first, then each subdirectory's, directories in the order of their path strings (so `a-b/`
  comes before `a/deep/`) and the files of one directory by name; hidden files count.
  `depth` 1 is the directory alone, 2 adds its subdirectories, 0 is no limit.
  `files_matching` is a regular expression searched in each file name, `ignore_files` are
  regular expressions a name must not end with, `extensions` (default json, yaml, yml) are
  the ones read; another extension is an error unless `ignore_unknown_extensions`.
- Each file must hold a mapping (an empty file is none); a later file's variables replace an
  earlier one's (`hash_behaviour: replace`; `merge` is refused at load).
- `name` puts them all under that one variable.

Files are read through `orchestrator.load.yamlfile` (safe YAML 1.1, which reads JSON too). Every
problem is one InputError at the task's place (`where`: path= and line=).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load import coerce, yamlfile

EXTENSIONS = ("json", "yaml", "yml")
DIR_ONLY = ("depth", "files_matching", "ignore_files", "extensions", "ignore_unknown_extensions")


def search_path(playbook_dir: Path, task_file: Path | None = None,
                role_path: Path | None = None) -> list[Path]:
    """Where a relative `file` or `dir` is looked for, in ansible-core's order."""
    bases = [b for b in (role_path, task_file.parent if task_file else None, playbook_dir)
             if b is not None]
    return list(dict.fromkeys(d for base in bases for d in (base / "vars", base)))


def _locate(name: str, search: list[Path], what: str, where: dict) -> Path:
    path = Path(name)
    candidates = [path] if path.is_absolute() else [base / name for base in search]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise InputError(f"include_vars: {what} {name!r} not found (looked in "
                     f"{', '.join(str(c.parent) for c in candidates)})", **where)


def _options(args: Mapping[str, Any], where: dict) -> dict[str, Any]:
    """The arguments as their types (the engine hands them rendered, maybe as strings)."""
    try:
        return {
            "depth": coerce.integer(args.get("depth") or 0),
            "extensions": coerce.string_list(args["extensions"])
            if args.get("extensions") is not None else list(EXTENSIONS),
            "ignore_files": coerce.string_list(args["ignore_files"])
            if args.get("ignore_files") is not None else [],
            "ignore_unknown_extensions": coerce.boolean(
                args.get("ignore_unknown_extensions") or False),
        }
    except coerce.ConversionError as err:
        raise InputError(f"include_vars: {err}", **where) from None


def _pattern(text: str, what: str, where: dict) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as err:
        raise InputError(f"include_vars: {what} {text!r} is not a regular expression: {err}",
                         **where) from None


def sources(args: Mapping[str, Any], search: list[Path], where: dict) -> list[Path]:
    """The files include_vars reads, in the order it reads them."""
    file = args.get("file") or args.get("_raw_params")
    directory = args.get("dir")
    if file and directory:
        raise InputError("include_vars: give `file` or `dir`, not both", **where)
    if not file and not directory:
        raise InputError("include_vars: needs a file (free-form or `file`) or `dir`", **where)
    if file:
        mixed = [k for k in DIR_ONLY if args.get(k) not in (None, 0, False)
                 and not (k == "extensions" and list(args[k]) == list(EXTENSIONS))]
        if mixed:
            raise InputError(f"include_vars: {', '.join(mixed)} only go with `dir`, not "
                             "`file`", **where)
        return [_locate(str(file), search, "file", where)]
    options = _options(args, where)
    root = _locate(str(directory), search, "dir", where)
    if not root.is_dir():
        raise InputError(f"include_vars: dir {str(root)!r} is not a directory", **where)
    matching = (_pattern(str(args["files_matching"]), "files_matching", where)
                if args.get("files_matching") else None)
    ignored = [_pattern(f"{p}$", "ignore_files", where) for p in options["ignore_files"]]
    found: list[Path] = []
    walked = sorted(os.walk(root, followlinks=True), key=lambda step: step[0])
    for current, _dirs, names in walked:
        level = len(Path(current).relative_to(root).parts) + 1
        if options["depth"] and level > options["depth"]:
            continue
        for name in sorted(names):
            if any(p.search(name) for p in ignored):
                continue
            if matching is not None and not matching.search(name):
                continue
            extension = os.path.splitext(name)[1][1:]
            if extension not in options["extensions"]:
                if options["ignore_unknown_extensions"]:
                    continue
                raise InputError(f"include_vars: {Path(current) / name} does not have one of "
                                 f"the extensions {', '.join(options['extensions'])}", **where)
            found.append(Path(current) / name)
    return found


def read(args: Mapping[str, Any], search: list[Path], where: dict) -> dict[str, Any]:
    """The variables include_vars defines with `args` (its arguments, rendered): a mapping of
    names to values, all under `args["name"]` when it is set."""
    if args.get("hash_behaviour") not in (None, "replace"):
        raise InputError(f"include_vars: hash_behaviour {args['hash_behaviour']!r}: orc only "
                         "replaces (the default)", **where)
    variables: dict[str, Any] = {}
    for path in sources(args, search, where):
        data = yamlfile.load(path)
        if data is None:
            continue
        if not isinstance(data, dict):
            raise InputError("include_vars: expected a mapping of variables", path=path,
                             line=1)
        variables.update(data)
    name = args.get("name")
    return {str(name): variables} if name else variables
