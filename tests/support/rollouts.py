"""What the rollback and rollout tests on lab hosts share: the example estate as a
health-checked rollout, and a snapshot of what a run may change on a host (the JUnit schema CI
systems read is in reports.py)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DATA = REPO / "tests" / "data"
SNAPSHOT = (DATA / "rollback" / "snapshot.sh").read_text()
ROLLOUT = """\
- name: web
  hosts: all
  serial: {serial}
  canary: [{canary}]
  max_fail_percentage: 0
  rollback: {rollback}
  health:
    - http: "http://{{{{ ansible_host }}}}/healthz"
      retries: 2
      interval: 1s
  vars_files:
    - {secrets}
  roles: [common, app, nginx]
"""


def playbook(serial: str, rollback: str, canary: str) -> str:
    """The example estate as a health-checked rollout, for playbooks written in a tmp dir."""
    return ROLLOUT.format(serial=serial, rollback=rollback, canary=canary,
                          secrets=REPO / "secrets" / "lab.yaml")


def snapshot(ssh, names: list[str]) -> dict[str, str]:
    """Managed paths (type, mode, owner, sha256), packages, services, accounts, sysctl."""
    found = {}
    for name in names:
        proc = ssh(name, SNAPSHOT)
        assert proc.returncode == 0, proc.stderr
        found[name] = proc.stdout
    return found
