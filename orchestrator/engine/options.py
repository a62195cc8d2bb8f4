"""What a run is asked to do: extra vars, tags, limit, plan or apply, the run's id, and for a
rollout where it starts (`--start-at-task`), pauses (`--pause-after-wave`) and runs its waves
(`--cluster`).

The same options drive `orc apply`, `orc plan`, a rollout's waves and `orc test`; Ansible's
--tags/--skip-tags rule is here because it decides which tasks a run sees. The run index keeps
them (`to_dict`), so `orc resume` (another process, later) continues with the options the run
started with (`from_dict`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.load.tasks import Task
from orchestrator.undo import record as journal


@dataclass(frozen=True)
class RunOptions:
    extra_vars: dict[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    limit: str | None = None
    dry_run: bool = False
    allow_downgrade: bool = False  # deploy a secret older than the hosts already have
    run_id: str | None = None  # set: pre-images are recorded on each host before it changes
    keep_runs: int = journal.KEEP_RUNS  # journals (on each host) and index entries kept (0: all)
    forks: int | None = None  # hosts worked on at once (Ansible's --forks); None: up to 50
    start_at_task: str | None = None  # the playbook was loaded from this task on
    pause_after_wave: int | None = None  # the rollout pauses after this wave (1: the first)
    # a Dask scheduler's address (`tcp://HOST:PORT`, `tls://...`): each wave's hosts run on its
    # workers (orchestrator/cluster/); None: in this process
    cluster: str | None = None
    # the controller's state directory: the fact reads each play asked for are kept there for
    # its next run (`engine.predictions`); None keeps nothing. Not in `to_dict`: a resumed run
    # is given the directory its index lives in
    state_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """What the run index keeps of a run's options (JSON). A run in the index is never a
        plan, and its id is the index's key, so `dry_run` and `run_id` are not kept."""
        return {"extra_vars": self.extra_vars, "tags": sorted(self.tags),
                "skip_tags": sorted(self.skip_tags), "limit": self.limit,
                "allow_downgrade": self.allow_downgrade, "keep_runs": self.keep_runs,
                "forks": self.forks, "pause_after_wave": self.pause_after_wave,
                "start_at_task": self.start_at_task, "cluster": self.cluster}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunOptions:
        """The options `to_dict` kept (a key an older orc did not keep takes its default)."""
        return cls(extra_vars=data.get("extra_vars") or {},
                   tags=frozenset(data.get("tags") or ()),
                   skip_tags=frozenset(data.get("skip_tags") or ()),
                   limit=data.get("limit"),
                   allow_downgrade=bool(data.get("allow_downgrade")),
                   keep_runs=data.get("keep_runs", journal.KEEP_RUNS),
                   forks=data.get("forks"),
                   start_at_task=data.get("start_at_task"),
                   pause_after_wave=data.get("pause_after_wave"),
                   cluster=data.get("cluster"))


def tags_selected(tags: frozenset[str], options: RunOptions) -> bool:
    """Ansible's --tags/--skip-tags rule; `always` runs unless skipped by name."""
    if options.tags and not (tags & options.tags or "always" in tags):
        return False
    return not (tags & options.skip_tags)


def selected(task: Task, options: RunOptions, extra_tags: frozenset[str] = frozenset()) -> bool:
    return tags_selected(task.tags | extra_tags, options)
