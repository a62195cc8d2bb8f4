"""The journal on each host: pre-images before a run changes anything, after-images once it ran.

Between adding a play's operations and running them, orc knows per host which pyinfra operations
each task became. `kinds.resources_of` names what those operations can change; `record`
captures their prior state on the host itself, in one shell command per host, under
`/var/lib/orc/runs/<run>/` (root only, file copies 0600), and syncs it before anything runs.
The journal lives on the host so any controller, even one with an empty `.orc/`, can roll the
run back (`orchestrator.undo.restore`).

pyinfra predicts changes from facts gathered before the run, so a task that depends on an
earlier one can be predicted unchanged and still change. On a host where some task is predicted
to change, every task from the first predicted change onward is recorded, changed or not; tasks
before it saw the host's true state, and are recorded only if predicted to change.

After the operations ran, `seal` captures the same resources again (attributes and hashes, no
copies) as the batch's after-image: what the run left. A rollback compares the host with it
(`orchestrator.undo.drift`), so a file changed by hand since the run is reported as drift
instead of being overwritten. Journals of old runs are pruned as new ones are recorded
(`KEEP_RUNS` newest runs per host).
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from orchestrator.errors import JournalError
from orchestrator.undo.kinds import RESTORABLE, capture_script, parse_state
from orchestrator.undo.kinds.base import PreImage, Resource

# markers a rollback leaves in a run's journal directory, named as the run's states in the
# controller's index (orchestrator/rollout/store.py)
ROLLED_BACK, ROLLING_BACK = "rolled-back", "rolling-back"

RUNS_DIR = "/var/lib/orc/runs"
KEEP_RUNS = 20  # journals kept per host; older runs are pruned when a new one is recorded


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


def prune(run_id: str, keep: int) -> str:
    """Shell that removes the journals of all but the newest `keep` runs (this one counts):
    run ids begin with their start time, so they sort by age (the shell's glob sorts them)."""
    if keep <= 0:
        return ""
    this = shlex.quote(run_id)
    return (f"n=0; for old in {RUNS_DIR}/*; do [ -e \"$old\" ] && [ \"${{old##*/}}\" != {this} ] "
            f"&& n=$((n + 1)); done\n"
            f"for old in {RUNS_DIR}/*; do [ $n -gt {keep - 1} ] || break\n"
            f"  [ -e \"$old\" ] && [ \"${{old##*/}}\" != {this} ] || continue\n"
            f"  rm -rf -- \"$old\"; n=$((n - 1)); done\n")


def images_of(batch: Batch, resources: list[Resource], owners: list[Planned],
              states: dict[int, dict[str, Any]]) -> None:
    """Add to `batch` the pre-image of each resource (its owner's task), from the capture's
    `states` by resource index; parents a path's task may create come first, as absent."""
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


def record(host: Any, run_id: str, play: str, planned: list[Planned], sudo: bool = False,
           keep: int = KEEP_RUNS) -> Batch | None:
    """Capture and sync on `host` the prior state of what `planned` may change; raise
    `JournalError` when it cannot be recorded (nothing may run on a host whose journal is
    missing). Journals beyond the newest `keep` runs are pruned on the way (0 keeps them all)."""
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
    script = prune(run_id, keep) + capture_script(batch_dir, resources)
    ok, output = host.run_shell_command(f"sh -c {shlex.quote(script)}", _sudo=sudo)
    if not ok:
        raise JournalError(f"{host.name}: could not record pre-images: "
                           + " ".join(output.stderr_lines[-1:]))
    states, batch.packages = parse_state("\n".join(output.stdout_lines))
    images_of(batch, resources, owners, states)
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


def images_state(host: Any, batch_dir: str, images: list[PreImage], sudo: bool
                 ) -> dict[int, dict[str, Any]]:
    """The state of `images`' resources on the host now (no copies), by image seq."""
    resources = [Resource(i.kind, i.key) for i in images]
    script = capture_script(batch_dir, resources, copy=False)
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
    batch.after = images_state(host, batch_dir, batch.images, sudo)
    _write_synced(host, f"{batch_dir}/after.json", json.dumps(batch.after), sudo,
                  "the after-image")


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
