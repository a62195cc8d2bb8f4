"""How an exception while a task is prepared becomes that task's failure, in one line.

A template raising, an argument of the wrong type, a module or pyinfra refusing the operation:
each fails the task on that host with the task's file:line and why (`stage` names what was
being done). Errors that explain themselves keep their words; others get their type."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from orchestrator.engine.record import TaskRecord
from orchestrator.engine.results import (
    FAILED,
)
from orchestrator.errors import InputError, OrcError
from orchestrator.load.tasks import Task

# exceptions whose message says it all; others are named by their type too (KeyError: 'x')
_SELF_EXPLAINED = (OrcError, ValueError, TypeError, ArithmeticError, RecursionError, OSError)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, _SELF_EXPLAINED) else f"{type(exc).__name__}: {text}"


@contextmanager
def stage(what: str, task: Task) -> Iterator[None]:
    """Any exception but an OrcError (a template's `{{ 1 / 0 }}`, a recursive macro, pyinfra
    refusing an argument) becomes one line naming the task and what was being done."""
    try:
        yield
    except OrcError:
        raise
    except Exception as exc:  # noqa: BLE001 - templates and operations may raise anything
        raise InputError(f"{what}: {one_line(exc)}", **task.location) from None


def fail_task(record: TaskRecord, exc: Exception, task: Task, stage: str) -> NoReturn:
    """Mark `record` failed with the reason, and stop preparing its host (raises)."""
    if isinstance(exc, OrcError):
        error = exc
    else:
        error = InputError(f"{stage}: {one_line(exc)}", **task.location)
    ours = (error.path, error.line) == (task.path, task.line)
    record.final = True
    record.result.status = FAILED
    record.result.error = error.message if ours else str(error)
    raise error from None
