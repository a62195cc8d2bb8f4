"""Replay protection: a secret file older than the one a host was given is refused there.

Each host keeps the versions it was given (`/var/lib/orc/secrets-deployed.json`,
orchestrator/secrets/replay.py); a run checks them before any host is touched and records the
new ones on apply. A host whose record cannot be read or written runs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gevent

from orchestrator.engine.journaling import journal_sudo
from orchestrator.engine.options import RunOptions
from orchestrator.engine.results import (
    HostResult,
    PlayResult,
)
from orchestrator.load.vars_files import VarsFiles
from orchestrator.transport.session import Session


def check_secret_versions(play_become: bool | None, vars_files: VarsFiles, session: Session,
                           options: RunOptions, result: PlayResult,
                           shells: dict[str, Any] | None = None) -> None:
    """Refuse a replayed (older) secret file or signer policy before any host is touched.

    Each host's own record decides (see `replay`), so a controller without state (a fresh CI
    clone) is refused too; an apply then records the new versions there (where they changed)
    and in the store `orc secrets verify` reads. A host whose record cannot be read or written
    runs nothing. `shells`: each host's fact shell, which reads the record."""
    if not vars_files.secret_files:
        return
    from orchestrator.secrets import replay
    from orchestrator.secrets.policy import find_root

    versions = vars_files.versions()
    hosts = dict(session.hosts)

    def read(name: str) -> Any:
        try:
            return replay.read_host(hosts[name], journal_sudo(play_become, hosts[name]),
                                    (shells or {}).get(name))
        except Exception as exc:  # a value, so gevent never prints it as a traceback
            return exc

    jobs = {name: gevent.spawn(read, name) for name in hosts}
    gevent.joinall(list(jobs.values()))
    records: dict[str, dict[str, int]] = {}
    unchanged: set[str] = set()  # hosts whose record already says what this run deploys
    for name, job in jobs.items():
        if isinstance(job.value, Exception):
            _drop_host(name, f"secret versions: {job.value}", session, result)
        else:
            records[name] = replay.check_host(name, job.value, versions, options.allow_downgrade)
            if records[name] == job.value:
                unchanged.add(name)
    if options.dry_run:
        return
    stores = {s.name: replay.default_store(find_root(Path(s.path).resolve().parent))
              for s in vars_files.secret_files}
    for secret in vars_files.secret_files:
        for name, version in secret.versions.items():
            replay.check_against_store(stores[secret.name], name, version,
                                       options.allow_downgrade)
            for host in records:
                replay.check_and_record(stores[secret.name], host, name, version,
                                        options.allow_downgrade)

    def write(name: str) -> Exception | None:
        try:
            replay.write_host(hosts[name], records[name],
                              journal_sudo(play_become, hosts[name]))
        except Exception as exc:  # noqa: BLE001 - reported as the host's failure below
            return exc
        return None

    jobs = {name: gevent.spawn(write, name) for name in records if name not in unchanged}
    gevent.joinall(list(jobs.values()))
    for name, job in jobs.items():
        if job.value is not None:
            _drop_host(name, f"secret versions: {job.value}", session, result)


def _drop_host(name: str, error: str, session: Session, result: PlayResult) -> None:
    """A host that fails before it is prepared: reported failed, and nothing runs on it."""
    result.hosts[name] = HostResult(name, error=error, unreachable=False)
    host = session.hosts.pop(name)
    session.state.active_hosts.discard(host)
