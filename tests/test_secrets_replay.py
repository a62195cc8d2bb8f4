"""The controller's record of deployed versions refuses a replayed older secret file."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from orchestrator.secrets import SecretsError, replay


def test_versions_may_repeat_or_rise_but_not_fall(tmp_path: Path) -> None:
    store = tmp_path / ".orc" / "secrets-deployed.sqlite"
    assert replay.check_and_record(store, "web1", "secrets/app.yaml", 3) is None
    assert replay.check_and_record(store, "web1", "secrets/app.yaml", 3) == 3
    assert replay.check_and_record(store, "web1", "secrets/app.yaml", 4) == 3
    with pytest.raises(SecretsError) as refused:
        replay.check_and_record(store, "web1", "secrets/app.yaml", 2)
    assert str(refused.value) == (
        "secrets/app.yaml: version 2 is older than version 4 already deployed to web1 "
        "(a replayed file?); refused unless --allow-downgrade")
    assert replay.deployed_versions(store, "secrets/app.yaml") == {"web1": 4}


def test_a_downgrade_is_recorded_when_allowed(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    replay.check_and_record(store, "web1", "secrets/app.yaml", 5)
    assert replay.check_and_record(store, "web1", "secrets/app.yaml", 2, allow_downgrade=True) == 5
    assert replay.deployed_versions(store, "secrets/app.yaml") == {"web1": 2}


def test_records_are_per_host_and_per_file(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    replay.check_and_record(store, "web1", "secrets/app.yaml", 7)
    replay.check_and_record(store, "web2", "secrets/app.yaml", 1)
    replay.check_and_record(store, "web1", "secrets/db.yaml", 1)
    assert replay.deployed_versions(store, "secrets/app.yaml") == {"web1": 7, "web2": 1}
    with pytest.raises(SecretsError, match="older than version 7 already deployed to web1"):
        replay.check_against_store(store, "secrets/app.yaml", 6)
    replay.check_against_store(store, "secrets/app.yaml", 6, allow_downgrade=True)
    assert replay.deployed_versions(tmp_path / "absent.sqlite", "secrets/app.yaml") == {}


def test_the_host_side_record_is_checked_the_same_way() -> None:
    replay.check_version("web1", "secrets/app.yaml", 4, None)
    replay.check_version("web1", "secrets/app.yaml", 4, 4)
    with pytest.raises(SecretsError, match="version 3 is older than version 4"):
        replay.check_version("web1", "secrets/app.yaml", 3, 4)


def test_concurrent_deploys_never_let_an_older_version_overwrite_a_newer_one(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store.sqlite"
    versions = list(range(1, 41))
    random.Random(7).shuffle(versions)
    accepted: list[int] = []
    lock = threading.Lock()

    def deploy(version: int) -> None:
        try:
            replay.check_and_record(store, "web1", "secrets/app.yaml", version)
        except SecretsError:
            return
        with lock:
            accepted.append(version)

    threads = [threading.Thread(target=deploy, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # check and record are one transaction: whatever the interleaving, the newest one stays
    assert replay.deployed_versions(store, "secrets/app.yaml") == {"web1": 40}
    assert 40 in accepted
