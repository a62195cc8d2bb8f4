"""Pre-images: what each resource a task may touch looked like before the run, kept on the host.

Between adding a play's operations and running them, orc knows per host which pyinfra operations
each task became. `resources_of` names what those operations can change (paths, packages,
services, user and group entries, sysctl keys, commands); `record` captures their prior state on
the host itself, in one shell command per host, under `/var/lib/orc/runs/<run>/` (root only,
file copies 0600), and syncs it before anything runs. The journal lives on the host so any
controller, even one with an empty `.orc/`, can roll the run back (`orchestrator.restore`).

pyinfra predicts changes from facts gathered before the run, so a task that depends on an
earlier one can be predicted unchanged and still change. On a host where some task is predicted
to change, every task from the first predicted change onward is recorded, changed or not; tasks
before it saw the host's true state, and are recorded only if predicted to change.

After the operations ran, `seal` captures the same resources again (attributes and hashes, no
copies) as the batch's after-image: what the run left. A rollback compares the host with it,
so a file changed by hand since the run is reported as drift instead of being overwritten.
Journals of old runs are pruned as new ones are recorded (`KEEP_RUNS` newest runs per host).
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import time
import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from pyinfra.operations import apt, crontab, files, git, pip, server, systemd

from orchestrator.errors import HostError
from orchestrator.modules import aptget, repositories, rewrite, tree

RUNS_DIR = "/var/lib/orc/runs"
# (database, which field a name is in): user and group entries are restored line by line
USER_DBS = ("/etc/passwd", "/etc/shadow", "/etc/subuid", "/etc/subgid")
GROUP_DBS = ("/etc/group", "/etc/gshadow")
RESTORABLE = ("path", "package", "service", "entry", "sysctl")
KEEP_RUNS = 20  # journals kept per host; older runs are pruned when a new one is recorded


@dataclass(frozen=True)
class Resource:
    """One thing a task may change: `kind` is path, package, service, entry, sysctl, command
    or unsupported; `key` names it (a path, a package, a unit, "db:name", a sysctl key)."""

    kind: str
    key: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreImage:
    """A resource's state before the run, and the task that was about to change it."""

    seq: int
    kind: str
    key: str
    task: str
    where: str
    predicted: bool  # pyinfra predicted the task would change something
    state: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    notify: list[dict[str, Any]] = field(default_factory=list)  # rendered handlers to re-run

    def summary(self) -> str:
        """One line for `orc show` and the controller index (never file bytes or hashes)."""
        s = self.state
        if self.kind == "path":
            if s.get("type") == "absent":
                return "absent"
            bits = [s.get("type", "?"), s.get("mode", ""), f"{s.get('user')}:{s.get('group')}"]
            if s.get("target"):
                bits.append(f"-> {s['target']}")
            return " ".join(b for b in bits if b)
        if self.kind == "package":
            return s.get("version") or "not installed"
        if self.kind == "service":
            return f"{s.get('active')}, {s.get('enabled') or 'no unit file'}"
        if self.kind == "entry":
            return "present" if s.get("line") is not None else "absent"
        if self.kind == "sysctl":
            return str(s.get("value"))
        if self.kind == "command":
            return f"undo: {self.extra['undo']}" if self.extra.get("undo") else "irreversible"
        return self.extra.get("why", "")


def _home(kwargs: dict[str, Any]) -> str:
    return kwargs.get("home") or f"/home/{kwargs['user']}"


def resources_of(op: Any, kwargs: dict[str, Any], undo: str | None = None) -> list[Resource]:
    """What a pyinfra operation call may change, named so its prior state can be captured."""
    if op in (files.put, files.file, files.line, files.block, files.replace, files.download,
              rewrite.rewrite):
        return [Resource("path", kwargs.get("dest") or kwargs["path"])]
    if op is tree.attributes:
        return [Resource("unsupported", f"{kwargs['path']}/*", {
            "why": "the owners and modes of a directory's contents (recurse) are not recorded"})]
    if op in (files.directory, files.link):
        return [Resource("path", kwargs["path"])]
    if op is apt.packages:
        return [Resource("package", str(p).split("=")[0]) for p in kwargs.get("packages") or []]
    if op is repositories.source_file:
        return [Resource("path", kwargs["path"])]
    if op is aptget.deb:
        if kwargs.get("package"):
            return [Resource("package", kwargs["package"])]
        return [Resource("unsupported", kwargs["src"], {
            "why": "a .deb fetched from a URL names its package only once downloaded"})]
    if op is aptget.action:
        return [Resource("unsupported", f"apt-get {kwargs['action']}", {
            "why": f"the packages apt-get {kwargs['action']} changes are not named in advance"})]
    if op is systemd.daemon_reload:
        return []  # rereads unit files: the state it reads is what the journal restores
    if op is apt.key:
        return [Resource("path", kwargs.get("dest") or "/etc/apt/trusted.gpg")]
    if op is systemd.service:
        name = kwargs["service"]
        return [Resource("service", name if "." in name else f"{name}.service")]
    if op is server.user:
        name = kwargs["user"]
        groups = {name, *(g for g in [kwargs.get("group")] if g), *(kwargs.get("groups") or [])}
        found = [Resource("entry", f"{db}:{name}") for db in USER_DBS]
        found += [Resource("entry", f"{db}:{g}") for g in sorted(groups) for db in GROUP_DBS]
        return found + [Resource("path", _home(kwargs)), Resource("path", f"/var/mail/{name}")]
    if op is server.group:
        return [Resource("entry", f"{db}:{kwargs['group']}") for db in GROUP_DBS]
    if op is server.sysctl:
        found = [Resource("sysctl", kwargs["key"])]
        if kwargs.get("persist"):
            found.append(Resource("path", kwargs.get("persist_file") or "/etc/sysctl.conf"))
        return found
    if op is crontab.crontab:
        # the user's crontab is one spool file: its exact bytes are its pre-image
        return [Resource("path", f"/var/spool/cron/crontabs/{kwargs.get('user') or 'root'}")]
    if op is server.shell:
        return [Resource("command", " && ".join(kwargs["commands"]), {"undo": undo})]
    if op is git.repo:
        return [Resource("path", kwargs["dest"], {"tree": True})]
    why = {pip.packages: "pip packages are not recorded", server.hostname: "hostname is not "
           "recorded"}.get(op, f"{getattr(op, '__name__', op)} is not recorded")
    return [Resource("unsupported", getattr(op, "__name__", str(op)), {"why": why})]


# The capture script: one function per kind prints `index<TAB>kind-specific fields`.
_FUNCTIONS = r"""
umask 077
snap_path() {
  p=$2
  d=$(dirname -- "$p")
  while [ ! -e "$d" ] && [ "$d" != / ]; do printf '%s\tmissing\t%s\n' "$1" "$d"; d=$(dirname -- "$d"); done
  if [ -L "$p" ]; then printf '%s\tlink\t%s\t%s\n' "$1" "$(stat -c '%a %U %G' -- "$p")" "$(readlink -- "$p")"
  elif [ -d "$p" ]; then printf '%s\tdirectory\t%s\n' "$1" "$(stat -c '%a %U %G' -- "$p")"
  elif [ -f "$p" ]; then { [ -z "$3" ] || cp -- "$p" "$3"; } && printf '%s\tfile\t%s\t%s\n' "$1" "$(stat -c '%a %U %G' -- "$p")" "$(sha256sum < "$p" | cut -c1-64)"
  elif [ -e "$p" ]; then printf '%s\tother\t%s\n' "$1" "$(stat -c '%a %U %G' -- "$p")"
  else printf '%s\tabsent\n' "$1"; fi
}
snap_package() {
  printf '%s\tpackage\t%s\n' "$1" "$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' -- "$2" 2>/dev/null)"
}
snap_service() {
  printf '%s\tservice\t%s\t%s\t%s\n' "$1" "$(systemctl is-active -- "$2" 2>/dev/null)" \
    "$(systemctl is-enabled -- "$2" 2>/dev/null)" "$(systemctl show -p LoadState --value -- "$2" 2>/dev/null)"
}
snap_entry() {
  if [ -f "$2" ]; then l=$(grep -n -m1 -- "^$3:" "$2"); else l=; fi
  if [ -n "$l" ]; then printf '%s\tentry\t%s\n' "$1" "$l"; else printf '%s\tentry\n' "$1"; fi
}
snap_sysctl() { printf '%s\tsysctl\t%s\n' "$1" "$(sysctl -n -- "$2" 2>/dev/null)"; }
snap_packages() {
  printf 'packages\t%s\n' "$(dpkg-query -W -f='${Package} ' 2>/dev/null)"
  printf 'accounts\t%s\t%s\n' "$(cut -d: -f1 /etc/passwd | tr '\n' ' ')" "$(cut -d: -f1 /etc/group | tr '\n' ' ')"
}
"""


def capture_script(batch_dir: str, batch: str, resources: list[Resource],
                   copy: bool = True) -> str:
    """The shell that captures every resource's state and prints it; with `copy`, files are
    also copied into `batch_dir` (a pre-image), else only their attributes and hash are read."""
    q = shlex.quote
    run = batch_dir.rsplit("/", 1)[0]
    lines = [_FUNCTIONS]
    if copy:
        lines.append(f"mkdir -p {q(batch_dir)}/files && chmod 700 {RUNS_DIR} {q(run)} "
                     f"{q(batch_dir)}")
    if copy and any(r.kind == "package" for r in resources):
        lines.append("snap_packages")
    for i, r in enumerate(resources):
        if r.kind == "path":
            target = f"{batch_dir}/files/{i}" if copy else ""
            lines.append(f"snap_path {i} {q(r.key)} {q(target)}")
        elif r.kind in ("package", "service", "sysctl"):
            lines.append(f"snap_{r.kind} {i} {q(r.key)}")
        elif r.kind == "entry":
            db, name = r.key.rsplit(":", 1)
            lines.append(f"snap_entry {i} {q(db)} {q(name)}")
    return "\n".join(lines) + "\n"


def parse_state(text: str) -> tuple[dict[int, dict[str, Any]], dict[str, list[str]] | None]:
    """Read the capture script's output: the state per resource index, and the installed
    package names with the user and group names (None when no package was captured): packages
    the run installs may create system accounts, which their rollback removes."""
    states: dict[int, dict[str, Any]] = {}
    packages: dict[str, list[str]] | None = None
    for line in text.splitlines():
        parts = line.split("\t")
        if parts[0] == "packages":
            packages = {"installed": parts[1].split() if len(parts) > 1 else []}
            continue
        if parts[0] == "accounts" and packages is not None:
            packages["users"], packages["groups"] = parts[1].split(), parts[2].split()
            continue
        if not parts[0].isdigit() or len(parts) < 2:
            continue
        index, kind, rest = int(parts[0]), parts[1], parts[2:]
        state = states.setdefault(index, {})
        if kind == "missing":
            state.setdefault("missing", []).append(rest[0])
        elif kind in ("link", "directory", "file", "other"):
            mode, user, group = rest[0].split(" ")
            state.update(type=kind, mode=mode, user=user, group=group)
            if kind == "link":
                state["target"] = rest[1]
            if kind == "file":
                state["sha256"] = rest[1]
        elif kind == "absent":
            state["type"] = "absent"
        elif kind == "package":
            status, _, version = (rest[0] if rest else "").partition("|")
            state["version"] = version if status.startswith("ii") else None
        elif kind == "service":
            active, enabled, load = (rest + ["", "", ""])[:3]
            state.update(active=active, enabled=enabled, load=load)
        elif kind == "entry":
            if rest:
                number, _, entry = rest[0].partition(":")
                state.update(line=entry, index=int(number) - 1)
            else:
                state["line"] = None
        elif kind == "sysctl":
            state["value"] = rest[0] if rest else None
    return states, packages


@dataclass
class Batch:
    """The pre-images of one `run_play` on one host: written to the host before it runs."""

    run_id: str
    host: str
    name: str  # sortable: nanoseconds since the epoch, then the play
    play: str
    images: list[PreImage] = field(default_factory=list)
    # before, if any package task: installed package names, user names, group names
    packages: dict[str, list[str]] | None = None
    # what the run left, per image seq (None: the run never got that far, e.g. a crash)
    after: dict[int, dict[str, Any]] | None = None

    def to_json(self) -> str:
        return json.dumps({"run": self.run_id, "host": self.host, "name": self.name,
                           "play": self.play, "packages": self.packages,
                           "images": [asdict(i) for i in self.images]}, default=str)

    @classmethod
    def from_json(cls, text: str) -> Batch:
        data = json.loads(text)
        return cls(data["run"], data["host"], data["name"], data["play"],
                   [PreImage(**i) for i in data["images"]], data.get("packages"))


@dataclass(frozen=True)
class Planned:
    """A task's resources on one host, as the executor saw them before `run_ops`."""

    task: str
    where: str
    predicted: bool
    resources: list[Resource]
    notify: list[dict[str, Any]]


def run_dir(run_id: str) -> str:
    return f"{RUNS_DIR}/{run_id}"


def select(planned: list[Planned]) -> list[Planned]:
    """The tasks to record on a host: see the module docstring for why past the first change."""
    first = next((i for i, p in enumerate(planned) if p.predicted), None)
    if first is None:
        return []
    return [p for i, p in enumerate(planned) if i >= first or p.predicted]


def _prune(run_id: str, keep: int) -> str:
    """Shell that removes the journals of all but the newest `keep` runs (this one counts):
    run ids begin with their start time, so they sort by age."""
    if keep <= 0:
        return ""
    return (f"ls -1 {RUNS_DIR} 2>/dev/null | grep -vxF {shlex.quote(run_id)} | sort | "
            f"head -n -{keep - 1} | while read -r old; do rm -rf -- \"{RUNS_DIR}/$old\"; done\n")


def record(host: Any, run_id: str, play: str, planned: list[Planned], sudo: bool = False,
           keep: int = KEEP_RUNS) -> Batch | None:
    """Capture and sync on `host` the prior state of what `planned` may change; raise when it
    cannot be recorded (nothing may run on a host whose journal is missing). Journals beyond
    the newest `keep` runs are pruned on the way (0 keeps them all)."""
    chosen = select(planned)
    if not chosen:
        return None
    name = f"{time.time_ns()}-{play}".replace("/", "_").replace(" ", "_")[:80]
    batch = Batch(run_id, host.name, name, play)
    resources: list[Resource] = []
    owners: list[Planned] = []
    for item in chosen:
        for resource in item.resources:
            resources.append(resource)
            owners.append(item)
    batch_dir = f"{run_dir(run_id)}/{name}"
    script = _prune(run_id, keep) + capture_script(batch_dir, name, resources)
    ok, output = host.run_shell_command(f"sh -c {shlex.quote(script)}", _sudo=sudo)
    if not ok:
        raise JournalError(f"{host.name}: could not record pre-images: "
                           + " ".join(output.stderr_lines[-1:]))
    states, batch.packages = parse_state("\n".join(output.stdout_lines))
    for i, (resource, owner) in enumerate(zip(resources, owners)):
        state = states.get(i, {})
        for missing in reversed(state.pop("missing", [])):  # parents the task may create
            batch.images.append(PreImage(len(batch.images), "path", missing, owner.task,
                                         owner.where, owner.predicted, {"type": "absent"}))
        batch.images.append(PreImage(len(batch.images), resource.kind, resource.key, owner.task,
                                     owner.where, owner.predicted, state,
                                     {**resource.extra, **({"copy": f"files/{i}"}
                                                           if state.get("type") == "file" else {})},
                                     owner.notify))
    _write_synced(host, f"{batch_dir}/journal.json", batch.to_json(), sudo, "the journal")
    return batch


def _write_synced(host: Any, path: str, text: str, sudo: bool, what: str) -> None:
    """Write `text` to `path` on the host atomically (root only) and sync it to disk: the
    bytes are synced before the rename and the directory after it, and a failed write (a
    full disk) leaves no temporary file behind."""
    payload = base64.b64encode(text.encode()).decode()
    final, temp = shlex.quote(path), shlex.quote(f"{path}.tmp")
    folder = shlex.quote(path.rsplit("/", 1)[0])
    write = (f"umask 077 && {{ printf %s {payload} | base64 -d > {temp} && sync {temp} && "
             f"mv {temp} {final} && sync {folder}; }} || {{ rm -f {temp}; exit 1; }}")
    ok, output = host.run_shell_command(f"sh -c {shlex.quote(write)}", _sudo=sudo)
    if not ok:
        raise JournalError(f"{host.name}: could not write {what}: "
                           + " ".join(output.stderr_lines[-1:]))


def _images_state(host: Any, batch_dir: str, images: list[PreImage], sudo: bool
                  ) -> dict[int, dict[str, Any]]:
    """The state of `images`' resources on the host now (no copies), by image seq."""
    resources = [Resource(i.kind, i.key) for i in images]
    script = capture_script(batch_dir, "", resources, copy=False)
    ok, output = host.run_shell_command(f"sh -c {shlex.quote(script)}", _sudo=sudo)
    if not ok:
        raise JournalError(f"{host.name}: could not read the state of recorded resources: "
                           + " ".join(output.stderr_lines[-1:]))
    states, _ = parse_state("\n".join(output.stdout_lines))
    return {image.seq: {k: v for k, v in states.get(i, {}).items() if k != "missing"}
            for i, image in enumerate(images) if image.kind in RESTORABLE}


def seal(host: Any, batch: Batch, sudo: bool = False) -> None:
    """Record on the host what the run left of the batch's resources (its after-image)."""
    batch_dir = f"{run_dir(batch.run_id)}/{batch.name}"
    batch.after = _images_state(host, batch_dir, batch.images, sudo)
    _write_synced(host, f"{batch_dir}/after.json", json.dumps(batch.after), sudo,
                  "the after-image")


# What a rollback compares to tell a hand change from what the run left. A service's running
# state is not compared: units stop and fail on their own (that is often why one rolls back).
_COMPARED = {"path": ("type", "mode", "user", "group", "sha256", "target"),
             "package": ("version",), "service": ("enabled",), "entry": ("line",),
             "sysctl": ("value",)}


@dataclass(frozen=True)
class Drift:
    """A recorded resource that changed on the host after the run left it."""

    host: str
    kind: str
    key: str
    task: str
    what: str  # e.g. "content", "mode 644 -> 600", "version 1.2 -> 1.3"

    def __str__(self) -> str:
        return f"{self.host}:{self.key} ({self.what})"


def _difference(kind: str, left: dict[str, Any], now: dict[str, Any]) -> str | None:
    changed = [f for f in _COMPARED.get(kind, ()) if left.get(f) != now.get(f)]
    if not changed:
        return None
    if kind == "path" and "type" in changed:
        return f"{left.get('type')} -> {now.get('type')}"
    if kind == "entry":
        return "entry " + ("removed" if now.get("line") is None else "added"
                           if left.get("line") is None else "edited")
    names = ["content" if f == "sha256" else f for f in changed]
    if changed == ["sha256"] or len(changed) > 1:
        return ", ".join(names)
    return f"{names[0]} {left.get(changed[0])} -> {now.get(changed[0])}"


def drift(host: Any, run_id: str, batches: list[Batch], sudo: bool = False) -> list[Drift]:
    """Resources whose state on the host differs from what the run left: per resource, the
    after-image of the last batch that recorded it. A resource whose last batch has no
    after-image (the run was killed before it finished) is not compared: the run itself may
    have changed it after the journal was written."""
    latest: dict[tuple[str, str], tuple[PreImage, dict[str, Any]] | None] = {}
    for batch in batches:
        for image in batch.images:
            if image.kind not in RESTORABLE:
                continue
            left = (batch.after or {}).get(image.seq)
            latest[(image.kind, image.key)] = (image, left) if left is not None else None
    compared = [pair for pair in latest.values() if pair is not None]
    if not compared:
        return []
    # a run's batches number their images from 0 each: read them all at once, renumbered
    now = _images_state(host, run_dir(run_id),
                        [dataclasses.replace(image, seq=i)
                         for i, (image, _) in enumerate(compared)], sudo)
    found = []
    for i, (image, left) in enumerate(compared):
        what = _difference(image.kind, left, now.get(i, {}))
        if what:
            found.append(Drift(host.name, image.kind, image.key, image.task, what))
    return found


def read_batches(host: Any, run_id: str, sudo: bool = False) -> list[Batch]:
    """Every batch of `run_id` recorded on `host`, oldest first, with its after-image."""
    directory = run_dir(run_id)
    command = (f"for d in {directory}/*/; do [ -f \"$d/journal.json\" ] || continue; "
               f"printf '\\n@@orc@@\\n'; cat \"$d/journal.json\"; "
               f"if [ -f \"$d/after.json\" ]; then printf '\\n@@after@@\\n'; "
               f"cat \"$d/after.json\"; fi; done")
    ok, output = host.run_shell_command(f"sh -c {shlex.quote(command)}", _sudo=sudo)
    if not ok:
        raise JournalError(f"{host.name}: could not read the journal of {run_id}")
    text = "\n".join(output.stdout_lines)
    batches = []
    for chunk in text.split("@@orc@@"):
        if not chunk.strip():
            continue
        journal_text, _, after = chunk.partition("@@after@@")
        batch = Batch.from_json(journal_text)
        if after.strip():
            batch.after = {int(k): v for k, v in json.loads(after).items()}
        batches.append(batch)
    return sorted(batches, key=lambda b: b.name)


KILL_AFTER = "ORC_KILL_AFTER_OPS"
_ops_done = 0


def crash_point(count: int = 0) -> None:
    """For crash tests: with ORC_KILL_AFTER_OPS=N, orc kills itself (SIGKILL, like a power cut
    of the controller) once N operations have run after their journals were recorded; N=0
    kills it right after the first journals are on the hosts."""
    global _ops_done
    limit = os.environ.get(KILL_AFTER)
    if limit is None:
        return
    _ops_done += count
    if _ops_done >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)


class JournalError(HostError):
    """A host's journal could not be written or read."""
