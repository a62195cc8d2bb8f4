"""The journal's pure parts: which tasks are recorded, how captured states become pre-images,
which after-image a rollback compares, and which pre-image it restores."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.undo.drift import compared
from orchestrator.undo.kinds.base import Resource
from orchestrator.undo.record import Batch, Planned, images_of, select
from orchestrator.undo.restore import earliest
from tests.support.undo import batch, image


def _planned(task: str, predicted: bool) -> Planned:
    return Planned(task, "play.yaml:1", predicted, [], [])


def test_recorded_from_the_first_predicted_change_onward() -> None:
    tasks = [_planned("a", False), _planned("b", True), _planned("c", False),
             _planned("d", True)]
    assert [p.task for p in select(tasks)] == ["b", "c", "d"]
    assert select([_planned("a", False), _planned("b", False)]) == []


def test_pre_images_with_the_parents_a_task_may_create() -> None:
    owner = Planned("deploy", "play.yaml:3", True, [], [{"name": "reload"}])
    found = Batch("run1", "web1", "1-play", "play")
    images_of(found, [Resource("path", "/srv/app/conf"), Resource("command", "make", {"undo": "u"})],
              [owner, owner],
              {0: {"type": "absent", "missing": ["/srv/app", "/srv"]}})
    assert [(i.seq, i.kind, i.key, i.state) for i in found.images] == [
        (0, "path", "/srv", {"type": "absent"}), (1, "path", "/srv/app", {"type": "absent"}),
        (2, "path", "/srv/app/conf", {"type": "absent"}), (3, "command", "make", {})]
    assert found.images[3].extra == {"undo": "u"}
    assert found.images[2].notify == [{"name": "reload"}]


def test_a_file_pre_image_names_its_copy() -> None:
    found = Batch("run1", "web1", "1-play", "play")
    images_of(found, [Resource("path", "/a"), Resource("path", "/b")],
              [_planned("t", True)] * 2, {0: {"type": "directory"}, 1: {"type": "file"}})
    assert [i.extra for i in found.images] == [{}, {"copy": "files/1"}]


def test_the_journal_round_trips_as_json() -> None:
    first = batch(image(0, "path", "/a", {"type": "absent"}),
                  packages={"installed": ["x"]})
    again = Batch.from_json(first.to_json())
    assert again == first


def test_drift_compares_the_last_after_image_of_each_resource() -> None:
    one = batch(image(0, "path", "/a", {"type": "absent"}),
                image(1, "command", "make", {}), name="1-play")
    one.after = {0: {"type": "file", "sha256": "1"}}
    two = batch(image(0, "path", "/a", {"type": "file"}),
                image(1, "sysctl", "k", {"value": "0"}), name="2-play")
    two.after = {0: {"type": "file", "sha256": "2"}, 1: {"value": "1"}}
    assert [(i.key, left) for i, left in compared([one, two])] == [
        ("/a", {"type": "file", "sha256": "2"}), ("k", {"value": "1"})]


def test_drift_skips_a_resource_whose_last_batch_was_never_sealed() -> None:
    one = batch(image(0, "path", "/a", {"type": "absent"}), name="1-play")
    one.after = {0: {"type": "file"}}
    killed = batch(image(0, "path", "/a", {"type": "file"}), name="2-play")  # no after-image
    assert compared([one, killed]) == []
    assert [i.key for i, _ in compared([one])] == ["/a"]


def test_restore_takes_each_resource_as_the_run_first_found_it() -> None:
    one = batch(image(0, "path", "/a", {"type": "absent"}),
                image(1, "command", "make", {}), name="1-play")
    two = batch(image(0, "path", "/a", {"type": "file"}), image(1, "command", "make", {}),
                name="2-play")
    found = earliest([one, two])
    assert [(i.key, i.state, i.extra["batch"]) for i in found] == [
        ("/a", {"type": "absent"}, "1-play"), ("make", {}, "1-play"), ("make", {}, "2-play")]


@pytest.mark.parametrize("keep, kept", [
    (3, ["20261101-0900-b", "20261102-0800-d", "20261130-1200-c"]),
    (1, ["20261130-1200-c"]),
    (9, ["20261001-0000-a", "20261101-0900-b", "20261102-0800-d", "20261130-1200-c"]),
    (0, ["20261001-0000-a", "20261101-0900-b", "20261102-0800-d", "20261130-1200-c"]),
])
def test_prune_keeps_the_newest_runs_and_this_one(tmp_path: Path, keep: int,
                                                   kept: list[str]) -> None:
    import subprocess

    from orchestrator.undo import record

    for name in ("20261001-0000-a", "20261101-0900-b", "20261130-1200-c", "20261102-0800-d"):
        (tmp_path / name / "batch").mkdir(parents=True)
    script = record.prune("20261130-1200-c", keep).replace(record.RUNS_DIR, str(tmp_path))
    subprocess.run(["sh", "-c", script], check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == kept
