"""Typed errors, rendered once at the CLI edge as one line.

Every error a user can cause is an `OrcError`. It carries where the problem is (file and line when
there is one) so the message can point at it, and nothing else: rendering and exit codes belong
to the CLI, not to the code that found the problem.
"""

from __future__ import annotations

from pathlib import Path


class OrcError(Exception):
    """A problem the user can fix; shown as one line, never as a traceback."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return where + self.message


class InputError(OrcError):
    """A file or argument the user gave is not what orc expected."""


class SetupError(OrcError):
    """The machine lacks something orc needs (root, a Debian package, a tool)."""


class LabError(OrcError):
    """The built-in lab could not be brought up, inspected or removed."""


class InventoryError(InputError):
    """An inventory source could not be read or does not have Ansible's shape."""


class SecretsError(OrcError):
    """A secret file is unsigned, untrusted, tampered with, stale, or cannot be decrypted."""


class HostError(OrcError):
    """A host could not be reached or refused what orc asked of it."""


class JournalError(HostError):
    """A host's journal could not be written or read."""


class DriftError(HostError):
    """Resources changed on the hosts after the run left them; restoring would overwrite that.
    `drift` holds them (`orchestrator.undo.drift.Drift`)."""

    def __init__(self, run_id: str, drift: list):
        first = ", ".join(str(d) for d in drift[:3])
        more = f" and {len(drift) - 3} more" if len(drift) > 3 else ""
        super().__init__(f"rollback of {run_id} stopped before any change: {len(drift)} "
                         f"resource(s) changed since the run: {first}{more}; --force "
                         "overwrites them")
        self.drift = drift


class LockError(OrcError):
    """Another rollout (or a rollback) holds some of these hosts: in the controller's run index
    or by the rollout lock on a host."""


class ClusterError(OrcError):
    """The Dask cluster of `--cluster ADDRESS` cannot be used: the address is not one, its
    scheduler does not answer, or it has no worker that can run a shard."""
