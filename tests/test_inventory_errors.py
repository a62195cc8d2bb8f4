"""Bad inventories stop orc with one line naming the file, the line and what was expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.errors import InventoryError
from orchestrator.inventory import load_inventory
from tests.support.inventory_oracle import INVENTORIES

BAD = INVENTORIES / "bad"
ORC = str(Path(sys.executable).with_name("orc"))

# file under bad/, line (None: the problem has no line), words the message must contain
CASES = [
    ("yaml_syntax.yml", 6, "invalid YAML"),
    ("group_not_mapping.yml", 6, "group 'db' must be a mapping"),
    ("hosts_is_list.yaml", 4, "'hosts' of group 'web' must be a mapping, got a list"),
    ("host_not_mapping.yml", 5, "host 'web2' in group 'all' must map to a mapping of variables"),
    ("unknown_key.yml", 4, "unknown key 'host' in group 'web'; did you mean 'hosts'?"),
    ("bad_range.yml", 3, "must have equal-length begin and end"),
    ("bad_priority.yml", 5, "ansible_group_priority of group 'web' must be an integer"),
    ("plugin_config.yml", 1, "inventory plugin configuration (plugin: amazon.aws.aws_ec2)"),
    ("bad_section.ini", 4, "section [web:child] has unknown type 'child'"),
    ("undefined_child.ini", 3, "names group 'db', which is never defined"),
    ("bad_host_var.ini", 3, "expected key=value after the host name, got 'just-a-word'"),
    ("loop.ini", 4, "creates a loop"),
    ("latin1.ini", 2, "not UTF-8 text"),
    ("hosts.toml", None, "TOML inventories are not supported"),
    ("exits_nonzero.sh", None, "exited with status 3: cannot reach the CMDB at cmdb.example.com"),
    ("prints_text.sh", None, "printed no valid JSON"),
    ("prints_list.sh", None, "expected a JSON object of groups, got list"),
]


@pytest.mark.parametrize("name, line, words", CASES, ids=[c[0] for c in CASES])
def test_bad_source_names_file_line_and_problem(name: str, line: int | None, words: str) -> None:
    with pytest.raises(InventoryError) as raised:
        load_inventory([BAD / name])
    error = raised.value
    assert error.path == str(BAD / name)
    assert error.line == line
    for word in words.split("; "):
        assert word in error.message


def test_group_vars_file_that_is_not_a_mapping_is_named() -> None:
    with pytest.raises(InventoryError) as raised:
        load_inventory([BAD / "bad_group_vars" / "hosts.yml"]).host_vars("web1")
    assert raised.value.path == str(BAD / "bad_group_vars" / "group_vars" / "web.yml")
    assert "expected a mapping of variables, got a list" in raised.value.message


def test_missing_source_is_an_error() -> None:
    with pytest.raises(InventoryError, match="no such inventory file or directory"):
        load_inventory([BAD / "no-such-file.yml"])


def run_orc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ORC, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name, line", [("yaml_syntax.yml", 6), ("group_not_mapping.yml", 6),
                                        ("exits_nonzero.sh", None), ("prints_text.sh", None)])
def test_cli_prints_one_line_and_no_traceback(name: str, line: int | None) -> None:
    result = run_orc("inventory", "-i", str(BAD / name), "--list")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    where = str(BAD / name) + (f":{line}" if line else "")
    assert result.stderr.startswith(f"error: {where}: ")
    assert result.stderr.count("\n") == 1


def test_cli_bad_pattern_is_one_line() -> None:
    result = run_orc("inventory", "-i", str(INVENTORIES / "patterns" / "hosts.ini"),
                     "--list", "--limit", "web:^db")
    assert result.returncode == 1
    assert result.stderr == (
        "error: unknown pattern operator '^' in 'web:^db'; use a:b (either), a:&b (both), "
        "a:!b (a but not b), ~regex, or a name or glob\n"
    )
