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
