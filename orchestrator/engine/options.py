"""What a run is asked to do: extra vars, tags, limit, plan or apply, the run's id.

The same options drive `orc apply`, `orc plan`, a rollout's waves and `orc test`; Ansible's
--tags/--skip-tags rule is here because it decides which tasks a run sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator import journal
from orchestrator.load.tasks import Task


@dataclass(frozen=True)
class RunOptions:
    extra_vars: dict[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    limit: str | None = None
    dry_run: bool = False
    allow_downgrade: bool = False  # deploy a secret older than the hosts already have
    run_id: str | None = None  # set: pre-images are recorded on each host before it changes
    keep_runs: int = journal.KEEP_RUNS  # journals kept on each host (0: all)
    forks: int | None = None  # hosts worked on at once (Ansible's --forks); None: up to 50


def tags_selected(tags: frozenset[str], options: RunOptions) -> bool:
    """Ansible's --tags/--skip-tags rule; `always` runs unless skipped by name."""
    if options.tags and not (tags & options.tags or "always" in tags):
        return False
    return not (tags & options.skip_tags)


def selected(task: Task, options: RunOptions, extra_tags: frozenset[str] = frozenset()) -> bool:
    return tags_selected(task.tags | extra_tags, options)
