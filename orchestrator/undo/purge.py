"""Purging the journals on hosts: for rollback, each host keeps the files a run replaced, and a
file rendered from a secret (a config with a password) is kept there too, as it was.

Those copies live under `/var/lib/orc/runs/<run>/` (root only, 0600 files in 0700 directories)
and are pruned to the newest `--keep-runs` runs whenever a run records a journal on the host.
After a secret is rotated because it leaked or its holder left, the old copies still hold the
old value: `purge` removes them now, on every host a pattern selects, keeping the newest `keep`
runs and always the run that holds the host's rollout lock (it may still need its journal).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator import adhoc
from orchestrator.inventory import Inventory
from orchestrator.undo.record import RUNS_DIR


def purge_command(keep: int, lock: str) -> str:
    """A POSIX shell command: remove all but the newest `keep` run journals (run ids sort by
    time) and the one whose run holds the lock file `lock`; print how many are left."""
    return (f'held=$(cat {lock} 2>/dev/null); '
            f'ls -1 {RUNS_DIR} 2>/dev/null | grep -vxF "$held" | sort | head -n -{keep} | '
            f'while read -r old; do rm -rf -- "{RUNS_DIR}/$old" || exit 1; done && '
            f'ls -1 {RUNS_DIR} 2>/dev/null | wc -l')


@dataclass(frozen=True)
class Purged:
    host: str
    left: int | None  # journals left on the host; None when it failed
    error: str | None = None


def purge(inventory: Inventory, pattern: str, lock: str, keep: int = 0,
          become: bool | None = None) -> list[Purged]:
    """Purge the journals of the hosts `pattern` selects (see the module docstring); `lock`:
    the host's rollout lock file (`rollout.locks.LOCK`)."""
    done = adhoc.run(inventory, pattern, purge_command(keep, lock),
                     adhoc.CommandOptions(become=become))
    found = []
    for host, result in done.results.items():
        text = (result.stdout or "").strip()
        if result.ok and text.isdigit():
            found.append(Purged(host, int(text)))
        else:
            found.append(Purged(host, None, result.error or (result.stderr or "").strip()
                                or f"exit status {result.exit_code}"))
    return found
