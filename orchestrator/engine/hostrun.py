"""One host's way through a play: what earlier tasks left for later ones to read.

Ansible keeps, per host, the facts gathered, the variables `include_vars` and `set_fact` set and
the results `register` stored; each later task, `when:` and include reads them. A result is only
known once its task ran, so a task that reads one of the current segment's registered names
waits for the segment to run (`pending`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class HostMemory:
    """What a host keeps from one play to the next of a run: its gathered facts and what
    set_fact and register set (Ansible keeps both for the rest of the playbook)."""

    gathered: dict[str, Any] | None = None
    facts_set: dict[str, Any] = field(default_factory=dict)


@dataclass
class HostRun:
    name: str
    host: Any  # pyinfra Host
    records: list[Any] = field(default_factory=list)  # every task (loop item) so far, in order
    gathered: dict[str, Any] | None = None  # `ansible_facts` and `ansible_<name>`, once gathered
    included: dict[str, Any] = field(default_factory=dict)  # include_vars
    facts_set: dict[str, Any] = field(default_factory=dict)  # set_fact and register
    # register name -> the records (one per loop item) of the segment not run yet
    pending: dict[str, list[Any]] = field(default_factory=dict)
    segment_start: int = 0  # index in `records` where the current segment begins
    stopped: bool = False  # failed (or `meta: end_host`): nothing more runs here
    ended: bool = False  # `meta: end_host`: stopped without failing
    flush_after: bool = False  # the task just added decides its failure after it runs
    rescuing: int = 0  # inside this many blocks with a `rescue`: a failure goes there
    block_failed: bool = False  # a task of such a block failed: the rest of it is skipped
    lazy_facts: Any = None  # pyinfra facts by name (`facts.<name>`), read when asked

    @property
    def runtime(self) -> tuple[dict[str, Any], ...]:
        return (self.included, self.facts_set)

    def fail(self) -> None:
        """A task failed here and nothing ignores it: the block with a `rescue` it sits in
        fails (its rescue runs), or, outside one, the host stops, as in Ansible."""
        if self.rescuing:
            self.block_failed = True
        else:
            self.stopped = True

    def segment(self) -> list[Any]:
        return self.records[self.segment_start:]

    def will_change(self) -> bool:
        """Whether the current segment's operations are predicted to change this host: a task
        reading the host (stat, assert on state) must then wait until they ran."""
        return any(r.will_change() for r in self.segment() if r.metas)
