"""Light lab hosts on the real machine: sshd alone, reached over real SSH, applied to with orc,
and taken down leaving no mount, namespace, link, process or file behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from orchestrator import lab as lab_api
from orchestrator.errors import InputError
from orchestrator.lab import light, machine
from orchestrator.lab.state import Lab, lab_root
from tests.support.orc import ORC, TEST_LAB, run_orc

pytestmark = [pytest.mark.lab, pytest.mark.slow]

LIGHT_LAB = TEST_LAB[:7] + "l"  # beside the session's full lab, never the same name
HOSTS = 4

PLAY = """\
- name: light
  hosts: all
  gather_facts: false
  tasks:
    - name: a directory
      file: {path: /opt/light, state: directory, mode: "0755"}
    - name: a file
      copy: {content: "on {{ inventory_hostname }}\\n", dest: /opt/light/where, mode: "0644"}
    - name: a line
      lineinfile: {path: /etc/environment, regexp: "^LIGHT=", line: "LIGHT=yes"}
    - name: a guarded command
      command: touch /opt/light/initialised
      args: {creates: /opt/light/initialised}
"""


@pytest.fixture(scope="module")
def light_lab(tmp_path_factory: pytest.TempPathFactory):
    if os.geteuid() != 0:
        pytest.fail("lab tests need root (namespaces, mounts, a bridge); deselect with -m 'not lab'")
    inventory = tmp_path_factory.mktemp("light") / "light.yaml"
    lab_api.down(LIGHT_LAB)
    started = lab_api.up(HOSTS, LIGHT_LAB, inventory, light=True)
    try:
        yield started, inventory
    finally:
        lab_api.down(LIGHT_LAB)


def ssh(host: str, command: str) -> subprocess.CompletedProcess:
    argv = lab_api.ssh_argv(host, LIGHT_LAB, [command])
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def traces(lab: Lab) -> dict[str, list[str]]:
    """Everything of `lab` the machine could still hold, by kind."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
              if str(lab.dir) in line]
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = [name for name in os.listdir("/sys/class/net")
             if name == lab.bridge or name.startswith(f"vb-{lab.name}")]
    processes = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(lab.dir).encode() in cmdline:
            processes.append(cmdline.replace(b"\0", b" ").decode(errors="replace")[:80])
    return {
        "mounts": mounts,
        "netns": [line for line in netns.splitlines() if lab.name in line],
        "links": links,
        "processes": processes,
        "files": [str(lab.dir)] if lab.dir.exists() else [],
    }


def alive(pid: int) -> bool:
    try:  # a zombie has ended; only its parent has not read its exit status yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_light_hosts_run_sshd_alone_with_their_own_name_and_address(light_lab) -> None:
    lab, _ = light_lab
    assert lab.kind == "light" and lab.prefixlen == 22
    for host in lab.hosts:
        proc = ssh(host.name, "hostname; cat /proc/1/comm; ps -e --no-headers | wc -l; "
                              "ip -4 -o addr show dev host0")
        assert proc.returncode == 0, proc.stderr
        hostname, init, processes, address = proc.stdout.splitlines()
        assert (hostname, init) == (host.name, "sshd")
        # sshd, this session's sshd, its shell and the commands it runs: nothing else lives here
        assert int(processes) <= 6
        assert f"inet {host.address}/22" in address


def test_status_says_every_light_host_answers(light_lab) -> None:
    lab, _ = light_lab
    rows = lab_api.status(LIGHT_LAB)
    assert [(r.name, r.state, r.ssh, r.system) for r in rows] == [
        (h.name, "running", "ok", "sshd only") for h in lab.hosts
    ]


def test_light_hosts_mount_nothing_in_the_machines_mount_table(light_lab) -> None:
    lab, _ = light_lab
    assert traces(lab)["mounts"] == []
    assert ssh(lab.hosts[0].name, "test -d /etc/ssh && test -c /dev/null").returncode == 0


def test_each_command_is_one_session_in_the_hosts_sshd_log(light_lab) -> None:
    lab, _ = light_lab
    host = lab.hosts[1]
    before = light.session_count(light.sshd_log(lab, host).read_bytes())
    results = lab_api.execute("true", LIGHT_LAB, [host.name])
    assert results[host.name].ok
    assert light.session_count(light.sshd_log(lab, host).read_bytes()) == before + 1


def test_orc_applies_a_play_to_light_hosts_and_again_changes_nothing(
    light_lab, tmp_path: Path
) -> None:
    lab, inventory = light_lab
    playbook = tmp_path / "light.yaml"
    playbook.write_text(PLAY)

    def apply(name: str) -> dict[str, list[str]]:
        proc = subprocess.run(
            [ORC, "apply", str(playbook), "-i",
             str(inventory), "--yes", "--ci", "--json", str(tmp_path / f"{name}.json")],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = yaml.safe_load((tmp_path / f"{name}.json").read_text())
        hosts = {}
        for wave in report["waves"]:
            for host, result in wave["apply"]["hosts"].items():
                hosts[host] = [task["status"] for task in result["tasks"]]
        return hosts

    assert apply("first") == {h.name: ["changed"] * 4 for h in lab.hosts}
    for host in lab.hosts:
        proc = ssh(host.name, "cat /opt/light/where; grep ^LIGHT= /etc/environment; "
                              "test -e /opt/light/initialised && echo initialised")
        assert proc.stdout.split("\n")[:3] == [f"on {host.name}", "LIGHT=yes", "initialised"]
    assert apply("again") == {h.name: ["ok"] * 4 for h in lab.hosts}


def test_a_killed_light_host_shows_down_and_up_recreates_it(light_lab) -> None:
    lab = lab_api.load(LIGHT_LAB)
    victim = lab.hosts[2]
    os.kill(victim.leader, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while machine.is_running(victim) and time.monotonic() < deadline:
        time.sleep(0.05)
    rows = {row.name: row for row in lab_api.status(LIGHT_LAB)}
    assert (rows[victim.name].state, rows[victim.name].ssh) == ("down", "no")

    lab_api.up(HOSTS, LIGHT_LAB, None, light=True)
    rows = {row.name: row for row in lab_api.status(LIGHT_LAB)}
    assert all((r.state, r.ssh) == ("running", "ok") for r in rows.values())
    assert ssh(victim.name, "hostname").stdout.strip() == victim.name


def test_a_light_lab_refuses_full_hosts(light_lab) -> None:
    with pytest.raises(InputError, match="has light hosts, not full ones: take it down first"):
        lab_api.up(HOSTS, LIGHT_LAB, None)


def test_down_leaves_nothing_and_can_run_twice(tmp_path: Path) -> None:
    name = TEST_LAB[:6] + "ld"
    lab_api.down(name)
    lab = lab_api.up(3, name, tmp_path / "inventory.yaml", light=True)
    pids = [pid for h in lab.hosts for pid in (h.pid, h.leader)]
    assert all(alive(pid) for pid in pids)
    assert traces(lab)["links"] and traces(lab)["processes"] and traces(lab)["files"]

    proc = run_orc("lab", "down", "--name", name)
    assert proc.returncode == 0, proc.stderr
    assert traces(lab) == {"mounts": [], "netns": [], "links": [], "processes": [], "files": []}
    assert not any(alive(pid) for pid in pids)
    assert not (tmp_path / "inventory.yaml").exists()
    assert not (lab_root() / name).exists()
    assert run_orc("lab", "down", "--name", name).returncode == 0
