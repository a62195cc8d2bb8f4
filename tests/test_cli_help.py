"""`orc --help`: every sub-command listed with its own summary, none of them imported."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest

from orchestrator.cli import COMMANDS, docstring


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listing_reads_each_commands_own_summary(name: str) -> None:
    module_name, attr = COMMANDS[name].split(":")
    command = getattr(importlib.import_module(module_name), attr)
    doc = docstring(COMMANDS[name])
    assert doc, f"{COMMANDS[name]}: no docstring read from source"
    for limit in (45, 80, 1000):
        assert click.Command(name, help=doc).get_short_help_str(limit) == \
            command.get_short_help_str(limit)


def test_help_imports_no_sub_command() -> None:
    probe = ("import json, sys\n"
             "from orchestrator.cli import main\n"
             "try:\n"
             "    main(['--help'])\n"
             "except SystemExit:\n"
             "    pass\n"
             "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=60)
    *_, last = done.stdout.strip().splitlines()
    loaded = set(json.loads(last))
    assert "Commands:" in done.stdout and "rollback" in done.stdout
    assert "pyinfra" not in loaded
    assert not {target.split(":")[0] for target in COMMANDS} & loaded
