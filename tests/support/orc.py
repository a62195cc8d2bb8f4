"""How tests run orc as a user does, and the names every lab test shares: the test lab's name
(`ORC_TEST_LAB`), the repository, the installed `orc` and a patient `curl` for lab hosts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TEST_LAB = os.environ.get("ORC_TEST_LAB", "orctest")
REPO = Path(__file__).resolve().parent.parent.parent
TEST_LAB_HOSTS = 3
ORC = str(Path(sys.executable).with_name("orc"))

# curl on a lab host: bounded, and retried while a just-restarted service comes up (a status
# that persists, like a 503, is still what it returns)
CURL = "curl -s --max-time 10 --retry 3 --retry-delay 1 --retry-all-errors"


def run_orc(*args: str, user: int | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run the installed `orc` command as a user would (optionally as a non-root uid)."""
    cmd = [ORC, *args]
    if user is not None:
        # a user namespace gives a non-root euid while the venv stays readable
        cmd = ["unshare", "--user", f"--map-user={user}", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=300)


def setup_step(proc: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    """A fixture's step its tests need (converge the estate, start the machines): when it
    fails, every test using the fixture is an ERROR at setup naming `what` and the command's
    output (`pytest.fail`), not a failed assertion as if what the test checks were wrong."""
    if proc.returncode != 0:
        output = (proc.stdout or "")[-3000:] + (proc.stderr or "")
        pytest.fail(f"setup: {what} failed (exit {proc.returncode})\n{output}", pytrace=False)
    return proc
