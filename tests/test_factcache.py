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


# read_together against the real thing: pyinfra's local connector runs each command through a
# real shell, alone and in one batch, and the answers must be the same
_COMMANDS = [
    "printf 'a\\nb\\n'",  # lines
    "printf 'no final newline'",
    "printf 'trailing blank\\n\\n'",
    "true",  # no output
    "echo out; echo err >&2",  # both buffers
    "echo 'it''s \"quoted\"' $((1 + 2))",
    "echo before # a comment at the end",
    "exit 3",  # failed: never answered, read on its own when asked
    "cat",  # reads no stdin from the batch
    "printf 'caf\\303\\251\\n'",  # UTF-8
]


def _local_host() -> Any:
    from pyinfra.api import Config, Inventory, State

    state = State(Inventory((["@local"], {})), Config())
    host = state.inventory.get_host("@local")
    host.connect()
    return host


def test_facts_read_together_answer_as_each_command_alone() -> None:
    from pyinfra.api.command import StringCommand

    from orchestrator.engine.factcache import _key, read_together

    host = _local_host()
    reads = [(StringCommand(c), {"print_output": False}) for c in _COMMANDS]
    together = read_together(host, reads)
    for command, kwargs in reads:
        status, alone = host.run_shell_command(command, _stdin="", **kwargs)
        key = _key(command, kwargs)
        if not status:
            assert key not in together, command
            continue
        assert together[key][0] is True
        assert together[key][1].stdout_lines == alone.stdout_lines, command
        assert together[key][1].stderr_lines == alone.stderr_lines, command
    assert len(together) == len(_COMMANDS) - 1


def test_facts_read_together_group_by_connector_arguments_and_skip_lone_ones() -> None:
    from pyinfra.api.command import StringCommand

    from orchestrator.engine.factcache import read_together

    host = _local_host()
    reads = [(StringCommand("echo one"), {}), (StringCommand("echo two"), {}),
             (StringCommand("echo three"), {"_env": {"X": "1"}})]
    together = read_together(host, reads)
    assert {key[0] for key in together} == {"echo one", "echo two"}


def test_a_host_first_notes_its_reads_and_known_answers_are_not_read_again() -> None:
    host = _Host()
    reads: list = []
    with facts_read_once(host, reads=reads):
        host.get_fact("uname -s")
        host.get_fact("uname -s")
        host.get_fact("flaky")
    assert [c.get_raw_value() for c, _ in reads] == ["uname -s", "flaky"]
    other = _Host()
    known = {("uname -s", repr([])): (True, "known")}
    with facts_read_once(other, known=known):
        assert other.get_fact("uname -s") == (True, "known")
    assert other.ran == []
