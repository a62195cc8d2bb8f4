"""The cluster's helper processes end with what started them, as a run in one process ends when
that process is killed."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Be killed (SIGKILL) when the thread that started this process ends (Linux's
    PR_SET_PDEATHSIG, prctl(2)); elsewhere nothing: the process then ends at its next write to
    the closed pipe."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
