"""`--start-at-task NAME`: a playbook that begins at the first task matching NAME.

As ansible-playbook does (its play iterator skips tasks until the first match): NAME is a
shell-style pattern (`fnmatch`) matched against the task's name and against `role : name`; every
task before the match is left out, in its play and in the plays before it; handlers stay. No
match is an error, as in Ansible ("No matching task found").
"""

from __future__ import annotations

import fnmatch
from dataclasses import replace

from orchestrator.errors import InputError
from orchestrator.load.playbook import Playbook
from orchestrator.load.tasks import Task


def _matches(task: Task, pattern: str) -> bool:
    names = [task.name] + ([f"{task.role} : {task.name}"] if task.role else [])
    return any(name == pattern or fnmatch.fnmatchcase(name, pattern) for name in names)


def start_at_task(book: Playbook, pattern: str) -> Playbook:
    """A copy of `book` without the tasks before the first task matching `pattern`."""
    plays = []
    found = False
    for play in book.plays:
        if found:
            plays.append(play)
            continue
        roles = []
        for ref, role in play.roles:
            if found:
                roles.append((ref, role))
                continue
            index = next((i for i, t in enumerate(role.tasks) if _matches(t, pattern)), None)
            if index is None:  # the whole role comes before the match: only its handlers stay
                roles.append((ref, replace(role, tasks=[], deploys=[])))
            else:
                found = True
                roles.append((ref, replace(role, tasks=role.tasks[index:])))
        tasks = play.tasks
        if not found:
            index = next((i for i, t in enumerate(play.tasks) if _matches(t, pattern)), None)
            if index is not None:
                found = True
            tasks = play.tasks[index:] if index is not None else []
        plays.append(replace(play, roles=roles, tasks=tasks))
    if not found:
        raise InputError(f"--start-at-task {pattern!r}: no task of the playbook matches",
                         path=str(book.path))
    return replace(book, plays=plays)
