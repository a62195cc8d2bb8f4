"""A play's vars_files are read once per loaded play: what a rollout's preflight verified is what
every wave deploys."""

from __future__ import annotations

from pathlib import Path

from orchestrator.load.playbook import Play
from orchestrator.load.vars_files import play_vars_files


def _play(path: Path) -> Play:
    return Play(name="p", hosts="all", path="site.yaml", line=1, vars_files=[path])


def test_the_same_play_reads_its_files_once(tmp_path: Path) -> None:
    path = tmp_path / "vars.yaml"
    path.write_text("release: one\n")
    play = _play(path)
    assert play_vars_files(play).values == {"release": "one"}
    path.write_text("release: two\n")  # changed after the preflight read it
    assert play_vars_files(play).values == {"release": "one"}


def test_a_playbook_loaded_anew_reads_them_anew(tmp_path: Path) -> None:
    path = tmp_path / "vars.yaml"
    path.write_text("release: one\n")
    assert play_vars_files(_play(path)).values == {"release": "one"}
    path.write_text("release: two\n")
    assert play_vars_files(_play(path)).values == {"release": "two"}
