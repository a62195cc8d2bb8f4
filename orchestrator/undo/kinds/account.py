"""User and group accounts: their lines in the user and group databases, one resource per
database and name (`/etc/passwd:alice`), with a user's home and mail spool as paths.

Lines are restored exactly, at their place: entries that existed are put back before anything
else (restored files may be owned by them), entries the run created are removed after
everything else (after the files and packages that used them), with the system accounts the
maintainer scripts of the run's packages made. The kind is named `entry` in journals.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from shlex import quote
from typing import Any

from pyinfra.operations import files, server

from orchestrator.undo.kinds.base import HostPlan, Kind, PreImage, Resource

NAME = "entry"
# (database, which field a name is in): user and group entries are restored line by line
USER_DBS = ("/etc/passwd", "/etc/shadow", "/etc/subuid", "/etc/subgid")
GROUP_DBS = ("/etc/group", "/etc/gshadow")


def _home(kwargs: dict[str, Any]) -> str:
    return kwargs.get("home") or f"/home/{kwargs['user']}"


def _user(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    name = kwargs["user"]
    groups = {name, *(g for g in [kwargs.get("group")] if g), *(kwargs.get("groups") or [])}
    found = [Resource(NAME, f"{db}:{name}") for db in USER_DBS]
    found += [Resource(NAME, f"{db}:{g}") for g in sorted(groups) for db in GROUP_DBS]
    return found + [Resource("path", _home(kwargs)), Resource("path", f"/var/mail/{name}")]


def _group(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return [Resource(NAME, f"{db}:{kwargs['group']}") for db in GROUP_DBS]


OPERATIONS = {server.user: _user, server.group: _group}

SHELL = r"""
snap_entry() {
  if [ -f "$2" ]; then l=$(grep -n -m1 -- "^$3:" "$2"); else l=; fi
  if [ -n "$l" ]; then printf '%s\tentry\t%s\n' "$1" "$l"; else printf '%s\tentry\n' "$1"; fi
}
"""


def capture(index: int, key: str, copy_to: str) -> str:
    db, name = key.rsplit(":", 1)
    return f"snap_entry {index} {quote(db)} {quote(name)}"


def parse(tag: str, fields: list[str], state: dict[str, Any]) -> None:
    if fields:
        number, _, entry = fields[0].partition(":")
        state.update(line=entry, index=int(number) - 1)
    else:
        state["line"] = None


def summary(image: PreImage) -> str:
    return "present" if image.state.get("line") is not None else "absent"


def _difference(left: dict[str, Any], now: dict[str, Any]) -> str | None:
    if left.get("line") == now.get("line"):
        return None
    return "entry " + ("removed" if now.get("line") is None else "added"
                       if left.get("line") is None else "edited")


@dataclass
class _Memo:
    databases: dict[str, tuple[list[str], str]]  # db -> its lines, and `mode user group`
    entries: list[PreImage]  # the recorded entries, then those packages created
    created: list[PreImage] = field(default_factory=list)


def _read_databases(plan: HostPlan) -> dict[str, tuple[list[str], str]]:
    """The user and group databases as lines, with their `mode user group`."""
    found = {}
    for db in (*USER_DBS, *GROUP_DBS):
        ok, lines = plan.reads.shell(f"stat -c '%a %U %G' {db}")
        if not ok:
            continue  # a database this host does not have (e.g. no /etc/subuid)
        found[db] = ((plan.reads.file(db) or b"").decode().splitlines(), lines[0])
    return found


def before(plan: HostPlan) -> None:
    """Read the databases (if entries were recorded, or packages may have created accounts)
    and put back, first, the entries that existed."""
    from orchestrator.undo.kinds import package  # it imports this module

    entries = [i for i in plan.images if i.kind == NAME and i.state]
    reading = entries or package.installed_before(plan) is not None
    memo = plan.memo[NAME] = _Memo(_read_databases(plan) if reading else {}, entries)
    if entries:
        _put(plan, plan.step(PreImage(-1, NAME, "users and groups", "", "", False), "head"),
             memo.databases, [i for i in entries if i.state.get("line") is not None])


def restore(plan: HostPlan, image: PreImage) -> None:
    return None  # all at once, in `before` and `after`


def after(plan: HostPlan) -> None:
    """Remove, last, the entries the run created."""
    memo: _Memo = plan.memo[NAME]
    removed = [i for i in (*memo.entries, *memo.created) if i.state.get("line") is None]
    if removed:
        _put(plan, plan.step(PreImage(-1, NAME, "users and groups created", "", "", False),
                             "tail"), memo.databases, removed)


def created_by_packages(plan: HostPlan, before: dict[str, set[str]]) -> None:
    """System users and groups that appeared since the pre-image and that no task recorded:
    made by the maintainer scripts of packages the run installed, removed with them."""
    memo: _Memo = plan.memo[NAME]
    _, lines = plan.reads.shell("cut -d: -f1,3 /etc/passwd; echo @@; cut -d: -f1,3 /etc/group")
    users, _, groups = "\n".join(lines).partition("@@")
    known = {i.key.rsplit(":", 1)[1] for i in (*memo.entries, *memo.created)}
    for names, dbs, old in ((users, USER_DBS, before.get("users", set())),
                            (groups, GROUP_DBS, before.get("groups", set()))):
        for line in names.split():
            name, _, number = line.partition(":")
            if name in old or name in known or not number.isdigit() or int(number) >= 1000:
                continue
            memo.created += [PreImage(-1, NAME, f"{db}:{name}", "packages installed", "", False,
                                      {"line": None}) for db in dbs]


def _put(plan: HostPlan, step: Any, databases: dict[str, tuple[list[str], str]],
         images: list[PreImage]) -> None:
    """Put entries back line for line (an entry that was absent is removed, a changed one gets
    its exact old line back at its place) and update `databases` to what was put."""
    for db, (lines, meta) in databases.items():
        edited = list(lines)
        for image in images:
            image_db, name = image.key.rsplit(":", 1)
            if image_db != db:
                continue
            at = next((n for n, line in enumerate(edited) if line.startswith(f"{name}:")), None)
            old = image.state.get("line")
            if old is None and at is not None:
                del edited[at]
            elif old is not None and at is not None:
                edited[at] = old
            elif old is not None:
                edited.insert(min(image.state.get("index", len(edited)), len(edited)), old)
        if edited == lines:
            continue
        databases[db] = (edited, meta)
        mode, user, group = meta.split()
        content = "\n".join(edited) + ("\n" if edited else "")
        plan.add(step, files.put, src=io.BytesIO(content.encode()), dest=db, mode=mode,
                 user=user, group=group)


KIND = Kind(NAME, OPERATIONS, summary, restore, shell=SHELL, capture=capture, tags=(NAME,),
            parse=parse, difference=_difference, before=before, after=after)
