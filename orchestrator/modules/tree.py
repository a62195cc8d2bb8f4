"""The file module's `recurse: true`: a directory's owner, group and mode set on everything in it.

As Ansible's file module documents `recurse` ("Recursively set the specified file attributes on
directory contents"), each file and directory under the path gets the task's owner, group and
mode, the mode alike for files and directories (a symbolic mode is applied to each entry's own
mode, `X` as a directory or an executable file makes it). pyinfra's `files.directory` with
`recursive` only looks at the top directory's mode, so contents that differ while the top does
not were left as they were; here every entry is compared (one `find` reads them all) and only the
entries that differ are changed, so a second run is ok. Symbolic links inside are left alone.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

from pyinfra import host
from pyinfra.api import FactBase, operation
from pyinfra.api.command import StringCommand

from orchestrator.modules import modes

BATCH = 100  # paths per chmod/chown command


class TreeEntries(FactBase):
    """Everything under a directory but symbolic links: (is a directory, mode, owner, group,
    path), one `find`."""

    def command(self, path: str) -> str:
        return (f"find {shlex.quote(path)} -mindepth 1 ! -type l "
                "-printf '%y %m %u %g %p\\n' 2>/dev/null || true")

    def process(self, output: list[str]) -> list[tuple[bool, int, str, str, str]]:
        entries = []
        for line in output:
            parts = line.split(" ", 4)
            if len(parts) == 5:
                kind, mode, user, group, path = parts
                entries.append((kind == "d", int(mode, 8), user, group, path))
        return entries


@operation()
def attributes(path: str, user: str | None = None, group: str | None = None,
               mode: Any = None) -> Iterator[Any]:
    """Give every entry under `path` the owner, group and mode (octal or symbolic) it lacks."""
    chmods: dict[int, list[str]] = {}
    chowns: list[str] = []
    entries = host.get_fact(TreeEntries, path=path) or []  # none while the path is missing
    for directory, current, owner, grp, entry in entries:
        if mode is not None:
            want = (modes.apply_symbolic(str(mode), current, directory)
                    if modes.is_symbolic(mode) else modes.octal(mode))
            if want != current:
                chmods.setdefault(want, []).append(entry)  # type: ignore[arg-type]
        if (user and owner != user) or (group and grp != group):
            chowns.append(entry)
    if chowns:
        owner_spec = f"{user or ''}{':' + group if group else ''}"
        for start in range(0, len(chowns), BATCH):
            yield StringCommand("chown", "-h", owner_spec, "--",
                                *map(shlex.quote, chowns[start:start + BATCH]))
    for number, entries in sorted(chmods.items()):
        for start in range(0, len(entries), BATCH):
            yield StringCommand("chmod", format(number, "o"), "--",
                                *map(shlex.quote, entries[start:start + BATCH]))
