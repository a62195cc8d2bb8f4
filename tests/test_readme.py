"""The README teaches in the order a newcomer needs, and documents every command: checked
against the commands and options the `orc` command really has."""

from __future__ import annotations

import importlib
import re

import click

from orchestrator.cli import COMMANDS
from tests.support.orc import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _sections(level: str = "## ") -> list[str]:
    return [line[len(level):] for line in README.splitlines() if line.startswith(level)]


def _command(name: str) -> click.Command:
    module, attr = COMMANDS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def test_sections_come_in_the_order_a_newcomer_needs() -> None:
    sections = _sections()
    order = ["Contents", "The two commands", "A playbook with waves", "Plan, apply, rollback",
             "Secrets", "Labs"]
    assert [s for s in sections if s in order] == order
    assert sections[-1] == "Lab internals"
    assert README.index("## Secrets") < README.index("## Security") < README.index("## Labs")


def test_the_table_of_contents_links_to_real_sections() -> None:
    def anchor(title: str) -> str:
        return re.sub(r"[^\w\- ]", "", title.lower().replace("`", "")).replace(" ", "-")

    anchors = {anchor(t) for t in _sections() + _sections("### ")}
    links = re.findall(r"\]\(#([^)]+)\)", README)
    assert links and [link for link in links if link not in anchors] == []


def test_every_command_and_sub_command_is_documented() -> None:
    for name in COMMANDS:
        assert f"orc {name}" in README, name
        command = _command(name)
        if isinstance(command, click.Group):
            for sub, inner in command.commands.items():
                assert f"orc {name} {sub}" in README, f"orc {name} {sub}"
                if isinstance(inner, click.Group):
                    for leaf in inner.commands:
                        assert f"orc {name} {sub} {leaf}" in README, f"{name} {sub} {leaf}"


def test_plan_and_apply_options_are_documented() -> None:
    for name in ("plan", "apply"):
        for param in _command(name).params:
            if isinstance(param, click.Option):
                assert any(opt in README for opt in param.opts), f"orc {name} {param.opts}"


def test_orc_test_converge_is_described_as_what_it_runs() -> None:
    converge = README[README.index("- **converge**"):README.index("- **idempotence**")]
    assert "no waves" in converge and "no journals" in converge
    assert "`orc apply` of" not in converge


def test_a_path_for_own_hosts_without_root_and_shell_completion() -> None:
    own = README[README.index("## Install, and a first plan"):README.index("## Playbooks")]
    assert "pip install" in own and "no root" in own and "orc plan" in own
    assert "_ORC_COMPLETE=bash_source orc" in README
