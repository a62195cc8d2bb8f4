"""A host orc cannot connect to fails, with one line saying why, and nothing else: no traceback
on stderr from pyinfra's greenlets or paramiko's transport thread, whatever the cause (issue 13)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.orc import run_orc


@pytest.fixture(scope="module")
def not_ssh() -> Iterator[int]:
    """A port that accepts and hangs up at once, as a port that speaks no SSH does."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _estate(tmp_path: Path, port: int, extra: str) -> tuple[Path, Path]:
    (tmp_path / "not-a-key").write_text("not a key\n")
    (tmp_path / "a-directory").mkdir()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("all:\n  hosts:\n    h1:\n      ansible_host: 127.0.0.1\n"
                         f"      ansible_port: {port}\n      {extra}\n")
    book = tmp_path / "site.yaml"
    book.write_text("- hosts: all\n  tasks:\n    - command: /bin/true\n")
    return book, inventory


# (inventory line for h1, whether its port speaks at all, what the host's line says)
CASES = [
    ("ansible_ssh_private_key_file: {tmp}/missing-key", "not_ssh",
     "No such private key file: {tmp}/missing-key"),
    ("ansible_ssh_private_key_file: {tmp}/not-a-key", "not_ssh",
     "Invalid private key file: {tmp}/not-a-key"),
    ("ansible_ssh_private_key_file: {tmp}/a-directory", "not_ssh",
     "No such private key file: {tmp}/a-directory"),
    ("ansible_user: root", "not_ssh", "Error reading SSH protocol banner"),
    ("ansible_user: root", "closed", "connection refused"),
]


@pytest.mark.parametrize("extra, port, reason", CASES)
def test_plan_fails_the_host_with_one_line(tmp_path: Path, not_ssh: int, extra: str,
                                           port: str, reason: str) -> None:
    number = not_ssh if port == "not_ssh" else _closed_port()
    book, inventory = _estate(tmp_path, number, extra.format(tmp=tmp_path))
    done = run_orc("plan", str(book), "-i", str(inventory))
    assert done.returncode == 1
    assert done.stderr.strip() == "", done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("h1:")]
    assert len(lines) == 1 and lines[0].startswith("h1: unreachable: "), done.stdout
    assert reason.format(tmp=tmp_path).lower() in lines[0].lower()


@pytest.mark.parametrize("extra, port, reason", CASES[:3])
def test_facts_fails_the_host_with_one_line(tmp_path: Path, not_ssh: int, extra: str,
                                            port: str, reason: str) -> None:
    _, inventory = _estate(tmp_path, not_ssh, extra.format(tmp=tmp_path))
    done = run_orc("facts", "-i", str(inventory), "all")
    assert done.returncode == 1
    assert done.stderr.strip() == "", done.stderr
    assert reason.format(tmp=tmp_path).lower() in done.stdout.lower()


def test_run_names_a_missing_known_hosts_file(tmp_path: Path, not_ssh: int) -> None:
    _, inventory = _estate(tmp_path, not_ssh,
                           f"ansible_ssh_common_args: -o UserKnownHostsFile={tmp_path}/kh")
    done = run_orc("run", "-i", str(inventory), "all", "true")
    assert done.returncode == 1
    assert done.stderr.strip() == "", done.stderr
    assert f"cannot read {tmp_path}/kh: No such file or directory" in done.stdout


def test_run_to_a_port_that_speaks_no_ssh_is_one_line(tmp_path: Path, not_ssh: int) -> None:
    _, inventory = _estate(tmp_path, not_ssh, "ansible_user: root")
    done = run_orc("run", "-i", str(inventory), "all", "true")
    assert done.returncode == 1
    assert done.stderr.strip() == "", done.stderr
    assert "Error reading SSH protocol banner" in done.stdout
