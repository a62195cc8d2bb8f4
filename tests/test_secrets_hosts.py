"""Secrets on real hosts over SSH: each host remembers the versions it got, so a controller with
no state of its own (a CI runner on a fresh clone) cannot deploy an older signed file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from orchestrator.secrets.replay import HOST_RECORD
from tests.conftest import ORC, REPO, run_orc

pytestmark = pytest.mark.lab

BOOK = """\
- hosts: all
  vars_files: [secrets/lab.yaml]
  tasks:
    - copy: {content: "{{ marker }}", dest: /tmp/orc-replay-marker, mode: "0644"}
    - copy: {content: "{{ secrets.app.token }}", dest: /tmp/orc-replay-token, mode: "0600"}
"""


@pytest.fixture(scope="module", autouse=True)
def _example_estate(example_estate_env):
    """The clones decrypt with the published example key."""


def _clone(base: Path) -> Path:
    """What a CI runner checks out: the repository's secrets and a playbook, no `.orc/`."""
    root = base / "clone"
    shutil.copytree(REPO / "secrets", root / "secrets")
    shutil.copy(REPO / ".sops.yaml", root / ".sops.yaml")
    (root / ".git").mkdir()
    (root / "book.yaml").write_text(BOOK)
    return root


def _apply(clone: Path, inventory: Path, host: str, marker: str, *extra: str):
    return run_orc("apply", str(clone / "book.yaml"), "-i", str(inventory), "--limit", host,
                   "--yes", "--ci", "-e", f"marker={marker}",
                   "--state-dir", str(clone / ".orc"), *extra)


def test_a_fresh_clone_cannot_deploy_an_older_signed_secret(lab: Lab, lab_inventory: Path,
                                                             tmp_path: Path, ssh) -> None:
    host = lab.hosts[1].name
    old = _clone(tmp_path / "old")
    new = _clone(tmp_path / "new")
    env = {**os.environ, "ORC_SIGNING_KEY_FILE": str(REPO / "secrets/example-keys/signing.key")}
    rotated = subprocess.run([ORC, "secrets", "rotate", "secrets/lab.yaml"], cwd=new, env=env,
                             capture_output=True, text=True, timeout=60)
    assert rotated.returncode == 0, rotated.stderr
    old_version = int((old / "secrets/lab.yaml.sig").read_text().split("version: ")[1].split()[0])
    assert f"version {old_version + 1}" in rotated.stderr
    shutil.rmtree(new / ".orc", ignore_errors=True)  # a CI runner keeps nothing between runs

    deployed = _apply(new, lab_inventory, host, "new")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    record = ssh(host, f"stat -c '%a %U' {HOST_RECORD} && cat {HOST_RECORD}").stdout.split("\n")
    assert record[0] == "600 root"
    assert json.loads(record[1]) == {"secrets/lab.yaml": old_version + 1,
                                     "secrets/signers.yaml": 1}

    # the older, validly signed file from another fresh clone: refused by the host's record
    assert not (old / ".orc").exists()
    for command in ("plan", "apply"):
        args = ("--yes", "--state-dir", str(old / ".orc")) if command == "apply" else ()
        replayed = run_orc(command, str(old / "book.yaml"), "-i", str(lab_inventory), "--limit",
                           host, "-e", "marker=old", *args)
        assert replayed.returncode == 1, replayed.stdout + replayed.stderr
        assert replayed.stderr.strip() == (
            f"error: secrets/lab.yaml: version {old_version} is older than version "
            f"{old_version + 1} already deployed to {host} (a replayed file?); refused unless "
            "--allow-downgrade")
    assert ssh(host, "cat /tmp/orc-replay-marker").stdout == "new"  # nothing ran

    # an operator who means it; this also leaves the lab at the repository's version
    allowed = _apply(old, lab_inventory, host, "old", "--allow-downgrade")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert ssh(host, "cat /tmp/orc-replay-marker").stdout == "old"
    assert json.loads(ssh(host, f"cat {HOST_RECORD}").stdout)["secrets/lab.yaml"] == old_version
