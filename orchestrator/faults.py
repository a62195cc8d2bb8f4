"""A test hook: make one stage of one host's path raise, where no input can make it fail.

Most failures on a host's path are provoked in tests by real means (a template dividing by zero,
an argument pyinfra rejects, an unwritable journal directory, a failing health check). An
exception while pyinfra runs an operation cannot be: with `ORC_FAULT=run@HOST` (a comma-separated
list of `STAGE@HOST`), orc raises `InjectedFault` when HOST's first operation starts running, as
an unexpected error inside pyinfra would. Like `ORC_KILL_AFTER_OPS` (undo.record.crash_point), it is
for tests only and does nothing unless set.
"""

from __future__ import annotations

import os

VARIABLE = "ORC_FAULT"
STAGES = ("run",)


class InjectedFault(RuntimeError):
    """The exception ORC_FAULT asked for."""


def fault_point(stage: str, host: str) -> None:
    """Raise InjectedFault if ORC_FAULT names this stage on this host."""
    wanted = {item.strip() for item in os.environ.get(VARIABLE, "").split(",") if item.strip()}
    if f"{stage}@{host}" in wanted:
        raise InjectedFault(f"injected fault ({VARIABLE}={stage}@{host})")
