"""The controller's `.orc/` is private: a 0700 directory of 0600 files, sqlite's side files too."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from orchestrator import statedir
from orchestrator.rollout.store import RunStore
from orchestrator.secrets import replay


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_run_index_and_its_wal_files_are_private_under_a_wide_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = RunStore(tmp_path / ".orc")
        store.start("site.yaml", [], {}, ["web1"])
        with store._db() as db:  # WAL and shared-memory files exist while a connection is open
            db.execute("INSERT INTO waves VALUES ('x', 0, 0, '[]', 'ok', 0, 0, '{}')")
            files = sorted(p.name for p in (tmp_path / ".orc").iterdir())
            assert {"orc.db", "orc.db-wal", "orc.db-shm"} <= set(files)
            assert {p.name: _mode(p) for p in (tmp_path / ".orc").iterdir()} == {
                name: 0o600 for name in files}
    finally:
        os.umask(old)
    assert _mode(tmp_path / ".orc") == 0o700


def test_a_state_dir_made_wide_by_an_older_orc_is_narrowed(tmp_path: Path) -> None:
    state = tmp_path / ".orc"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    (state / "orc.db").write_bytes(b"")
    os.chmod(state / "orc.db", 0o644)
    RunStore(state).list()
    assert (_mode(state), _mode(state / "orc.db")) == (0o700, 0o600)


def test_the_secret_version_store_is_private(tmp_path: Path) -> None:
    store = tmp_path / "repo" / ".orc" / "secrets-deployed.sqlite"
    replay.check_and_record(store, "web1", "secrets/app.yaml", 1)
    assert (_mode(store.parent), _mode(store)) == (0o700, 0o600)


def test_private_dir_creates_missing_parents(tmp_path: Path) -> None:
    made = statedir.private_dir(tmp_path / "a" / "b")
    assert _mode(made) == 0o700


def test_a_shared_sticky_directory_given_as_state_dir_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    RunStore(shared).list()
    assert (_mode(shared), _mode(shared / "orc.db")) == (0o1777, 0o600)
