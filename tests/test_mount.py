"""ansible.posix.mount: the fstab bytes Ansible's documentation gives (one `src path fstype opts
dump passno` line, octal escapes, an entry found by its mount point and rewritten in place), and
on a lab host a tmpfs mounted, left alone on a second run, rolled back (the fstab restored, the
mount listed as irreversible), and unmounted and removed.

The expected lines are written out from the collection's documentation (ansible.posix.mount,
Linux) and checked against ansible-playbook with the collection in the differential case
tests/conformance/cases/modules-mount."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from orchestrator.modules import lookup
from orchestrator.modules.mount import fstab_absent, fstab_present
from tests.support.orc import run_orc

BASE = {"path": "/mnt/data", "src": "tmpfs", "fstype": "tmpfs", "opts": None, "dump": "0",
        "passno": "0", "boot": True}
FSTAB = (b"# /etc/fstab\n\nUUID=1 / ext4 errors=remount-ro 0 1\n"
         b"odd line\n/dev/sdb1 /mnt/data ext4 ro\n")


@pytest.mark.parametrize("current, args, expected", [
    (None, {}, b"tmpfs /mnt/data tmpfs defaults 0 0\n"),
    (b"", {"opts": "size=1m,mode=0755", "dump": "1", "passno": "2"},
     b"tmpfs /mnt/data tmpfs size=1m,mode=0755 1 2\n"),
    (FSTAB, {}, FSTAB.replace(b"/dev/sdb1 /mnt/data ext4 ro\n",
                              b"tmpfs /mnt/data tmpfs defaults 0 0\n")),
    (b"tmpfs  /mnt/data\ttmpfs defaults 0 0\n", {}, b"tmpfs  /mnt/data\ttmpfs defaults 0 0\n"),
    (b"", {"path": "/mnt/my data", "src": "//srv/a b"},
     b"//srv/a\\040b /mnt/my\\040data tmpfs defaults 0 0\n"),
    (b"", {"boot": False}, b"tmpfs /mnt/data tmpfs defaults,noauto 0 0\n"),
    (b"", {"boot": False, "opts": "ro"}, b"tmpfs /mnt/data tmpfs ro,noauto 0 0\n"),
    (b"", {"boot": False, "opts": "noauto,ro"}, b"tmpfs /mnt/data tmpfs noauto,ro 0 0\n"),
])
def test_the_fstab_line_ansible_writes(current, args, expected) -> None:
    assert fstab_present(current, {**BASE, **args}) == expected


def test_absent_removes_only_the_entry() -> None:
    assert fstab_absent(FSTAB, BASE) == FSTAB.replace(b"/dev/sdb1 /mnt/data ext4 ro\n", b"")
    assert fstab_absent(None, BASE) is None
    swaps = b"/dev/a none swap sw 0 0\n/dev/b none swap sw 0 0\n"
    assert fstab_absent(swaps, {**BASE, "path": "none", "src": "/dev/b", "fstype": "swap"}) \
        == b"/dev/a none swap sw 0 0\n"


def test_both_names_and_arguments_checked_at_load() -> None:
    for name in ("mount", "ansible.posix.mount"):
        module = lookup(name, {})
        args = module.normalise({"name": "/mnt/x", "state": "mounted", "boot": "no"}, {})
        assert (args["path"], args["boot"], args["dump"]) == ("/mnt/x", False, "0")
    with pytest.raises(Exception, match="state='gone' is not one of"):
        lookup("mount", {}).normalise({"path": "/mnt/x", "state": "gone"}, {})


PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: a tmpfs
      ansible.posix.mount:
        path: /mnt/orc-mount
        src: tmpfs
        fstype: tmpfs
        opts: size=1m
        state: {state}
        fstab: /etc/orc-fstab
"""


@pytest.mark.lab
@pytest.mark.slow
def test_a_tmpfs_is_mounted_then_left_then_removed(lab: Lab, lab_inventory: Path, ssh,
                                                   tmp_path: Path) -> None:
    name = lab.hosts[0].name
    assert ssh(name, "printf '# orc\\n' > /etc/orc-fstab").returncode == 0

    runs = []

    def apply(state: str) -> list[str]:
        book = tmp_path / f"{state}.yaml"
        book.write_text(PLAY.replace("{state}", state))
        report = tmp_path / "report.json"
        proc = run_orc("apply", str(book), "-i", str(lab_inventory), "--limit", name, "--yes",
                       "--ci", "--state-dir", str(tmp_path / ".orc"), "--json", str(report))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        found = json.loads(report.read_text())
        runs.append(found["run_id"])
        return [t["status"] for wave in found["waves"]
                for t in wave["apply"]["hosts"][name]["tasks"]]

    assert apply("mounted") == ["changed"]
    assert ssh(name, "cat /etc/orc-fstab").stdout == \
        "# orc\ntmpfs /mnt/orc-mount tmpfs size=1m 0 0\n"
    assert "tmpfs" in ssh(name, "findmnt -n -o FSTYPE /mnt/orc-mount").stdout
    assert apply("mounted") == ["ok"]
    # the fstab is restored; the mount is a command the rollback cannot undo: it says so
    # (exit 3, the command listed as irreversible) and leaves the tmpfs mounted
    proc = run_orc("rollback", runs[0], "--ci", "--state-dir", str(tmp_path / ".orc"), "-v")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "irreversible" in proc.stdout and "/mnt/orc-mount" in proc.stdout, proc.stdout
    assert ssh(name, "cat /etc/orc-fstab").stdout == "# orc\n"
    assert "tmpfs" in ssh(name, "findmnt -n -o FSTYPE /mnt/orc-mount").stdout
    assert apply("mounted") == ["changed"]
    assert apply("absent") == ["changed"]
    assert ssh(name, "cat /etc/orc-fstab").stdout == "# orc\n"
    assert ssh(name, "findmnt /mnt/orc-mount || test -e /mnt/orc-mount").returncode != 0
