"""FactShell: a host's fact commands through one shell answer exactly as pyinfra's own reads.

Each command runs on a real lab host both ways, through the shell and through pyinfra's SSH
connector (a channel of its own), and the answers (success, stdout lines, stderr lines) must be
the same; what the shell cannot reproduce is left to pyinfra."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyinfra.api.command import StringCommand

from orchestrator.engine.factshell import FactShell
from orchestrator.inventory import load_inventory
from orchestrator.lab import Lab
from orchestrator.transport.session import open_session

pytestmark = pytest.mark.lab

# what pyinfra's fact loader passes: every connector argument, most of them empty
DEFAULTS = {"_sudo": False, "_sudo_user": None, "_use_sudo_login": False,
            "_sudo_password": None, "_preserve_sudo_env": False, "_su_user": None,
            "_use_su_login": False, "_preserve_su_env": False, "_su_shell": False,
            "_su_password": None, "_doas": False, "_doas_user": None, "_dzdo": False,
            "_dzdo_user": None, "_shell_executable": "sh", "_chdir": None, "_env": {},
            "_success_exit_codes": [0], "_timeout": None, "_get_pty": False, "_stdin": None,
            "_retries": 0, "_retry_delay": 5, "_retry_until": None, "_temp_dir": None,
            "print_output": False, "print_input": False}

CASES = [
    ("echo hi", {}),
    ("printf 'a\\nb'", {}),  # no newline at the end
    ("printf '\\n\\n'", {}),  # empty lines
    ("printf 'x\\r\\ny'", {}),
    ("echo err >&2; echo out; exit 3", {}),
    ("exit 1", {"_success_exit_codes": [0, 1]}),
    ("cat; echo after", {}),  # reads stdin: nothing there
    ("cat <<'EOF'\n$HOME `x`\nEOF", {}),  # a here-document, taken literally
    ("exit 7", {}),  # ends its own subshell only
    ("id -un", {"_sudo": True}),
    ("id -un", {"_sudo": True, "_sudo_user": "nobody"}),
    ("echo \"$ORC_X\"", {"_env": {"ORC_X": "1 2"}}),
    ("pwd", {"_chdir": "/tmp"}),
    ("test -e /etc/hostname && sha1sum /etc/hostname", {}),
]


@pytest.fixture(scope="module")
def host(lab: Lab, lab_inventory: Path):
    inventory = load_inventory([lab_inventory], playbook_dir=lab_inventory.parent)
    session = open_session(inventory, [lab.hosts[0].name])
    return session.hosts[lab.hosts[0].name]


def _answer(result):
    status, output = result
    return status, output.stdout_lines, output.stderr_lines


@pytest.mark.parametrize("command,arguments", CASES)
def test_the_shell_answers_as_pyinfra_reads(host, command: str, arguments: dict) -> None:
    shell = FactShell(host)
    try:
        kwargs = {**DEFAULTS, **arguments}
        through = shell.read(StringCommand(command), dict(kwargs))
        assert through is not None, "the shell should take this read"
        assert _answer(through) == _answer(host.run_shell_command(StringCommand(command),
                                                                  **kwargs))
    finally:
        shell.close()


def test_reads_share_one_shell_per_set_of_arguments(host) -> None:
    shell = FactShell(host)
    try:
        for _ in range(3):
            assert shell.read(StringCommand("echo $$"), dict(DEFAULTS)) is not None
            assert shell.read(StringCommand("id -u"), {**DEFAULTS, "_sudo": True}) is not None
        assert len(shell.shells) == 2
        pids = {_answer(shell.read(StringCommand("echo $PPID"), dict(DEFAULTS)))[1][0]
                for _ in range(3)}
        assert len(pids) == 1  # every read's subshell has the same parent: one process
    finally:
        shell.close()


@pytest.mark.parametrize("arguments", [
    {"_stdin": "input"}, {"_get_pty": True}, {"_timeout": 5}, {"_sudo_password": "x"},
    {"_shell_executable": "bash"}, {"_retries": 2},
])
def test_what_the_shell_cannot_reproduce_is_left_to_pyinfra(host, arguments: dict) -> None:
    shell = FactShell(host)
    assert shell.read(StringCommand("echo hi"), {**DEFAULTS, **arguments}) is None
    assert shell.shells == {}  # nothing was started for it


def test_a_shell_that_cannot_start_or_dies_falls_back(host) -> None:
    shell = FactShell(host)
    try:
        # sudo refuses an unknown user: no shell for these arguments, ever
        refused = {**DEFAULTS, "_sudo": True, "_sudo_user": "no-such-user"}
        assert shell.read(StringCommand("id"), dict(refused)) is None
        assert shell.read(StringCommand("id"), dict(refused)) is None
        assert list(shell.shells.values()) == [None]
        assert shell.read(StringCommand("echo up"), dict(DEFAULTS)) is not None
        (live,) = [s for s in shell.shells.values() if s is not None]
        live.channel.close()  # the connection's channel goes away under it
        assert shell.read(StringCommand("echo up"), dict(DEFAULTS)) is None
        assert shell.read(StringCommand("echo up"), dict(DEFAULTS)) is None
    finally:
        shell.close()


def test_reads_from_many_threads_at_once_each_get_their_own_answer(host) -> None:
    from concurrent.futures import ThreadPoolExecutor

    shell = FactShell(host)
    try:
        def read(n: int):
            return _answer(shell.read(StringCommand(f"sleep 0.0{n % 5}; echo {n}"),
                                      dict(DEFAULTS)))

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(read, range(24)))
        assert answers == [(True, [str(n)], []) for n in range(24)]
    finally:
        shell.close()


def test_an_answer_left_unread_is_never_taken_for_the_next_read(host) -> None:
    """A read whose reader stopped waiting (its greenlet killed) leaves its answer in the
    shell's output; the next read takes its own answer, never that one."""
    shell = FactShell(host)
    try:
        assert shell.read(StringCommand("true"), dict(DEFAULTS)) is not None
        (live,) = shell.shells.values()
        live.count += 1  # the abandoned read: asked for, its answer never read
        live.channel.sendall(
            f'printf "@@orc-fact {live.count} 0 %s \\n" "$(echo stale | base64 -w0)"\n'
            .encode())
        assert _answer(shell.read(StringCommand("echo fresh"), dict(DEFAULTS))) == (
            True, ["fresh"], [])
    finally:
        shell.close()


def test_a_read_interrupted_midway_drops_its_shell(host, monkeypatch) -> None:
    import gevent

    shell = FactShell(host)
    try:
        assert shell.read(StringCommand("true"), dict(DEFAULTS)) is not None
        (live,) = shell.shells.values()

        def killed() -> bytes:
            raise gevent.GreenletExit

        monkeypatch.setattr(live.out, "readline", killed)
        with pytest.raises(gevent.GreenletExit):
            shell.read(StringCommand("echo lost"), dict(DEFAULTS))
        assert list(shell.shells.values()) == [None]
        assert shell.read(StringCommand("echo again"), dict(DEFAULTS)) is None  # pyinfra's path
    finally:
        shell.close()
