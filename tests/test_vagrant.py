"""The lab as Vagrant machines, for real: `orc lab box`, `vagrant up --provider=lxc` with the
project's Vagrantfile, `orc lab up --vagrant`, then `orc apply` of the example estate over SSH
with strict host keys, and `orc lab down --vagrant`.

Vagrant, vagrant-lxc and lxc are Debian packages (about 440 with their dependencies, 2.5 min);
they are installed here, only when these tests run. The machines use a network of their own
(ORC_VAGRANT_NETWORK), so a developer's Vagrant lab is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from orchestrator.lab.vagrant import known_hosts_path, login, parse_ssh_config
from tests.support.orc import ORC, TEST_LAB, setup_step

pytestmark = [pytest.mark.vagrant, pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
NETWORK = f"{TEST_LAB[:6]}vg"
HOSTS = 2
PACKAGES = ("vagrant", "vagrant-lxc", "lxc")


def _installed(package: str) -> bool:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                          capture_output=True, text=True, check=False)
    return "install ok installed" in proc.stdout


@pytest.fixture(scope="module")
def vagrant_lxc() -> None:
    """Vagrant with the lxc provider, installed from Debian if it is not there yet."""
    missing = [p for p in PACKAGES if not _installed(p)]
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env,
                       timeout=1200, stdout=subprocess.DEVNULL)


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, ORC_VAGRANT_NETWORK=NETWORK, ORC_LAB_HOSTS=str(HOSTS),
                VAGRANT_CHECKPOINT_DISABLE="1", COLUMNS="200", **extra)


def run(argv: list[str], cwd: Path = REPO, timeout: float = 900,
        **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=_env(**extra), capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def machines(vagrant_lxc, tmp_path_factory: pytest.TempPathFactory):
    """The project's Vagrantfile brought up with the lxc provider, in a directory of its own."""
    directory = tmp_path_factory.mktemp("vagrant")
    shutil.copy(REPO / "vagrant" / "Vagrantfile", directory / "Vagrantfile")
    setup_step(run([ORC, "lab", "box"]), "orc lab box")
    try:
        setup_step(run(["vagrant", "up", "--provider=lxc"], cwd=directory), "vagrant up")
        yield directory
    finally:
        down = run([ORC, "lab", "down", "--vagrant", "--vagrant-dir", str(directory)])
        assert down.returncode == 0, down.stdout + down.stderr
        assert not Path(f"/sys/class/net/orc-{NETWORK}").exists()
        listed = subprocess.run(["lxc-ls"], capture_output=True, text=True, check=False)
        assert f"{directory.name}_lab" not in listed.stdout


@pytest.fixture(scope="module")
def inventory(machines: Path) -> Path:
    path = machines / "lab.yaml"
    setup_step(run([ORC, "lab", "up", "--vagrant", "--vagrant-dir", str(machines),
                    "--inventory", str(path)]), "orc lab up --vagrant")
    return path


def test_inventory_holds_each_machine_with_strict_host_keys(machines: Path,
                                                            inventory: Path) -> None:
    data = yaml.safe_load(inventory.read_text())
    hosts = data["all"]["children"]["vagrant"]["hosts"]
    assert sorted(hosts) == [f"lab{i}" for i in range(1, HOSTS + 1)]
    for host in hosts.values():
        # the Vagrantfile lets root in with Vagrant's key: hosts look like the built-in lab's
        assert (host["ansible_user"], host["ansible_become"]) == ("root", False)
        assert Path(host["ansible_ssh_private_key_file"]).is_file()
    settings = data["all"]["vars"]
    assert settings["ssh_strict_host_key_checking"] == "yes"
    known = Path(settings["ssh_known_hosts_file"]).read_text().splitlines()
    assert sorted(line.split()[0] for line in known) == sorted(
        h["ansible_host"] for h in hosts.values())


def test_orc_apply_deploys_the_example_estate_to_the_machines(machines: Path,
                                                              inventory: Path) -> None:
    key = str(REPO / "secrets" / "example-keys" / "age.key")
    applied = run([ORC, "apply", "site.yaml", "-i", str(inventory), "--yes", "--ci",
                   "--json", str(machines / "apply.json")], ORC_AGE_KEY_FILE=key)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    report = json.loads((machines / "apply.json").read_text())
    hosts = {name: host for wave in report["waves"]
             for name, host in wave["apply"]["hosts"].items()}
    assert sorted(hosts) == [f"lab{i}" for i in range(1, HOSTS + 1)]
    for host in hosts.values():
        statuses = {t["status"] for t in host["tasks"]}
        assert "failed" not in statuses and "changed" in statuses
    answers = run([ORC, "run", "all", "-i", str(inventory), "--json", "--",
                   "curl -s http://localhost/"])
    assert answers.returncode == 0, answers.stdout + answers.stderr
    by_host = {row["host"]: json.loads(row["stdout"])
               for row in json.loads(answers.stdout)["hosts"]}
    assert by_host == {f"lab{i}": {"host": f"lab{i}", "version": "1.0.0",
                                   "message": "hello from the lab"} for i in range(1, HOSTS + 1)}


def test_a_changed_host_key_stops_that_host(machines: Path, inventory: Path,
                                            tmp_path: Path) -> None:
    data = yaml.safe_load(inventory.read_text())
    known = Path(data["all"]["vars"]["ssh_known_hosts_file"])
    lines = known.read_text().splitlines()
    other_key = lines[1].split(" ", 1)[1]  # lab2's key, claimed for lab1's address
    tampered = tmp_path / "known_hosts"
    tampered.write_text("\n".join([f"{lines[0].split()[0]} {other_key}", *lines[1:]]) + "\n")
    data["all"]["vars"]["ssh_known_hosts_file"] = str(tampered)
    data["all"]["vars"]["ansible_ssh_common_args"] = (
        f"-o UserKnownHostsFile={tampered} -o StrictHostKeyChecking=yes")
    bad = tmp_path / "lab.yaml"
    bad.write_text(yaml.safe_dump(data))
    proc = run([ORC, "run", "all", "-i", str(bad), "--json", "--", "true"])
    assert proc.returncode == 1
    rows = {row["host"]: row for row in json.loads(proc.stdout)["hosts"]}
    assert rows["lab1"]["exit_code"] is None
    assert rows["lab2"]["exit_code"] == 0
    # `orc lab up --vagrant` meets the same machine with a key other than the recorded one
    original = known.read_text()
    known.write_text(tampered.read_text())
    try:
        again = run([ORC, "lab", "up", "--vagrant", "--vagrant-dir", str(machines),
                     "--inventory", str(tmp_path / "again.yaml")])
    finally:
        known.write_text(original)
    assert again.returncode == 1
    assert "lab1" in again.stderr and "shows another host key" in again.stderr


def test_ssh_config_of_running_machines_parses(machines: Path) -> None:
    proc = run(["vagrant", "ssh-config"], cwd=machines)
    hosts = parse_ssh_config(proc.stdout)
    assert [h.name for h in hosts] == [f"lab{i}" for i in range(1, HOSTS + 1)]
    assert all(h.user == "vagrant" and h.port == 22 for h in hosts)


def test_a_machine_without_root_login_is_reached_as_vagrant_with_sudo(machines: Path,
                                                                      inventory: Path) -> None:
    hosts = parse_ssh_config(run(["vagrant", "ssh-config", "lab2"], cwd=machines).stdout)
    known = known_hosts_path(machines)
    assert login(hosts[0], known) == ("root", False)
    removed = run(["vagrant", "ssh", "lab2", "-c", "sudo rm /root/.ssh/authorized_keys"],
                  cwd=machines)
    assert removed.returncode == 0, removed.stderr
    assert login(hosts[0], known) == ("vagrant", True)
