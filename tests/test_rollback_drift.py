"""`orc rollback` as an operator meets it on real lab hosts: hand changes made after a run stop
the rollback before anything is restored (unless forced), the run's hosts are held while it
restores, the playbook's health is checked again afterwards, an upgraded package goes back to
its version (or the failure is reported), and old journals are pruned."""

from __future__ import annotations

import base64
import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from orchestrator.errors import DriftError
from orchestrator.rollout.rollback import roll_back_run
from orchestrator.rollout.store import RunStore
from tests.support.orc import ORC, run_orc

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PLAYBOOK = """\
- name: drift
  hosts: all
  serial: {serial}
  health:
    - command: test -f /etc/orc-drift/marker
  tasks:
    - name: config
      copy: {{dest: /etc/orc-drift/app.conf, content: "{{{{ value }}}}\\n", mode: "0644"}}
    - name: marker
      copy: {{dest: /etc/orc-drift/marker, content: "ok\\n", mode: "0644"}}
"""
UPGRADE = """\
- name: upgrade
  hosts: all
  tasks:
    - name: the demo package at 2.0
      apt: {name: "orc-demo=2.0"}
"""


@pytest.fixture(scope="module")
def work(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("drift")
    (path / "drift.yaml").write_text(PLAYBOOK.format(serial=0))
    (path / "waves.yaml").write_text(PLAYBOOK.format(serial=1))
    (path / "upgrade.yaml").write_text(UPGRADE)
    return {"dir": path, "names": [h.name for h in lab.hosts[:2]], "inventory": lab_inventory,
            "state": path / ".orc"}


def orc(work, *args: str) -> subprocess.CompletedProcess:
    return run_orc(*args, "--state-dir", str(work["state"]))


def apply(work, playbook: str, *args: str, expect: int = 0) -> str:
    report = work["dir"] / "report.json"
    proc = orc(work, "apply", str(work["dir"] / playbook), "-i", str(work["inventory"]),
               "--yes", "--ci", "--limit", ",".join(work["names"]), "--json", str(report), *args)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return json.loads(report.read_text())["run_id"]


def on_terminal(work, answer: str, *args: str) -> tuple[int, str]:
    """Run orc on a pseudo-terminal, as an engineer would, answering its question."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(ORC, [ORC, *args, "--state-dir", str(work["state"])])
    output, answered, deadline = b"", False, time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"overwriting these changes?" in output:
            os.write(fd, answer.encode() + b"\r")
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = re.sub(r"\x1b\[[0-9;]*m", "", output.decode(errors="replace"))  # colours
    return os.waitstatus_to_exitcode(status), " ".join(text.split())  # lines wrapped at 80


def files(ssh, names: list[str]) -> dict[str, str]:
    """What each host has under /etc/orc-drift: names, modes and content."""
    command = ("cd /etc/orc-drift 2>/dev/null || { echo none; exit 0; }; "
               "for f in *; do echo \"$f $(stat -c %a \"$f\") $(cat \"$f\")\"; done")
    return {n: ssh(n, command).stdout for n in names}


def test_hand_changes_stop_the_rollback_until_forced(work, ssh) -> None:
    names = work["names"]
    for name in names:
        ssh(name, "rm -rf /etc/orc-drift")
    run = apply(work, "drift.yaml", "-e", "value=one")
    first, other = names
    ssh(first, "echo by-hand >> /etc/orc-drift/app.conf && chmod 600 /etc/orc-drift/marker")
    edited = files(ssh, names)

    refused = orc(work, "rollback", run, "--ci")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    [line] = refused.stderr.strip().splitlines()  # one line, naming each change
    assert "stopped before any change: 2 resource(s) changed since the run" in line
    assert f"{first}:/etc/orc-drift/app.conf (content)" in line
    assert f"{first}:/etc/orc-drift/marker (mode 644 -> 600)" in line
    assert "--force" in line
    assert files(ssh, names) == edited  # nothing restored anywhere, the hand edit kept

    asked = []
    with pytest.raises(DriftError):  # what the API hands the question, and a "no"
        roll_back_run(RunStore(work["state"]), run, confirm=lambda drift: asked.append(drift))
    assert {(d.host, d.key) for d in asked[0]} == {(first, "/etc/orc-drift/app.conf"),
                                                   (first, "/etc/orc-drift/marker")}
    code, shown = on_terminal(work, "n", "rollback", run)  # on a terminal orc asks
    assert code == 1 and "changed on the hosts since the run" in shown, shown
    assert "/etc/orc-drift/app.conf" in shown and "stopped before any change" in shown
    assert files(ssh, names) == edited
    runs = {r["id"]: r["status"] for r in json.loads(orc(work, "runs", "--json").stdout)}
    assert runs[run] == "succeeded"  # the refused rollbacks left the run as it was

    code, shown = on_terminal(work, "y", "rollback", run)
    # restored: the files the run created are gone, so its health check fails, as it did
    # before this first deploy: that is the state a rollback brings back (exit 0)
    assert code == 0 and "overwrote 2 change(s)" in shown, shown
    assert "2 host(s) failing their checks as they did before the run" in shown, shown
    assert files(ssh, names) == {first: "none\n", other: "none\n"}

    run = apply(work, "drift.yaml", "-e", "value=one")
    ssh(other, "echo by-hand > /etc/orc-drift/app.conf")
    forced = orc(work, "rollback", run, "--force", "--ci")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    said = " ".join(forced.stdout.split())  # rich wraps lines at 80 columns
    assert "overwrote 1 change(s)" in said and "as they did before the run" in said, said
    assert files(ssh, names) == {first: "none\n", other: "none\n"}


def test_rollback_holds_the_hosts_and_checks_health_again(work, ssh) -> None:
    names = work["names"]
    apply(work, "drift.yaml", "-e", "value=one")
    run = apply(work, "drift.yaml", "-e", "value=two")

    # another controller's rollout holds a host: refused, nothing restored
    ssh(names[0], "echo 20990101-000000-abcdef > /var/lib/orc/rollout.lock")
    held = orc(work, "rollback", run, "--ci")
    assert held.returncode == 1 and "locked by run 20990101-000000-abcdef" in held.stderr
    ssh(names[0], "rm -f /var/lib/orc/rollout.lock")
    assert all(" two" in out for out in files(ssh, names).values())

    # a paused rollout of this controller holds them too
    paused = apply(work, "waves.yaml", "-e", "value=three", "--pause-after-wave", "1",
                   expect=4)
    busy = orc(work, "rollback", run, "--ci")
    assert busy.returncode == 1 and f"run {paused} (paused" in busy.stderr, busy.stderr
    assert orc(work, "abort", paused).returncode == 0
    # its canary changed the config after `run` did: undo it first, or that is drift
    assert orc(work, "rollback", paused, "--ci").returncode == 0

    back = orc(work, "rollback", run, "--ci")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "healthy" in back.stdout and "unhealthy" not in back.stdout
    assert all(" one" in out for out in files(ssh, names).values())
    runs = {r["id"]: r["status"] for r in json.loads(orc(work, "runs", "--json").stdout)}
    assert runs[run] == runs[paused] == "rolled-back"


def test_a_rollback_killed_midway_is_finished_by_the_next(work, ssh, monkeypatch) -> None:
    names = work["names"]
    for name in names:
        ssh(name, "rm -rf /etc/orc-drift")
    apply(work, "drift.yaml", "-e", "value=one")
    before = files(ssh, names)
    run = apply(work, "drift.yaml", "-e", "value=two")
    with monkeypatch.context() as env:
        env.setenv("ORC_KILL_AFTER_OPS", "1")  # SIGKILL once one restore operation ran
        killed = orc(work, "rollback", run, "--ci")
    assert killed.returncode == -9, killed.stdout + killed.stderr
    runs = {r["id"]: r["status"] for r in json.loads(orc(work, "runs", "--json").stdout)}
    assert runs[run] == "interrupted"
    # what the killed rollback restored is not drift; its host lock is this run's own
    again = orc(work, "rollback", run, "--ci")
    assert again.returncode == 0, again.stdout + again.stderr
    assert files(ssh, names) == before


def _demo_repo(tmp: Path, versions: list[str]) -> dict[str, bytes]:
    """A flat apt repository with the `orc-demo` package at each of `versions`."""
    repo = tmp / "repo"
    repo.mkdir(exist_ok=True)
    for old in repo.glob("*.deb"):
        old.unlink()
    for version in versions:
        root = tmp / f"orc-demo-{version}"
        (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
        (root / "DEBIAN" / "control").write_text(
            f"Package: orc-demo\nVersion: {version}\nArchitecture: all\n"
            "Maintainer: orc <orc@example.invalid>\nDescription: rollback test package\n")
        (root / "usr" / "share" / "orc-demo").mkdir(parents=True, exist_ok=True)
        (root / "usr" / "share" / "orc-demo" / "version").write_text(version + "\n")
        subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root),
                        str(repo / f"orc-demo_{version}_all.deb")], check=True,
                       capture_output=True)
    packages = subprocess.run(["dpkg-scanpackages", "--multiversion", "."], cwd=repo,
                              check=True, capture_output=True).stdout
    return {**{p.name: p.read_bytes() for p in repo.glob("*.deb")}, "Packages": packages}


def _publish(ssh, name: str, repo: dict[str, bytes]) -> None:
    writes = "; ".join(f"echo {base64.b64encode(data).decode()} | base64 -d > {file}"
                       for file, data in repo.items())
    proc = ssh(name, "rm -rf /srv/orc-repo && mkdir -p /srv/orc-repo && cd /srv/orc-repo && "
               f"{writes} && echo 'deb [trusted=yes] file:/srv/orc-repo ./' > "
               "/etc/apt/sources.list.d/orc-demo.list && apt-get update -qq "
               "-o Dir::Etc::sourcelist=/etc/apt/sources.list.d/orc-demo.list "
               "-o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0")
    assert proc.returncode == 0, proc.stderr


def _version(ssh, name: str) -> str:
    return ssh(name, "dpkg-query -W -f='${Version}' orc-demo").stdout


def test_an_upgraded_package_goes_back_to_its_version_or_is_reported(work, ssh,
                                                                      tmp_path: Path) -> None:
    name = work["names"][0]
    limit = ("--limit", name)
    _publish(ssh, name, _demo_repo(tmp_path, ["1.0", "2.0"]))
    assert ssh(name, "apt-get install -y -qq orc-demo=1.0").returncode == 0
    try:
        upgrade = apply(work, "upgrade.yaml", *limit)
        assert _version(ssh, name) == "2.0"
        back = orc(work, "rollback", upgrade, "--ci")
        assert back.returncode == 0, back.stdout + back.stderr
        assert _version(ssh, name) == "1.0"

        # 1.0 can no longer be fetched: the rollback says so and the host keeps 2.0, whole
        again = apply(work, "upgrade.yaml", *limit)
        _publish(ssh, name, _demo_repo(tmp_path, ["2.0"]))
        ssh(name, "apt-get clean")
        stuck = orc(work, "rollback", again, "--ci")
        assert stuck.returncode == 1, stuck.stdout + stuck.stderr
        assert "orc-demo" in stuck.stdout and "failed" in stuck.stdout
        assert _version(ssh, name) == "2.0"
        assert ssh(name, "dpkg -s orc-demo | grep -q '^Status: install ok installed'"
                   ).returncode == 0
    finally:
        ssh(name, "apt-get purge -y -qq orc-demo; rm -rf /srv/orc-repo "
                  "/etc/apt/sources.list.d/orc-demo.list")


def test_old_journals_are_pruned_on_the_hosts_and_in_the_index(work, ssh) -> None:
    runs = [apply(work, "drift.yaml", "-e", f"value=keep-{n}", "--keep-runs", "2")
            for n in range(3)]
    for name in work["names"]:
        kept = ssh(name, "ls -1 /var/lib/orc/runs").stdout.split()
        assert kept == runs[1:], kept
    indexed = [r["id"] for r in json.loads(orc(work, "runs", "--json").stdout)]
    assert sorted(indexed) == runs[1:]
    gone = orc(work, "rollback", runs[0], "-i", str(work["inventory"]), "--ci",
               "--state-dir", str(work["dir"] / "empty"))
    assert gone.returncode == 1 and "no journal of" in gone.stderr
