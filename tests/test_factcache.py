"""facts_read_once: a fact command answered once per host while operations are added."""

from __future__ import annotations

from typing import Any

from orchestrator.engine.factcache import facts_read_once


class _Command:
    """Like pyinfra's StringCommand: shown masked, run raw."""

    def __init__(self, raw: str):
        self.raw = raw

    def get_raw_value(self) -> str:
        return self.raw

    def __str__(self) -> str:
        return "***"


class _Host:
    """What the cache touches of a pyinfra Host: get_fact runs a command through
    run_shell_command, as pyinfra's fact loader does."""

    def __init__(self, failing: set[str] = frozenset()):
        self.ran: list[tuple[str, dict[str, Any]]] = []
        self.failing = failing

    def get_fact(self, command: str, **kwargs: Any) -> Any:
        return self.run_shell_command(_Command(command), print_output=False, **kwargs)

    def run_shell_command(self, command: Any, **kwargs: Any) -> tuple[bool, str]:
        raw = command.get_raw_value()
        self.ran.append((raw, kwargs))
        return raw not in self.failing, f"output of {raw} {len(self.ran)}"


def test_a_fact_command_runs_once_per_set_of_connector_arguments() -> None:
    host = _Host()
    with facts_read_once(host):
        first = host.get_fact("cat /etc/group")
        assert host.get_fact("cat /etc/group") == first
        assert host.get_fact("cat /etc/group", _sudo=True) != first
        assert host.get_fact("cat /etc/group", _sudo=True) == host.get_fact("cat /etc/group",
                                                                              _sudo=True)
    assert [raw for raw, _ in host.ran] == ["cat /etc/group"] * 2


def test_commands_outside_facts_and_failed_reads_always_run() -> None:
    host = _Host(failing={"flaky"})
    with facts_read_once(host):
        host.run_shell_command(_Command("touch /tmp/x"))
        host.run_shell_command(_Command("touch /tmp/x"))
        assert host.get_fact("flaky")[0] is False
        assert host.get_fact("flaky")[0] is False
    assert [raw for raw, _ in host.ran] == ["touch /tmp/x"] * 2 + ["flaky"] * 2


def test_facts_are_read_afresh_after_the_block() -> None:
    host = _Host()
    with facts_read_once(host):
        host.get_fact("uname -s")
    host.get_fact("uname -s")
    assert "get_fact" not in vars(host) and "run_shell_command" not in vars(host)
    assert [raw for raw, _ in host.ran] == ["uname -s"] * 2
