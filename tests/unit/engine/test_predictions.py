"""predictions: the fact commands a play read, kept for its next run, never a secret."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from pyinfra.api.command import StringCommand

from orchestrator.engine import predictions
from orchestrator.load.playbook import Play
from orchestrator.secrets import masking


def _play(tmp_path: Path, name: str = "web") -> Play:
    return Play(name=name, hosts="all", path=str(tmp_path / "site.yaml"), line=1)


def test_reads_kept_come_back_as_commands_with_their_arguments(tmp_path: Path) -> None:
    play = _play(tmp_path)
    segments = [[(StringCommand("stat /etc/motd"), {"_sudo": True, "print_output": False}),
                 (StringCommand("cat /etc/group"), {"_success_exit_codes": (0, 1)})],
                None, []]
    predictions.save(str(tmp_path / "state"), play, segments)
    loaded = predictions.load(str(tmp_path / "state"), play)
    assert [[(c.get_raw_value(), a) for c, a in s] for s in loaded] == [
        [("stat /etc/motd", {"_sudo": True}), ("cat /etc/group", {"_success_exit_codes": [0, 1]})],
        [], []]
    # another play of the same file has its own
    assert predictions.load(str(tmp_path / "state"), _play(tmp_path, "db")) == []


def test_the_file_is_private(tmp_path: Path) -> None:
    predictions.save(str(tmp_path / "state"), _play(tmp_path), [[(StringCommand("id"), {})]])
    (kept,) = (tmp_path / "state" / "facts").iterdir()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700


def test_no_secret_password_or_opaque_argument_is_written(tmp_path: Path) -> None:
    masking.remember_plaintexts(["s3cr3t-token-value"])
    segments = [[(StringCommand("grep -e 's3cr3t-token-value' /etc/app.conf"), {}),
                 (StringCommand("stat /etc/app.conf"), {"_env": {"TOKEN": "s3cr3t-token-value"}}),
                 (StringCommand("stat /etc/a"), {"_sudo_password": "hunter2"}),
                 (StringCommand("stat /etc/b"), {"_retry_until": lambda output: True}),
                 (StringCommand("stat /etc/c"), {"_sudo_password": ""})]]
    predictions.save(str(tmp_path / "state"), _play(tmp_path), segments)
    (kept,) = (tmp_path / "state" / "facts").iterdir()
    text = kept.read_text()
    assert "s3cr3t" not in text and "hunter2" not in text
    assert json.loads(text) == {"segments": [[["stat /etc/c", {"_sudo_password": ""}]]]}


def test_nothing_kept_without_a_state_dir_or_a_readable_file(tmp_path: Path) -> None:
    play = _play(tmp_path)
    predictions.save(None, play, [[(StringCommand("id"), {})]])
    assert predictions.load(None, play) == []
    predictions.save(str(tmp_path / "state"), play, [[(StringCommand("id"), {})]])
    (kept,) = (tmp_path / "state" / "facts").iterdir()
    kept.write_text("{not json")
    assert predictions.load(str(tmp_path / "state"), play) == []
    blocked = tmp_path / "file"
    blocked.write_text("")
    predictions.save(str(blocked), play, [[(StringCommand("id"), {})]])  # cannot be written
