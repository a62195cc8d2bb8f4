"""The built-in lab on real containers: boot, SSH, isolation, idempotent `up`, status, `down`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from orchestrator import lab as lab_api
from orchestrator.lab import machine
from orchestrator.lab.state import Lab
from orchestrator.transport.remote import Target, run_command
from tests.support.orc import TEST_LAB, run_orc

pytestmark = pytest.mark.lab


def test_every_host_boots_systemd_and_answers_over_ssh(lab: Lab, ssh) -> None:
    for host in lab.hosts:
        proc = ssh(host.name, "systemctl is-system-running; hostname; stat -c %a /etc/hostname")
        state, hostname, mode = proc.stdout.split()
        assert state in ("running", "degraded"), proc.stdout + proc.stderr
        assert hostname == host.name
        assert mode == "644"


def test_a_file_written_on_one_host_is_absent_on_the_others(lab: Lab, ssh) -> None:
    first, *others = lab.hosts
    assert ssh(first.name, "echo canary > /root/only-here").returncode == 0
    assert ssh(first.name, "cat /root/only-here").stdout.strip() == "canary"
    for host in others:
        assert ssh(host.name, "test -e /root/only-here").returncode == 1


def test_hosts_have_their_own_host_keys_and_addresses(lab: Lab) -> None:
    lines = lab.known_hosts_path.read_text().split("\n")
    keys = [line.split()[2] for line in lines if line]
    assert len(keys) == len(set(keys)) == len(lab.hosts)
    assert len({h.address for h in lab.hosts}) == len(lab.hosts)


def test_an_unknown_host_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    host = lab.hosts[0]
    strict = Target(host.name, host.address, key_file=str(lab.key_path),
                    known_hosts_file=str(empty))
    result = run_command(strict, "true", timeout=5)
    assert result.exit_code is None
    assert result.error == "host key unknown: not in known_hosts"


def test_inventory_names_hosts_key_and_known_hosts(lab: Lab, lab_inventory: Path) -> None:
    data = yaml.safe_load(lab_inventory.read_text())
    assert data["all"]["vars"]["ansible_user"] == "root"
    assert data["all"]["vars"]["ansible_ssh_private_key_file"] == str(lab.key_path)
    assert data["all"]["vars"]["ssh_known_hosts_file"] == str(lab.known_hosts_path)
    hosts = data["all"]["children"][TEST_LAB]["hosts"]
    assert {name: h["ansible_host"] for name, h in hosts.items()} == {
        h.name: h.address for h in lab.hosts
    }


def test_apt_installs_packages_through_the_lab_proxy(lab: Lab, ssh) -> None:
    # `sl` is installed by nothing else in the suite, so its absence elsewhere means isolation
    host, other = lab.hosts[-1].name, lab.hosts[0].name
    assert ssh(host, "test -x /usr/games/sl").returncode == 1
    proc = ssh(host, "apt-get install -y -q sl >/dev/null 2>&1 && test -x /usr/games/sl")
    assert proc.returncode == 0, proc.stderr
    assert ssh(host, "dpkg-query -W -f='${Status}' sl").stdout == "install ok installed"
    assert ssh(other, "test -x /usr/games/sl").returncode == 1


def test_hosts_reach_nothing_but_the_lab_bridge(lab: Lab, ssh) -> None:
    host = lab.hosts[0].name
    outside = ssh(host, "timeout 3 bash -c 'echo > /dev/tcp/192.0.2.1/80'")
    assert outside.returncode != 0
    assert "Network is unreachable" in outside.stderr
    peer = ssh(host, f"timeout 3 bash -c 'echo > /dev/tcp/{lab.hosts[1].address}/22'")
    assert peer.returncode == 0


def test_up_again_only_starts_missing_hosts(lab: Lab) -> None:
    before = {h.name: h.pid for h in lab_api.load(TEST_LAB).hosts}
    grown = lab_api.up(len(before) + 1, TEST_LAB, None)
    after = {h.name: h.pid for h in grown.hosts}
    assert {name: after[name] for name in before} == before
    assert len(after) == len(before) + 1
    new = grown.hosts[-1]
    assert machine.is_running(new)
    rows = {row.name: row for row in lab_api.status(TEST_LAB)}
    assert rows[new.name].ssh == "ok"


def test_a_host_killed_from_outside_shows_down_and_up_recreates_it(lab: Lab) -> None:
    victim = lab_api.load(TEST_LAB).hosts[1]
    os.kill(victim.leader, signal.SIGKILL)  # power the host off
    deadline = time.monotonic() + 10
    while machine.is_running(victim) and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = {row.name: row for row in lab_api.status(TEST_LAB)}
    assert (rows[victim.name].state, rows[victim.name].ssh) == ("down", "no")
    assert all(r.state == "running" for n, r in rows.items() if n != victim.name)

    lab_api.up(len(rows), TEST_LAB, None)
    rows = {row.name: row for row in lab_api.status(TEST_LAB)}
    assert (rows[victim.name].state, rows[victim.name].ssh) == ("running", "ok")


def test_status_command_prints_every_host(lab: Lab) -> None:
    proc = run_orc("lab", "status", "--name", TEST_LAB, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["name"] for r in rows][: len(lab.hosts)] == [h.name for h in lab.hosts]
    assert all(r["state"] == "running" and r["ssh"] == "ok" for r in rows)


def test_exec_command_runs_everywhere_and_reports_failures(lab: Lab) -> None:
    ok = run_orc("lab", "exec", "--name", TEST_LAB, "--", "hostname")
    assert ok.returncode == 0, ok.stderr
    for host in lab.hosts:
        assert host.name in ok.stdout
    bad = run_orc("lab", "exec", "--name", TEST_LAB, "--host", lab.hosts[0].name, "--", "false")
    assert bad.returncode == 1
    assert "[exit 1]" in bad.stdout


def _leftovers(name: str, lab_dir: Path) -> list[str]:
    found = []
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    found += [line for line in ps.splitlines()
              if line.startswith("systemd-nspawn") and str(lab_dir) in line]
    found += [line for line in Path("/proc/mounts").read_text().splitlines()
              if str(lab_dir) in line]
    if Path("/sys/class/net", f"orc-{name}").exists():
        found.append(f"bridge orc-{name}")
    found += [f"veth {p.name}" for p in Path("/sys/class/net").iterdir()
              if p.name.startswith(f"vb-{name}")]
    if lab_dir.exists():
        found.append(f"directory {lab_dir}")
    return found


def test_down_leaves_no_container_mount_bridge_or_process(tmp_path: Path) -> None:
    name = "orcdown"
    inventory = tmp_path / "lab.yaml"
    started = lab_api.up(2, name, inventory)
    lab_dir = started.dir
    proxy_pid = started.proxy_pid
    assert len(_leftovers(name, lab_dir)) > 0 and inventory.exists()

    proc = run_orc("lab", "down", "--name", name)
    assert proc.returncode == 0, proc.stderr
    assert _leftovers(name, lab_dir) == []
    assert not inventory.exists()
    assert not Path(f"/proc/{proxy_pid}/cmdline").exists() or \
        b"apt-cacher-ng" not in Path(f"/proc/{proxy_pid}/cmdline").read_bytes()
    # running it again is harmless
    assert run_orc("lab", "down", "--name", name).returncode == 0
