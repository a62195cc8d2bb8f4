"""File modes in every form Ansible takes, worked out as Ansible's file module sets them;
the symbolic table is checked against ansible-playbook's `file` module on local files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from orchestrator.modules import modes
from tests.support.ansible_local import run_local

# (mode, starting mode, is a directory, result)
SYMBOLIC = [
    ("u=rw,g=r,o=r", 0o600, False, 0o644),
    ("u=rw,g=r,o=", 0o777, False, 0o640),
    ("u+x,g-w", 0o664, False, 0o744),
    ("u+x,g-r", 0o644, False, 0o704),
    ("g=u", 0o640, False, 0o660),
    ("o=g", 0o750, False, 0o755),
    ("go=u", 0o700, False, 0o777),
    ("go-r,g+X", 0o644, False, 0o600),
    ("a+X", 0o644, False, 0o644),
    ("a+X", 0o744, False, 0o755),
    ("a-x,a+X", 0o644, True, 0o755),
    ("+xw", 0o644, False, 0o755),
    ("+w", 0o444, False, 0o644),
    ("-w", 0o666, False, 0o466),
    ("=r", 0o777, False, 0o444),
    ("a=r", 0o777, False, 0o444),
    ("u+s,g+s", 0o755, False, 0o6755),
    ("u+x,g+s,o+t", 0o644, False, 0o3744),
    ("+t", 0o755, True, 0o1755),
    ("g+ws", 0o755, True, 0o2775),
    ("o=", 0o1777, True, 0o770),
    ("u=rwx,g=rx,o=rx", 0o700, True, 0o755),
    ("g+w,o-rx", 0o755, True, 0o770),
    ("ug+rw,o-rwx", 0o604, False, 0o660),
    ("u-w,u+w", 0o444, False, 0o644),
]


@pytest.mark.parametrize("mode, start, directory, expected", SYMBOLIC)
def test_symbolic(mode: str, start: int, directory: bool, expected: int) -> None:
    assert oct(modes.apply_symbolic(mode, start, directory)) == oct(expected)


@pytest.mark.parametrize("value, expected", [
    (420, 0o644), (0o755, 0o755), (644, 0o1204), ("0644", 0o644), ("644", 0o644),
    ("0o750", 0o750), ("1777", 0o1777), ("02775", 0o2775), (None, None),
])
def test_numeric(value, expected) -> None:
    assert modes.octal(value) == expected


@pytest.mark.parametrize("value", ["u+q", "x=r", "rwxr-xr-x", "u+x,", "0849", "9"])
def test_bad_modes_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        if modes.is_symbolic(value):
            modes.apply_symbolic(value, 0o644, False)
        else:
            modes.octal(value)


def test_pyinfra_spelling() -> None:
    assert modes.pyinfra_mode(0o644) == "644"
    assert modes.pyinfra_mode(0o1777) == "1777"
    assert modes.pyinfra_mode(None) is None


def test_symbolic_table_matches_ansible_playbook(tmp_path: Path) -> None:
    tasks = []
    for index, (mode, start, directory, _) in enumerate(SYMBOLIC):
        path = tmp_path / "paths" / str(index)
        if directory:
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x\n")
        path.chmod(start)
        tasks.append({"file": {"path": str(path), "mode": mode}})
    previous = os.umask(0o022)  # Ansible applies the module's umask to class-less clauses
    try:
        done = run_local(tmp_path, tasks)
    finally:
        os.umask(previous)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    for index, (mode, start, directory, expected) in enumerate(SYMBOLIC):
        got = stat.S_IMODE((tmp_path / "paths" / str(index)).stat().st_mode)
        assert oct(got) == oct(expected), f"{mode} on {oct(start)}"
