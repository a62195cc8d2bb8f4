"""What every resource kind shares: the records, the shape of a kind, and a host's restore plan.

A kind (`orchestrator.undo.kinds.<kind>`) is one `Kind` value holding everything orc knows of
that kind of resource: which pyinfra operations change it, its part of the capture script and
how to read its output, one line to show it, what a rollback compares for drift, and the pyinfra
operations that put it back. The registry (`orchestrator.undo.kinds`) composes them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Resource:
    """One thing a task may change: `kind` names its `Kind` (path, package, service, entry,
    sysctl, command or unsupported); `key` names it (a path, a package, a unit, "db:name", a
    sysctl key)."""

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
        from orchestrator.undo.kinds import get  # the registry imports this module

        return get(self.kind).summary(self)


@dataclass
class Restored:
    """One resource on one host: what rollback did with it."""

    kind: str
    key: str
    task: str
    status: str  # restored | unchanged | irreversible | failed | not recorded
    detail: str = ""


@dataclass
class Step:
    """One restore on one host: the pyinfra operation calls planned for it, then the operation
    metadata they became once added to a State."""

    image: PreImage
    calls: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    metas: list[Any] = field(default_factory=list)
    note: str = ""  # why it could not be planned (a failure, reported as such)


class HostReads:
    """What restoring reads of a host now, through pyinfra: facts, files, command output.
    The seam between a restore's plan and the host, so a plan can be computed from given
    reads (tests/unit/undo) as pyinfra's operation tests compute commands from given facts."""

    def __init__(self, host: Any, sudo: bool):
        self.host, self.sudo = host, sudo

    def fact(self, fact: Any, **kwargs: Any) -> Any:
        return self.host.get_fact(fact, **kwargs)

    def file(self, path: str) -> bytes | None:
        """The file's bytes, None when it cannot be read (missing)."""
        buffer = io.BytesIO()
        if self.host.get_file(path, buffer, _sudo=self.sudo) is False:
            return None
        return buffer.getvalue()

    def shell(self, command: str) -> tuple[bool, list[str]]:
        ok, output = self.host.run_shell_command(command, _sudo=self.sudo)
        return bool(ok), list(output.stdout_lines)


@dataclass
class HostPlan:
    """One host's restore while it is planned: the kinds add their steps, in the order their
    operations must run (`head`: before everything, `body`: newest pre-image first, `tail`:
    after everything), and outcomes decided without an operation go to `items`."""

    reads: HostReads
    journal: str  # the run's journal directory on the host (`record.run_dir`)
    batches: list[Any]  # the run's `record.Batch`es on this host, oldest first
    images: list[PreImage]  # per resource, its earliest pre-image, in recorded order
    items: list[Restored] = field(default_factory=list)
    head: list[Step] = field(default_factory=list)
    body: list[Step] = field(default_factory=list)
    tail: list[Step] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)  # what a kind keeps between its hooks
    order: list[tuple[Step, Any, dict[str, Any]]] = field(default_factory=list)

    def step(self, image: PreImage, where: str = "body") -> Step:
        step = Step(image)
        getattr(self, where).append(step)
        return step

    def add(self, step: Step, op: Any, **kwargs: Any) -> None:
        """Plan a pyinfra operation call for `step`; calls are added to the State in the
        order they are planned."""
        step.calls.append((op, kwargs))
        self.order.append((step, op, kwargs))

    def outcome(self, image: PreImage, status: str, detail: str = "") -> None:
        self.items.append(Restored(image.kind, image.key, image.task, status, detail))

    @property
    def steps(self) -> list[Step]:
        return [s for s in (*self.head, *self.body, *self.tail) if s.calls or s.note]


# which operations change a kind: a pyinfra operation -> its resources, given the operation's
# keyword arguments and the task's `undo:`
Touch = Callable[[dict[str, Any], "str | None"], list[Resource]]


def _nothing(*args: Any) -> None:
    return None


@dataclass(frozen=True)
class Kind:
    """One kind of resource, end to end. Hooks a kind has no use for are no-ops.

    Capture: `shell` holds the kind's shell functions; `capture(index, key, copy_to)` is its
    line of the capture script, which prints `index<TAB>tag<TAB>fields` (now, or from
    `capture_end`, run once after them, for work done for all at once); `parse(tag, fields,
    state)` reads one such line (of a tag in `tags`) into the resource's state. Restore:
    `before(plan)` runs before the pre-images are walked, `restore(plan, image)` once per
    pre-image of the kind (newest first), `after(plan)` once the walk is done, in registry
    order; `later(image)` says the image is restored by `settle(plan, images)` in a second
    State, after the first one ran."""

    name: str  # as journals on hosts name it: never renamed, old journals must roll back
    operations: dict[Any, Touch]
    summary: Callable[[PreImage], str]
    restore: Callable[[HostPlan, PreImage], None]
    restorable: bool = True  # its state is captured, compared for drift and put back
    shell: str = ""
    capture: Callable[[int, str, str], str] | None = None
    capture_end: str = ""  # a line run once after the kind's capture lines, when there are any
    tags: tuple[str, ...] = ()
    parse: Callable[[str, list[str], dict[str, Any]], None] = _nothing
    difference: Callable[[dict[str, Any], dict[str, Any]], str | None] = _nothing
    before: Callable[[HostPlan], None] = _nothing
    after: Callable[[HostPlan], None] = _nothing
    later: Callable[[PreImage], bool] = lambda image: False
    settle: Callable[[HostPlan, list[PreImage]], None] | None = None


def difference(fields: tuple[str, ...], names: dict[str, str] | None = None
               ) -> Callable[[dict[str, Any], dict[str, Any]], str | None]:
    """A kind's drift between what the run left and the host now, over `fields`: "version
    1.2 -> 1.3" for one field, the fields' names for several (`names` renames them)."""
    names = names or {}

    def compare(left: dict[str, Any], now: dict[str, Any]) -> str | None:
        changed = [f for f in fields if left.get(f) != now.get(f)]
        if not changed:
            return None
        shown = [names.get(f, f) for f in changed]
        if len(changed) > 1 or changed[0] in names:
            return ", ".join(shown)
        return f"{shown[0]} {left.get(changed[0])} -> {now.get(changed[0])}"

    return compare
