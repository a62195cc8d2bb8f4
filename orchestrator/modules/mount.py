"""ansible.posix.mount: the fstab line Ansible writes, and the mount made or undone to match.

The fstab is edited on the controller from its current bytes (`fstab_present`, `fstab_absent`,
pure functions) and written by the `rewrite` operation, so `orc plan` shows the exact line. The
rules are those of the collection's documentation (ansible.posix.mount, Linux): a line is
`src path fstype opts dump passno` with spaces, tabs, newlines and backslashes in a field written
as octal escapes (`\\040`...); the entry is the line whose mount point (second field) is `path`
(for swap, `none` with the same src); lines that are blank, comments or without 4 to 6 fields
are left as they are; an entry whose fields differ is rewritten in place, a missing one is
appended. `boot: false` adds `noauto` to the options (`defaults,noauto`), as the collection
does on ansible-playbook (differential case modules-mount).

Mounting follows the same documentation: `mounted` creates the mount point and mounts it when
it is not mounted (`mount [-T fstab] path`, which reads the entry just written), and remounts it
when its fstab entry changed; `unmounted` and `absent` unmount (`umount path`), `absent` then
removes the mount point directory; `remounted` always remounts.

The journal records the fstab's bytes, so `orc rollback` puts the file back. Mounting,
unmounting and the mount point's removal are commands (`server.shell`), which the journal
records as such: a rollback lists each one as irreversible, by its command line (`mkdir -p /mnt/x
&& mount /mnt/x`), and exits 3, so whoever rolls back knows to unmount or mount by hand. A task
may give `undo:` (a command that reverses them, e.g. `umount /mnt/x`), which the rollback runs.
"""

from __future__ import annotations

import shlex
from typing import Any

from pyinfra.facts.files import Directory
from pyinfra.api import FactBase
from pyinfra.operations import server

from orchestrator.modules import rewrite
from orchestrator.modules.base import REQUIRED, HostContext, Module, OpCall

_ESCAPES = (("\\", "\\134"), (" ", "\\040"), ("\t", "\\011"), ("\n", "\\012"))


def escape(field: str) -> str:
    for raw, escaped in _ESCAPES:
        field = field.replace(raw, escaped)
    return field


def _entry(args: dict[str, Any]) -> dict[str, str]:
    opts = str(args.get("opts") or "defaults")
    if args.get("boot") is False and "noauto" not in opts.split(","):
        opts = f"{opts},noauto"  # `defaults,noauto`, as ansible.posix.mount writes it
    return {"src": escape(str(args.get("src") or "")), "name": escape(str(args["path"])),
            "fstype": escape(str(args.get("fstype") or "")), "opts": escape(opts),
            "dump": str(args["dump"] if args.get("dump") is not None else "0"),
            "passno": str(args["passno"] if args.get("passno") is not None else "0")}


def _line(entry: dict[str, str]) -> str:
    return "{src} {name} {fstype} {opts} {dump} {passno}\n".format(**entry)


def _fields(line: str) -> dict[str, str] | None:
    """A fstab line's fields, or None for a line Ansible leaves alone."""
    if not line.strip() or line.strip().startswith("#"):
        return None
    parts = line.split()
    if len(parts) not in (4, 5, 6):
        return None
    parts += ["0"] * (6 - len(parts))
    return dict(zip(("src", "name", "fstype", "opts", "dump", "passno"), parts))


def _is_entry(found: dict[str, str], entry: dict[str, str]) -> bool:
    if found["name"] != entry["name"]:
        return False
    # several swap lines share the mount point `none`: the src tells them apart
    return not (found["name"] == "none" and found["fstype"] == "swap"
                and found["src"] != entry["src"])


def fstab_present(current: bytes | None, args: dict[str, Any]) -> bytes:
    entry = _entry(args)
    lines = (current or b"").decode("utf-8", "surrogateescape").splitlines(True)
    out, found_one = [], False
    for line in lines:
        found = _fields(line)
        if found is None or not _is_entry(found, entry):
            out.append(line)
            continue
        found_one = True
        changed = {k: v for k, v in entry.items() if found[k] != v}
        out.append(_line({**found, **changed}) if changed else line)
    if not found_one:
        out.append(_line(entry))
    return "".join(out).encode("utf-8", "surrogateescape")


def fstab_absent(current: bytes | None, args: dict[str, Any]) -> bytes | None:
    if current is None:
        return None
    entry = _entry(args)
    lines = current.decode("utf-8", "surrogateescape").splitlines(True)
    kept = [line for line in lines
            if (found := _fields(line)) is None or not _is_entry(found, entry)]
    return "".join(kept).encode("utf-8", "surrogateescape")


def _mount_command(verb: list[str], args: dict[str, Any]) -> str:
    fstab = args.get("fstab") or "/etc/fstab"
    table = ["-T", fstab] if fstab != "/etc/fstab" else []
    return shlex.join(["mount", *verb, *table, str(args["path"])])


class MountPoints(FactBase):
    """The host's mount points, from /proc/self/mountinfo (its fifth field, octal-escaped as in
    fstab). pyinfra's Mounts fact asks the kernel's name through the operation context, which a
    module's build does not have."""

    def command(self) -> str:
        return "cat /proc/self/mountinfo"

    def process(self, output: list[str]) -> set[str]:
        points = set()
        for line in output:
            fields = line.split()
            if len(fields) > 4:
                points.add(fields[4].encode().decode("unicode_escape"))
        return points


def _build(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    state, path = args["state"], str(args["path"]).rstrip("/") or "/"
    args = {**args, "path": path}
    fstab = args.get("fstab") or "/etc/fstab"
    if state in ("mounted", "present") and not (args.get("src") and args.get("fstype")):
        raise ValueError(f"state is {state} but all of the following are missing: "
                         + ", ".join(k for k in ("src", "fstype") if not args.get(k)))
    mounted = path in ctx.host.get_fact(MountPoints)
    calls: list[OpCall] = []
    table_changes = False
    if state in ("mounted", "present"):
        before = ctx.host.get_fact(rewrite.FileBytes, path=fstab)
        table_changes = fstab_present(before.content, args) != before.content
        calls.append(OpCall(rewrite.rewrite, {"path": fstab,
                                              "compute": lambda b: fstab_present(b, args)}))
    elif state == "absent":
        calls.append(OpCall(rewrite.rewrite, {"path": fstab,
                                              "compute": lambda b: fstab_absent(b, args)}))
    if state == "mounted":
        if not mounted:
            calls.append(OpCall(server.shell, {"commands": [
                f"mkdir -p {shlex.quote(path)}", _mount_command([], args)]}))
        elif table_changes:
            calls.append(OpCall(server.shell, {"commands": [
                _mount_command(["-o", "remount"], args)]}))
    elif state in ("unmounted", "absent"):
        if mounted:
            calls.append(OpCall(server.shell, {"commands": [shlex.join(["umount", path])]}))
        if state == "absent" and ctx.host.get_fact(Directory, path=path):
            # Ansible removes the mount point directory (rmdir: an empty one only)
            calls.append(OpCall(server.shell, {"commands": [
                f"if [ -d {shlex.quote(path)} ]; then rmdir {shlex.quote(path)}; fi"]}))
    elif state == "remounted":
        calls.append(OpCall(server.shell, {"commands": [
            _mount_command(["-o", "remount"], args)]}))
    return calls


ARGS = {"path": REQUIRED, "src": None, "fstype": None, "opts": None, "dump": "0",
        "passno": "0", "state": REQUIRED, "fstab": None, "boot": True}
TYPES = {"path": "path", "src": "path", "fstype": "str", "opts": "str", "dump": "str",
         "passno": "str", "state": "str", "fstab": "str", "boot": "bool"}
STATES = ("absent", "mounted", "present", "unmounted", "remounted")

# under the collection's full name (modules.COLLECTIONS) and the short name roles write
# it reads what is mounted when it is built: a mount an earlier task makes must have run by then
MODULE, SHORT = (Module(name, ARGS, _build, aliases={"name": "path"}, types=TYPES,
                        choices={"state": STATES}, reads_host=True)
                 for name in ("ansible.posix.mount", "mount"))
