"""Which version of each secret file went to each host, so an old signed file cannot come back.

An old file with its old signature is still validly signed; only memory of what was deployed
tells it apart. That memory lives on each host, in `/var/lib/orc/secrets-deployed.json` (root
only, beside the journals, replaced atomically), so a controller with no state of its own (a CI
runner on a fresh clone) is refused an older version all the same. The controller keeps a copy
in sqlite, which `orc secrets verify` reads; both are checked with `check_version`. The version
of the root-signed `secrets/signers.yaml` is recorded the same way, so an older signer policy
(one that still trusted a revoked key) cannot come back either.
"""

from __future__ import annotations

import base64
import json
import shlex
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyinfra.api.command import StringCommand

from orchestrator import statedir
from orchestrator.errors import SecretsError

STORE = Path(".orc") / "secrets-deployed.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS deployed (
    host TEXT NOT NULL,
    secret TEXT NOT NULL,
    version INTEGER NOT NULL,
    deployed_at TEXT NOT NULL,
    PRIMARY KEY (host, secret)
)
"""


def default_store(repo_root: Path) -> Path:
    return repo_root / STORE


def check_version(host: str, secret_path: str, version: int, deployed: int | None,
                  allow_downgrade: bool = False) -> None:
    """Refuse a version older than the one the host already has."""
    if deployed is not None and version < deployed and not allow_downgrade:
        raise SecretsError(
            f"version {version} is older than version {deployed} already deployed to {host} "
            "(a replayed file?); refused unless --allow-downgrade", path=secret_path)


def _connect(store_path: Path) -> sqlite3.Connection:
    conn = statedir.connect(store_path, timeout=30, isolation_level=None)
    conn.execute(_SCHEMA)
    return conn


def check_and_record(store_path: Path, host: str, secret_path: str, version: int,
                     allow_downgrade: bool = False) -> int | None:
    """Check `version` against the controller's record for `host`, then record it.

    Returns the version recorded before, if any. Check and record are one transaction, so two
    hosts of a wave deploying at once cannot both slip past a check.
    """
    with closing(_connect(store_path)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT version FROM deployed WHERE host = ? AND secret = ?",
                               (host, secret_path)).fetchone()
            previous = row[0] if row else None
            check_version(host, secret_path, version, previous, allow_downgrade)
            conn.execute(
                "INSERT OR REPLACE INTO deployed (host, secret, version, deployed_at) "
                "VALUES (?, ?, ?, ?)",
                (host, secret_path, version, datetime.now(UTC).isoformat()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return previous


def deployed_versions(store_path: Path, secret_path: str) -> dict[str, int]:
    """host -> the version of `secret_path` last deployed there, as the controller recorded it."""
    if not store_path.is_file():
        return {}
    with closing(_connect(store_path)) as conn:
        rows = conn.execute("SELECT host, version FROM deployed WHERE secret = ? ORDER BY host",
                            (secret_path,)).fetchall()
    return dict(rows)


def check_against_store(store_path: Path, secret_path: str, version: int,
                        allow_downgrade: bool = False) -> None:
    """Refuse `version` if any host already got a newer one (what `orc secrets verify` checks)."""
    versions = deployed_versions(store_path, secret_path)
    if versions:
        host = max(versions, key=versions.__getitem__)
        check_version(host, secret_path, version, versions[host], allow_downgrade)


HOST_RECORD = "/var/lib/orc/secrets-deployed.json"  # {"secrets/app.yaml": 3, ...}


class HostRecordError(SecretsError):
    """The host's record of deployed versions cannot be read or written."""


def read_host(host: Any, sudo: bool = False, shell: Any = None) -> dict[str, int]:
    """The versions `host` records as deployed (empty when it never got a secret); read
    through `shell` (the host's `engine.factshell.FactShell`) when it takes the read."""
    script = f"if [ -e {HOST_RECORD} ]; then cat {HOST_RECORD}; fi"
    command = StringCommand(f"sh -c {shlex.quote(script)}")
    answer = shell.read(command, {"_sudo": sudo}) if shell is not None else None
    ok, output = answer or host.run_shell_command(command, _sudo=sudo)
    if not ok:
        raise HostRecordError(f"cannot read {HOST_RECORD}: "
                              + " ".join(output.stderr_lines[-1:]), path=host.name)
    text = "\n".join(output.stdout_lines).strip()
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in data.items()):
        raise HostRecordError(f"{HOST_RECORD} is not a record of versions (remove it to start "
                              "over, which forgets what this host has)", path=host.name)
    return data


def write_host(host: Any, versions: dict[str, int], sudo: bool = False) -> None:
    """Replace the host's record atomically: a temp file, synced, renamed, root only."""
    payload = base64.b64encode(json.dumps(versions, sort_keys=True).encode()).decode()
    script = (f"umask 077 && mkdir -p {HOST_RECORD.rsplit('/', 1)[0]} && "
              f"printf %s {payload} | base64 -d > {HOST_RECORD}.tmp && "
              f"sync {HOST_RECORD}.tmp 2>/dev/null; mv {HOST_RECORD}.tmp {HOST_RECORD} && sync")
    ok, output = host.run_shell_command(f"sh -c {shlex.quote(script)}", _sudo=sudo)
    if not ok:
        raise HostRecordError(f"cannot write {HOST_RECORD}: "
                              + " ".join(output.stderr_lines[-1:]), path=host.name)


def check_host(host_name: str, recorded: dict[str, int], versions: dict[str, int],
               allow_downgrade: bool = False) -> dict[str, int]:
    """Refuse any of `versions` older than the host's record; return the record to write."""
    for name, version in sorted(versions.items()):
        check_version(host_name, name, version, recorded.get(name), allow_downgrade)
    return {**recorded, **versions}
