"""Which version of each secret file went to each host, so an old signed file cannot come back.

An old file with its old signature is still validly signed; only memory of what was deployed
tells it apart. The controller keeps that memory in sqlite (safe when a wave deploys to many hosts
at once); the apply engine also records it on each host and checks both with `check_version`.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

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
