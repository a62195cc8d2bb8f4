"""The rollout lock on real lab hosts: a full /var/lib/orc leaves no lock behind, an unreadable
lock and another controller's lock are refused naming `orc unlock`, and that command clears
them (only the run it is told to, for a run this controller does not know)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from orchestrator.rollout.locks import LOCK, LockFile
from orchestrator.lab import Lab
from tests.support.orc import run_orc

PLAYBOOK = """\
- name: touch
  hosts: all
  tasks:
    - name: mark
      copy:
        dest: /root/orc-lock-test
        content: "{{ mark }}\\n"
        mode: "0644"
"""
FOREIGN = "20991231-000000-abcdef"


def test_a_lock_names_its_run_or_is_unreadable() -> None:
    lock = LockFile.parse(f"{FOREIGN}\nci-7 123 1700000000\n".encode())
    assert lock.run_id == FOREIGN and "controller ci-7, pid 123" in lock.holder()
    assert LockFile.parse(b"20260101-000000-aaaaaa\n").holder() == "run 20260101-000000-aaaaaa"
    assert LockFile.parse(b"").run_id is None
    assert "empty" in LockFile.parse(b"").holder()
    assert LockFile.parse(b"\x00\xff junk").run_id is None
    assert "names no run" in LockFile.parse(b"\x00\xff junk").holder()


def test_a_lock_of_a_gone_process_on_this_machine_is_stale() -> None:
    here, gone = socket.gethostname(), 2**22 + 1  # above the kernel's pid limit: never alive
    assert LockFile.parse(f"{FOREIGN}\n{here} {gone} 1700000000\n".encode()).orphaned()
    assert not LockFile.parse(f"{FOREIGN}\n{here} {os.getpid()} 1\n".encode()).orphaned()
    assert not LockFile.parse(f"{FOREIGN}\nelsewhere {gone} 1\n".encode()).orphaned()


@pytest.fixture
def work(lab: Lab, lab_inventory: Path, tmp_path: Path, ssh):
    name = lab.hosts[0].name
    (tmp_path / "touch.yaml").write_text(PLAYBOOK)
    ssh(name, f"rm -f {LOCK}")
    yield {"dir": tmp_path, "host": name, "inventory": lab_inventory}
    ssh(name, "umount /var/lib/orc 2>/dev/null; rm -f /var/lib/orc/rollout.lock")


def apply(work, mark: str):
    return run_orc("apply", str(work["dir"] / "touch.yaml"), "-i", str(work["inventory"]),
                   "--limit", work["host"], "--yes", "--ci", "-e", f"mark={mark}",
                   "--state-dir", str(work["dir"] / ".orc"))


def unlock(work, *args: str):
    return run_orc("unlock", work["host"], "-i", str(work["inventory"]),
                   "--state-dir", str(work["dir"] / ".orc"), *args)


def on_host(ssh, work, command: str) -> str:
    proc = ssh(work["host"], command)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.lab
def test_a_full_disk_leaves_no_lock_and_the_next_run_goes_through(work, ssh) -> None:
    # /var/lib/orc on its own tiny filesystem, filled to the last byte
    on_host(ssh, work, "mkdir -p /var/lib/orc && mount -t tmpfs -o size=64k orcfull /var/lib/orc"
                       " && { dd if=/dev/zero of=/var/lib/orc/fill bs=4k 2>/dev/null; true; }")
    full = apply(work, "one")
    assert full.returncode == 1, full.stdout + full.stderr
    assert "cannot write its rollout lock" in full.stderr
    assert "No space left on device" in full.stderr
    assert on_host(ssh, work, "ls -A /var/lib/orc").split() == ["fill"]  # no lock, no temp file
    # space is back: the next run is not refused
    on_host(ssh, work, "rm /var/lib/orc/fill")
    again = apply(work, "two")
    assert again.returncode == 0, again.stdout + again.stderr
    assert on_host(ssh, work, "cat /root/orc-lock-test") == "two\n"
    assert ssh(work["host"], f"test -e {LOCK}").returncode == 1  # released


@pytest.mark.lab
def test_an_unreadable_lock_is_named_with_the_command_that_clears_it(work, ssh) -> None:
    on_host(ssh, work, f"mkdir -p /var/lib/orc && : > {LOCK}")  # as older versions left it
    refused = apply(work, "three")
    assert refused.returncode == 1
    assert f"{work['host']} has an unreadable lock (empty)" in refused.stderr, refused.stderr
    command = refused.stderr.split("`")[1]
    assert command.startswith(f"orc unlock {work['host']} -i ")
    cleared = run_orc(*command.split()[1:], "--state-dir", str(work["dir"] / ".orc"))
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    assert "removed" in cleared.stdout
    assert apply(work, "three").returncode == 0
    # a controller on this machine whose process is gone (another --state-dir): stale
    on_host(ssh, work, f"printf '{FOREIGN}\\n{socket.gethostname()} {2**22 + 1} 1\\n' > {LOCK}")
    stale = apply(work, "three")
    assert stale.returncode == 1 and f"has a stale lock of run {FOREIGN}" in stale.stderr
    assert f"orc unlock {work['host']} -i" in stale.stderr and f"--run {FOREIGN}`" in stale.stderr


@pytest.mark.lab
def test_another_controllers_lock_is_cleared_only_by_naming_its_run(work, ssh) -> None:
    on_host(ssh, work, f"mkdir -p /var/lib/orc && printf '{FOREIGN}\\nci-7 4242 1700000000\\n'"
                       f" > {LOCK}")
    refused = apply(work, "four")
    assert refused.returncode == 1
    assert f"locked by run {FOREIGN} (controller ci-7, pid 4242" in refused.stderr
    assert f"--run {FOREIGN}`" in refused.stderr
    # a pattern alone never removes a run's lock this controller does not know
    kept = unlock(work)
    assert kept.returncode == 1 and "kept" in kept.stdout
    assert on_host(ssh, work, f"head -n 1 {LOCK}").strip() == FOREIGN
    wrong = unlock(work, "--run", "20991231-000000-000000")
    assert wrong.returncode == 1 and "kept" in wrong.stdout
    cleared = unlock(work, "--run", FOREIGN)
    assert cleared.returncode == 0 and "removed" in cleared.stdout, cleared.stdout
    assert ssh(work["host"], f"test -e {LOCK}").returncode == 1
    assert apply(work, "four").returncode == 0
    # this controller's own finished run: a pattern is enough, and nothing is left to clear
    [run] = [r for r in json.loads(run_orc("runs", "--json", "--state-dir",
                                           str(work["dir"] / ".orc")).stdout)][:1]
    on_host(ssh, work, f"printf '{run['id']}\\nhere 1 1700000000\\n' > {LOCK}")
    assert unlock(work).returncode == 0
    assert ssh(work["host"], f"test -e {LOCK}").returncode == 1
