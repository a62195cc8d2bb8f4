"""Verify: the role's testinfra tests, run by pytest against the test hosts over SSH.

pytest runs in its own process (the tests are the role author's code, and pytest owns its
process's state), with testinfra's ssh backend and an ssh_config that holds the lab's key and
known_hosts with `StrictHostKeyChecking yes`. The same test files run unchanged under molecule.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from orchestrator.roletest.hosts import TestHosts
from orchestrator.roletest.scenario import Scenario

TIMEOUT = 600
_SUMMARY_RE = re.compile(r"\b\d+ (passed|failed|error|errors|skipped|deselected)\b")


@dataclass(frozen=True)
class VerifyResult:
    passed: bool
    summary: str  # pytest's closing line, e.g. "1 failed, 4 passed in 2.31s"
    output: str  # everything pytest printed
    junit_xml: str | None = None  # pytest's own JUnit report of the tests

    def failure_report(self) -> str:
        """pytest's account of what failed: its FAILURES section and short summary."""
        lines = self.output.splitlines()
        start = next((i for i, line in enumerate(lines)
                      if re.match(r"^=+ (FAILURES|ERRORS) =+$", line)), None)
        if start is None:
            return self.output.strip()
        return "\n".join(line for line in lines[start:]
                         if "generated xml file" not in line).strip()


def pytest_command(scenario: Scenario, hosts: TestHosts, junit_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "pytest", *map(str, scenario.test_files()),
        f"--hosts={','.join(f'ssh://{name}' for name in hosts.names)}",
        f"--ssh-config={hosts.ssh_config_path}",
        f"--junitxml={junit_path}",
        "-o", f"junit_suite_name=verify {scenario.label}",
        "-p", "no:cacheprovider", "--tb=short", "-rfE", "--color=no",
    ]


def verify(scenario: Scenario, hosts: TestHosts) -> VerifyResult:
    junit_path = hosts.ssh_config_path.with_name("verify.xml")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", COLUMNS="100")
    try:
        proc = subprocess.run(
            pytest_command(scenario, hosts, junit_path), cwd=scenario.project, env=env,
            check=False, capture_output=True, text=True, timeout=TIMEOUT,
        )
    finally:
        close_connections(hosts)
    output = proc.stdout + proc.stderr
    junit = junit_path.read_text() if junit_path.exists() else None
    summary = next((line.strip(" =") for line in reversed(output.splitlines())
                    if _SUMMARY_RE.search(line)), f"pytest exited with code {proc.returncode}")
    return VerifyResult(proc.returncode == 0, summary, output, junit)


def close_connections(hosts: TestHosts) -> None:
    """End the shared SSH connections verify opened, so none outlives the test."""
    for name in hosts.names:
        subprocess.run(["ssh", "-F", str(hosts.ssh_config_path), "-O", "exit", name],
                       check=False, capture_output=True, timeout=10)
