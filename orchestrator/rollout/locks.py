"""The host side of the rollout lock: `/var/lib/orc/rollout.lock` on each host names the run
that is changing it, so two controllers never roll out to the same host at once.

The lock's first line is the run id, its second the controller that took it (`hostname pid
unix-time`). It is written whole or not at all: into a temporary file, synced, then hard-linked
to its name (link(2) fails when the name exists, so it is also the test-and-set) or, taking over
a stale lock, renamed over it. A full disk therefore leaves no lock at all, never an empty one,
and the run is refused naming the host and the write error.

A lock left by a run this controller knows has ended or died is stale and taken over; a lock
of any other run refuses, naming that run, its controller and the command that clears it
(`orc unlock`, through `clear`), as does a lock that names no run (unreadable).

The SSH connection that took a host's lock stays open until the lock is released, so releasing
costs a command, not another handshake; a connection lost meanwhile is replaced by a new one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import LockError
from orchestrator.inventory import DEFAULT_SOURCE, Inventory
from orchestrator.rollout.store import HOLDING, RunStore
from orchestrator.transport.remote import close_connections, run_many
from orchestrator.transport.session import PARALLEL
from orchestrator.transport.targets import target_for

LOCK = "/var/lib/orc/rollout.lock"
_DIR = LOCK.rsplit("/", 1)[0]
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
# what the host answers, on the first line of the lock commands' output
_TAKEN, _HELD, _WRITE_FAILED, _ABSENT = "@taken", "@held", "@write-failed", "@absent"


@dataclass(frozen=True)
class LockFile:
    """A host's lock as read: the run it names (None: it names none, it is unreadable), the
    controller line, and a digest of the bytes so a removal removes exactly what was read."""

    run_id: str | None
    controller: str
    digest: str
    size: int

    @classmethod
    def parse(cls, data: bytes) -> LockFile:
        text = data.decode("utf-8", errors="replace")
        first, _, rest = text.partition("\n")
        run_id = first.strip() if _RUN_ID.fullmatch(first.strip()) else None
        return cls(run_id, rest.strip().splitlines()[0] if rest.strip() else "",
                   hashlib.sha256(data).hexdigest(), len(data))

    def orphaned(self) -> bool:
        """Taken by a controller process on this machine that is gone (a run another state
        directory knows, or one killed before its index said so): a stale lock."""
        parts = self.controller.split()
        if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
            return False
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False

    def holder(self) -> str:
        """The run and the controller, in words: 'run X (controller Y, pid N, since T)'."""
        if self.run_id is None:
            return "an unreadable lock (" + ("empty" if self.size == 0 else
                                             "it names no run") + ")"
        parts = self.controller.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(parts[2])))
            return f"run {self.run_id} (controller {parts[0]}, pid {parts[1]}, since {since})"
        return f"run {self.run_id}"


def unlock_command(inventory: Inventory, hosts: list[str], run_id: str | None) -> str:
    """The command a user runs to clear these hosts' locks, as refusals name it."""
    words = ["orc", "unlock", ",".join(hosts)]
    if list(inventory.sources) != [DEFAULT_SOURCE]:
        words += [w for source in inventory.sources for w in ("-i", source)]
    return shlex.join(words + (["--run", run_id] if run_id else []))


@dataclass
class HostLocks:
    inventory: Inventory
    run_id: str
    hosts: list[str]
    # the connections that took the locks, by host, kept open to release them
    connections: dict[str, Any] = field(default_factory=dict)

    def release(self) -> None:
        try:
            if not self.hosts:
                return
            command = release_command(self.run_id)
            targets = [target_for(self.inventory, h) for h in self.hosts]
            answers = run_many(targets, command, timeout=10, connections=self.connections,
                               forks=PARALLEL)
            lost = [t for t in targets if answers[t.name].exit_code is None]
            run_many(lost, command, timeout=10)  # over a new connection (an empty list: none)
        finally:
            close_connections(self.connections)


def release_command(run_id: str) -> str:
    """Shell that removes the host's lock if `run_id` holds it (and succeeds either way)."""
    return (f'[ "$(head -n 1 {LOCK} 2>/dev/null)" = {shlex.quote(run_id)} ] && '
            f"rm -f {LOCK} && sync {_DIR}; true")


def _content(run_id: str) -> str:
    return f"{run_id}\n{socket.gethostname()} {os.getpid()} {int(time.time())}\n"


def _write_temp(run_id: str) -> str:
    """Shell that writes this run's lock to a temporary file `$t` and syncs it; on failure it
    prints the write-failed marker and the error, removes what it wrote and exits."""
    payload = base64.b64encode(_content(run_id).encode()).decode()
    return (f"t={_DIR}/.rollout.lock.$$; if ! e=$( {{ mkdir -p {_DIR} && "
            f"printf %s {payload} | base64 -d > \"$t\" && sync \"$t\"; }} 2>&1 ); "
            f"then rm -f \"$t\"; echo {_WRITE_FAILED}; echo \"$e\" | tail -n 1; exit 0; fi; ")


def _take_command(run_id: str) -> str:
    """Link the synced temporary file to the lock's name unless a lock is there; print taken,
    or held and the lock's bytes (base64), or write-failed and why."""
    return (_write_temp(run_id)
            + f"if e=$(ln \"$t\" {LOCK} 2>&1); then rm -f \"$t\"; sync {_DIR}; echo {_TAKEN}; "
            f"elif [ -e {LOCK} ] || [ -L {LOCK} ]; then rm -f \"$t\"; echo {_HELD}; "
            f"base64 -w 0 < {LOCK}; echo; "
            f"else rm -f \"$t\"; echo {_WRITE_FAILED}; echo \"$e\" | tail -n 1; fi")


def _takeover_command(run_id: str, stale: LockFile) -> str:
    """Rename this run's lock over a stale one, if the host still has exactly that one."""
    return (_write_temp(run_id)
            + f"if [ \"$(sha256sum < {LOCK} 2>/dev/null | cut -c1-64)\" = {stale.digest} ]; then "
            f"if e=$(mv -f \"$t\" {LOCK} 2>&1); then sync {_DIR}; echo {_TAKEN}; "
            f"else rm -f \"$t\"; echo {_WRITE_FAILED}; echo \"$e\" | tail -n 1; fi; "
            f"elif ln \"$t\" {LOCK} 2>/dev/null; then rm -f \"$t\"; sync {_DIR}; echo {_TAKEN}; "
            f"else rm -f \"$t\"; echo {_HELD}; base64 -w 0 < {LOCK}; echo; fi")


def _answer(stdout: str) -> tuple[str, str]:
    lines = stdout.strip().splitlines()
    return (lines[0].strip(), lines[1].strip() if len(lines) > 1 else "") if lines else ("", "")


def _lock_of(encoded: str) -> LockFile:
    try:
        return LockFile.parse(base64.b64decode(encoded, validate=True))
    except ValueError:
        return LockFile.parse(encoded.encode())


def _holder_is_stale(holder: str | None, store: RunStore) -> bool:
    if holder is None:
        return False  # names no run: only the user can tell whose it was (`orc unlock`)
    try:
        return store.get(holder).status not in HOLDING
    except Exception:  # a run this controller never saw: another controller's, not stale
        return False


def _refusal(inventory: Inventory, refused: dict[str, LockFile], failed: dict[str, str]) -> str:
    """One line for every host that could not be locked, with what to do about it."""
    if failed:
        host = sorted(failed)[0]
        more = f" (and {len(failed) - 1} more host(s))" if len(failed) > 1 else ""
        return (f"{host}: cannot write its rollout lock {LOCK}: {failed[host]}{more}; "
                "nothing was left behind: free the space (or fix the error) and run again")
    by_holder: dict[str | None, list[str]] = {}
    for host, lock in sorted(refused.items()):
        by_holder.setdefault(lock.run_id, []).append(host)
    run_id, hosts = next(iter(by_holder.items()))
    lock = refused[hosts[0]]
    more = f" (and {len(refused) - 1} more host(s))" if len(refused) > 1 else ""
    if run_id is None:
        return (f"{hosts[0]} has {lock.holder()} at {LOCK}{more}: no run can be named as its "
                f"holder; if no rollout is changing it, clear it with "
                f"`{unlock_command(inventory, hosts, None)}`")
    if lock.orphaned():
        return (f"{hosts[0]} has a stale lock of {lock.holder()} ({LOCK}){more}: that process "
                f"on this machine is gone; clear it with "
                f"`{unlock_command(inventory, hosts, run_id)}`")
    return (f"{hosts[0]} is locked by {lock.holder()} ({LOCK}){more}: another rollout is "
            f"changing it; if its controller died, clear it with "
            f"`{unlock_command(inventory, hosts, run_id)}`")


def acquire(inventory: Inventory, hosts: list[str], run_id: str, store: RunStore) -> HostLocks:
    """Lock `hosts` for `run_id`, all in parallel, or take no lock at all and raise `LockError`
    naming a host that is locked (and the command that clears it) or whose lock cannot be
    written. Unreachable hosts are skipped: the apply counts them as failed in their wave."""
    held = HostLocks(inventory, run_id, [])
    answers = run_many([target_for(inventory, h) for h in hosts], _take_command(run_id),
                       timeout=10, connections=held.connections, forks=PARALLEL)
    refused: dict[str, LockFile] = {}
    failed: dict[str, str] = {}
    stale: dict[str, LockFile] = {}
    for host, answer in answers.items():
        if answer.exit_code is None:
            continue
        what, detail = _answer(answer.stdout)
        if what == _TAKEN:
            held.hosts.append(host)
        elif what == _HELD:
            lock = _lock_of(detail)
            if lock.run_id == run_id:
                held.hosts.append(host)  # this run's own lock, e.g. left by a killed process
            elif _holder_is_stale(lock.run_id, store):
                stale[host] = lock
            else:
                refused[host] = lock
        else:
            output = (answer.stdout + answer.stderr).strip().splitlines()
            failed[host] = detail or (output[-1] if output else f"exit {answer.exit_code}")
    if not refused and not failed:
        for host, lock in stale.items():
            answer = run_many([target_for(inventory, host)], _takeover_command(run_id, lock),
                              timeout=10, connections=held.connections)[host]
            what, detail = _answer(answer.stdout)
            if what == _TAKEN:
                held.hosts.append(host)
            elif what == _HELD:
                refused[host] = _lock_of(detail)
            elif answer.exit_code is not None:
                failed[host] = detail or "the lock could not be replaced"
    if refused or failed:
        held.release()
        raise LockError(_refusal(inventory, refused, failed))
    return held


@dataclass(frozen=True)
class Cleared:
    """What `clear` did on one host: removed, absent, kept (and why) or unreachable."""

    host: str
    status: str  # removed | absent | kept | failed
    lock: LockFile | None = None
    detail: str = ""


def _read_command() -> str:
    return (f"if [ -e {LOCK} ] || [ -L {LOCK} ]; then echo {_HELD}; base64 -w 0 < {LOCK}; "
            f"echo; else echo {_ABSENT}; fi")


def _remove_command(lock: LockFile) -> str:
    """Remove the lock if it still has exactly the bytes read (no other run took it since)."""
    return (f"if [ \"$(sha256sum < {LOCK} 2>/dev/null | cut -c1-64)\" = {lock.digest} ]; then "
            f"rm -f {LOCK} && sync {_DIR} && echo {_ABSENT}; "
            f"elif [ -e {LOCK} ]; then echo {_HELD}; base64 -w 0 < {LOCK}; echo; "
            f"else echo {_ABSENT}; fi")


def clear(inventory: Inventory, hosts: list[str], store: RunStore,
          run_id: str | None = None) -> list[Cleared]:
    """Remove the rollout locks a dead controller left on `hosts` (`orc unlock`).

    With `run_id`, only that run's locks go; without, only locks that name no run
    (unreadable) and locks of runs `store` knows have ended. A lock of a run `store` says is
    still working on its hosts is never removed (abort or resume that run instead), and a lock
    of a run `store` does not know (another controller's) needs its id, so that a live
    rollout elsewhere is never unlocked by a pattern typed in a hurry."""
    if run_id is not None:
        try:
            known = store.get(run_id)
        except Exception:  # another controller's run: only the hosts know it
            known = None
        if known is not None and known.status in HOLDING:
            raise LockError(f"run {known.id} is {known.status} on this controller: "
                            f"`orc resume {known.id}` or `orc abort {known.id}` it instead")
    targets = [target_for(inventory, h) for h in hosts]
    read = run_many(targets, _read_command(), timeout=10)
    outcome: dict[str, Cleared] = {}
    remove: dict[str, LockFile] = {}
    for host, answer in read.items():
        if answer.exit_code is None:
            outcome[host] = Cleared(host, "failed", detail=answer.error or "unreachable")
            continue
        what, detail = _answer(answer.stdout)
        if what == _ABSENT:
            outcome[host] = Cleared(host, "absent")
        elif what != _HELD:
            outcome[host] = Cleared(host, "failed", detail=(answer.stderr.strip().splitlines()
                                                            or ["cannot read the lock"])[-1])
        else:
            lock = _lock_of(detail)
            why = _keep_reason(lock, run_id, store)
            if why:
                outcome[host] = Cleared(host, "kept", lock, why)
            else:
                remove[host] = lock
    for host, lock in remove.items():
        answer = run_many([target_for(inventory, host)], _remove_command(lock), timeout=10)[host]
        what, detail = _answer(answer.stdout)
        if answer.exit_code is None:
            outcome[host] = Cleared(host, "failed", lock, answer.error or "unreachable")
        elif what == _ABSENT:
            outcome[host] = Cleared(host, "removed", lock)
        else:
            outcome[host] = Cleared(host, "kept", _lock_of(detail),
                                    "another run locked it meanwhile")
    return [outcome[h] for h in hosts]


def _keep_reason(lock: LockFile, run_id: str | None, store: RunStore) -> str | None:
    """Why `clear` leaves this lock alone (None: it goes)."""
    if run_id is not None:
        return None if lock.run_id == run_id else f"not a lock of {run_id}"
    if lock.run_id is None:
        return None
    try:
        status = store.get(lock.run_id).status
    except Exception:
        return (f"a run unknown to this controller: if its controller died, pass "
                f"--run {lock.run_id}")
    if status in HOLDING:
        return f"{status} on this controller: resume or abort it"
    return None
