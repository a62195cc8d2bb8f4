"""Shared fixtures: one real lab for the whole session, reached over real SSH.

Lab tests use their own lab name, so a developer's `orc lab` (named `lab`) is never touched;
`ORC_TEST_LAB` picks another name so two test sessions on one machine never share a lab.
The lab starts when the first lab test asks for it and is removed at the end of the session.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from orchestrator import lab as lab_api
from orchestrator.lab import Lab
from tests.support.orc import REPO, TEST_LAB, TEST_LAB_HOSTS

# secrets/signers.yaml is trusted only when signed by a root configured outside the repository;
# every test (and every `orc` it starts) trusts the published example root, as `make` does, and
# never the developer's own (tests of the root itself set theirs)
EXAMPLE_TRUST_ROOT = REPO / "secrets" / "example-keys" / "trust-root.yaml"
os.environ["ORC_TRUST_ROOT_FILE"] = str(EXAMPLE_TRUST_ROOT)
os.environ.pop("ORC_TRUST_ROOT", None)


@pytest.fixture(scope="session")
def lab_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab") / "lab.yaml"


@pytest.fixture(scope="session")
def lab(lab_inventory: Path) -> Lab:
    if os.geteuid() != 0:
        pytest.fail("lab tests need root (systemd-nspawn, mounts, a bridge); deselect with -m 'not lab'")
    started = lab_api.up(TEST_LAB_HOSTS, TEST_LAB, lab_inventory)
    try:
        yield started
    finally:
        lab_api.down(TEST_LAB)


@pytest.fixture
def ssh(lab: Lab):
    """Run a shell command on a lab host with the real `ssh` client; returns the process."""

    def run(host: str, command: str) -> subprocess.CompletedProcess:
        argv = lab_api.ssh_argv(host, TEST_LAB, [command])
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    return run


@pytest.fixture(scope="module")
def example_estate_env():
    """What the example estate needs from the environment: the published example-only age key
    for `secrets/lab.yaml`, and `roles/` for playbooks written elsewhere (in a tmp dir)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ORC_AGE_KEY_FILE", str(REPO / "secrets" / "example-keys" / "age.key"))
        patch.setenv("ORC_ROLES_PATH", str(REPO / "roles"))
        yield
