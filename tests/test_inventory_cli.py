"""`orc inventory` as a user runs it: a tree on a terminal, JSON in a pipe, warnings on stderr."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from tests.support.inventory_oracle import INVENTORIES

ORC = str(Path(sys.executable).with_name("orc"))
LAB = str(INVENTORIES / "lab_shape" / "lab.yaml")
PATTERNS = str(INVENTORIES / "patterns" / "hosts.ini")


def run_on_terminal(*args: str) -> str:
    """Run orc with its stdout on a pseudo-terminal, as in an interactive shell."""
    leader, follower = pty.openpty()
    env = os.environ | {"COLUMNS": "100", "TERM": "xterm"}
    try:
        process = subprocess.Popen([ORC, *args], stdout=follower, stderr=subprocess.PIPE, env=env)
        os.close(follower)
        chunks = []
        # read until orc has exited and the terminal is drained; never block on a quiet terminal
        while True:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: every writer is gone
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        assert process.wait(timeout=60) == 0, process.stderr.read()
        return b"".join(chunks).decode()
    finally:
        os.close(leader)


def test_terminal_gets_a_tree_of_groups_and_hosts() -> None:
    out = run_on_terminal("inventory", "-i", LAB)
    assert "@all" in out and "3 hosts" in out
    assert "@lab" in out
    for host, address in [("lab-1", "10.77.0.11"), ("lab-3", "10.77.0.13")]:
        assert host in out and address in out
    assert "└──" in out


def test_tree_with_a_limit_shows_only_the_selected_hosts() -> None:
    out = run_on_terminal("inventory", "-i", PATTERNS, "--limit", "web:&prod")
    assert "web1" in out
    assert "web2" not in out and "db1" not in out
    assert "@staging" not in out


def test_a_pipe_gets_the_list_json() -> None:
    piped = subprocess.run([ORC, "inventory", "-i", LAB], capture_output=True, text=True,
                           check=True)
    listed = subprocess.run([ORC, "inventory", "-i", LAB, "--list"], capture_output=True,
                            text=True, check=True)
    assert piped.stdout == listed.stdout
    assert json.loads(piped.stdout)["lab"]["hosts"] == ["lab-1", "lab-2", "lab-3"]


def test_limit_terms_that_match_nothing_are_warned_about() -> None:
    result = subprocess.run([ORC, "inventory", "-i", PATTERNS, "--list", "--limit", "db:nosuch"],
                            capture_output=True, text=True, check=True)
    assert result.stderr == "warning: host pattern term 'nosuch' matched no host and no group\n"
    assert json.loads(result.stdout)["db"]["hosts"] == ["db1", "db2", "web3"]


def test_default_inventory_is_the_lab_inventory(tmp_path: Path) -> None:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "lab.yaml").write_text(Path(LAB).read_text())
    result = subprocess.run([ORC, "inventory", "--host", "lab-1"], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    assert json.loads(result.stdout)["ansible_host"] == "10.77.0.11"


def test_no_inventory_at_all_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([ORC, "inventory", "--list"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert "no inventory: pass -i SOURCE" in result.stderr
    assert "Traceback" not in result.stderr
