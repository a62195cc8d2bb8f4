"""The resource kinds, and what the journal, drift and restore read of them.

One module per kind (`path`, `package`, `service`, `account`, `sysctl`, `command`,
`unsupported`), each a `Kind` (base.py). Adding a kind (pip packages, say) is a module here and
its line in `KINDS`. The order of `KINDS` is the order of the kinds' `after` hooks (units are
reloaded before the accounts the run created are removed) and of their `settle` hooks.

Which resources an operation changes is kept with the kinds, not with the task modules that
make the operations: the same pyinfra operation comes from several task modules (and from
`pyinfra.<module>.<op>` tasks that no module wraps), and what it changes is a fact of the
operation. Each operation belongs to exactly one kind, the one it is about, which names all it
changes: a user is its entries, home and mail spool (`account`); `apt-get upgrade` is about
packages, and the package kind says why it cannot name them in advance. A user's crontab is one
spool file, so cron tasks are `path` resources and cron has no kind of its own.
"""

from __future__ import annotations

import shlex
from typing import Any

from orchestrator.undo.kinds import account, command, package, path, service, sysctl, unsupported
from orchestrator.undo.kinds.base import Kind, PreImage, Resource

KINDS: dict[str, Kind] = {k.name: k for k in (
    package.KIND, service.KIND, account.KIND, sysctl.KIND, command.KIND, path.KIND,
    unsupported.KIND)}
RESTORABLE = tuple(k.name for k in KINDS.values() if k.restorable)


def _by_operation() -> dict[Any, Kind]:
    found: dict[Any, Kind] = {}
    for kind in KINDS.values():
        for op in kind.operations:
            if op in found:
                raise RuntimeError(f"{op.__name__} belongs to both {found[op].name} and "
                                   f"{kind.name}")
            found[op] = kind
    return found


_OPERATIONS = _by_operation()
_TAGS = {tag: kind for kind in KINDS.values() for tag in kind.tags}


def get(name: str) -> Kind:
    """The kind of that name; a name this orc does not know (a journal of a newer one) is
    reported as not recorded."""
    return KINDS.get(name, unsupported.KIND)


def resources_of(op: Any, kwargs: dict[str, Any], undo: str | None = None) -> list[Resource]:
    """What a pyinfra operation call may change, named so its prior state can be captured."""
    kind = _OPERATIONS.get(op)
    return kind.operations[op](kwargs, undo) if kind else unsupported.of(op)


SHELL = "\numask 077\n" + "".join(k.shell for k in KINDS.values())


def capture_script(batch_dir: str, resources: list[Resource], copy: bool = True) -> str:
    """The shell that captures every resource's state and prints it; with `copy`, files are
    also copied into `batch_dir` (a pre-image), and the installed packages are listed when a
    package is recorded; else only attributes and hashes are read."""
    q = shlex.quote
    run = batch_dir.rsplit("/", 1)[0]
    lines = [SHELL]
    if copy:
        lines.append(f"mkdir -p {q(batch_dir)}/files && chmod 700 {q(run.rsplit('/', 1)[0])} "
                     f"{q(run)} {q(batch_dir)}")
    if copy and any(r.kind == package.NAME for r in resources):
        lines.append(package.CAPTURE_INSTALLED)
    ends: dict[str, str] = {}
    for i, r in enumerate(resources):
        kind = get(r.kind)
        if kind.capture is not None:
            lines.append(kind.capture(i, r.key, f"{batch_dir}/files/{i}" if copy else ""))
            if kind.capture_end:
                ends[kind.name] = kind.capture_end
    return "\n".join([*lines, *ends.values()]) + "\n"


def parse_state(text: str) -> tuple[dict[int, dict[str, Any]], dict[str, list[str]] | None]:
    """Read the capture script's output: the state per resource index, and the installed
    package names with the user and group names (None when no package was captured): packages
    the run installs may create system accounts, which their rollback removes."""
    states: dict[int, dict[str, Any]] = {}
    packages: dict[str, list[str]] | None = None
    for line in text.splitlines():
        parts = line.split("\t")
        if parts[0] in ("packages", "accounts"):
            packages = package.parse_installed(parts, packages)
            continue
        if not parts[0].isdigit() or len(parts) < 2 or parts[1] not in _TAGS:
            continue
        state = states.setdefault(int(parts[0]), {})
        _TAGS[parts[1]].parse(parts[1], parts[2:], state)
    return states, packages


def summary(image: PreImage) -> str:
    return get(image.kind).summary(image)


__all__ = ["KINDS", "RESTORABLE", "Kind", "PreImage", "Resource", "capture_script", "get",
           "parse_state", "resources_of"]
