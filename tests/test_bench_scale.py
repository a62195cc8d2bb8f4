"""bench/scale.py's accounting of hosts from each tool's own report (no lab needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "scale.py"


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("bench_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


PYINFRA_LOG = """\
--> Connecting to hosts...
    [web1]   Connected
    [web10]  Connected
    [web2]   Connected

--> Starting operation: a file
    [web1]   Success
    [web10]  Error: permission denied
    [web2]   No changes

--> Disconnecting from hosts...
"""


def test_pyinfra_hosts_are_ok_when_connected_and_never_in_error(scale) -> None:
    names = ["web1", "web2", "web3", "web10"]
    assert scale.pyinfra_ok_hosts(PYINFRA_LOG, names) == {"web1", "web2"}


def test_a_pyinfra_run_cut_short_accounts_no_host_as_ok(scale) -> None:
    cut = PYINFRA_LOG.replace("--> Disconnecting from hosts...\n", "")
    assert scale.pyinfra_ok_hosts(cut, ["web1", "web2"]) == set()


def test_ansible_hosts_are_ok_from_the_recap(scale) -> None:
    recap = (
        "PLAY RECAP *********\n"
        "web1  : ok=22 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0\n"
        "web2  : ok=3  changed=0 unreachable=1 failed=0 skipped=0 rescued=0 ignored=0\n"
        "web3  : ok=5  changed=1 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0\n"
    )
    assert scale.ansible_ok_hosts(recap) == {"web1"}


def test_orc_hosts_are_ok_unless_failed_unreachable_or_in_error(scale) -> None:
    def host(name: str, status: str = "ok", **extra) -> dict:
        return {"host": name, "error": None, "unreachable": False,
                "tasks": [{"name": "t", "status": status}], **extra}

    report = {"waves": [
        {"failed_hosts": [], "apply": {"hosts": {"a": host("a"), "b": host("b", "failed")}}},
        {"failed_hosts": ["d"], "apply": {"hosts": {
            "c": host("c", "changed"), "d": host("d"),
            "e": host("e", unreachable=True, error="connection refused")}}},
    ]}
    assert scale.orc_ok_hosts(report) == {"a", "c"}


# The mitogen tool: ansible-playbook with mitogen's strategy plugin, otherwise the ansible tool.

DATA = Path(__file__).resolve().parent / "data" / "bench"
APPLY = SCRIPT.with_name("apply.py")


@pytest.fixture(scope="module")
def apply():
    spec = importlib.util.spec_from_file_location("bench_apply", APPLY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def cfg_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_the_mitogen_config_is_the_ansible_one_plus_mitogens_strategy(apply, tmp_path) -> None:
    plain = cfg_lines(apply.ansible_cfg(5, tmp_path / "a", None))
    mitogen = cfg_lines(apply.ansible_cfg(5, tmp_path / "a", None, mitogen=True))
    added = [line for line in mitogen if line not in plain]
    assert [line for line in mitogen if line not in added] == plain
    assert added[1] == "strategy = mitogen_linear"
    key, _, folder = added[0].partition(" = ")
    assert key == "strategy_plugins"
    assert (Path(folder) / "mitogen_linear.py").is_file()
    # in [defaults], where Ansible reads both keys; pipelining and forks as for the ansible tool
    assert mitogen.index(added[1]) < mitogen.index("[ssh_connection]")
    assert "forks = 5" in mitogen and "pipelining = True" in mitogen


def test_the_mitogen_tool_runs_ansible_playbook_with_its_own_config(scale, tmp_path) -> None:
    inventory = tmp_path / "lab.yaml"
    command, env = scale.command_for("mitogen", None, inventory, 3, tmp_path / "mitogen-3-first-0")
    assert Path(command[0]).name == "ansible-playbook"
    assert command[1:] == ["-i", str(inventory), str(scale.PLAYBOOK), "-f", "3"]
    assert "strategy = mitogen_linear" in Path(env["ANSIBLE_CONFIG"]).read_text()
    command, env = scale.command_for("ansible", None, inventory, 3, tmp_path / "ansible-3-first-0")
    assert "strategy" not in Path(env["ANSIBLE_CONFIG"]).read_text()


def test_mitogens_recap_accounts_failed_and_unreachable_hosts(scale, apply) -> None:
    # captured from ansible-playbook with mitogen 0.3.54 on lab hosts: mg2 failed a task, mg9
    # did not exist (mitogen's "EOF on stream" unreachable)
    text = (DATA / "mitogen-recap-failures.log").read_text()
    assert "EOF on stream" in text
    assert scale.ansible_ok_hosts(text) == {"mg1"}
    assert apply.recap_changed(text) == 3


def test_a_run_without_a_recap_reports_no_changed_count(apply) -> None:
    assert apply.recap_changed("ERROR! the playbook could not be read\n") is None


@pytest.mark.slow
def test_the_mitogen_config_makes_ansible_playbook_run_through_mitogen(apply, tmp_path) -> None:
    """The real ansible-playbook with the config the mitogen tool writes, on the controller
    itself (a local connection, which mitogen's strategy also takes over)."""
    import os
    import subprocess

    playbook = tmp_path / "play.yaml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.copy: {{content: \"x\\n\", dest: {tmp_path / 'out'}}}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(apply.ansible_cfg(1, tmp_path / "run", None, mitogen=True))
    env["ANSIBLE_REMOTE_TMP"] = str(tmp_path / "remote-tmp")
    done = subprocess.run([str(apply.BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(playbook), "-vvv"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "out").read_text() == "x\n"
    # mitogen's action plugins stage files in their own temporary folder, and Ansible's own
    # local connection (which logs ESTABLISH) is never used
    assert "ansible_mitogen_action_" in done.stdout
    assert "ESTABLISH LOCAL CONNECTION" not in done.stdout
    assert apply.recap_changed(done.stdout) == 1
