"""Each resource kind read, shown and compared as the journal does: the capture script's output
parsed into a state, its one line for `orc show`, and the drift between what a run left and the
host now."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.undo import kinds
from orchestrator.undo.kinds import capture_script, get, parse_state
from orchestrator.undo.kinds.base import PreImage, Resource

SHA = "a" * 64

# (kind, the capture's output for resource 0, the state read, the summary shown)
PARSED = [
    ("path", "0\tfile\n0\tattrs\t644 root adm\n0\tsha256\t" + SHA,
     {"type": "file", "mode": "644", "user": "root", "group": "adm", "sha256": SHA},
     "file 644 root:adm"),
    ("path", "0\tlink\t/srv/current\n0\tattrs\t777 root root",
     {"type": "link", "mode": "777", "user": "root", "group": "root", "target": "/srv/current"},
     "link 777 root:root -> /srv/current"),
    ("path", "0\tdirectory\n0\tattrs\t755 www-data www-data",
     {"type": "directory", "mode": "755", "user": "www-data", "group": "www-data"},
     "directory 755 www-data:www-data"),
    ("path", "0\tother\n0\tattrs\t600 root root",
     {"type": "other", "mode": "600", "user": "root", "group": "root"}, "other 600 root:root"),
    ("path", "0\tmissing\t/srv/app\n0\tmissing\t/srv\n0\tabsent",
     {"type": "absent", "missing": ["/srv/app", "/srv"]}, "absent"),
    ("path", "0\tfile", {"type": "file"}, "file None:None"),  # stat could not read it
    ("package", "0\tpackage\tii |1.24.0-2", {"version": "1.24.0-2"}, "1.24.0-2"),
    ("package", "0\tpackage\tun |", {"version": None}, "not installed"),
    ("package", "0\tpackage\trc |1.0", {"version": None}, "not installed"),
    ("package", "0\tpackage\tiU |1.0", {"version": None}, "not installed"),  # unpacked only
    ("package", "0\tpackage\t", {"version": None}, "not installed"),
    ("service", "0\tservice\tactive\tenabled\tloaded",
     {"active": "active", "enabled": "enabled", "load": "loaded"}, "active, enabled"),
    ("service", "0\tservice\tinactive\t\tnot-found",
     {"active": "inactive", "enabled": "", "load": "not-found"}, "inactive, no unit file"),
    ("service", "0\tservice\tfailed",
     {"active": "failed", "enabled": "", "load": ""}, "failed, no unit file"),
    ("entry", "0\tentry\t3:bob:x:1000:1000::/home/bob:/bin/sh",
     {"line": "bob:x:1000:1000::/home/bob:/bin/sh", "index": 2}, "present"),
    ("entry", "0\tentry", {"line": None}, "absent"),
    ("sysctl", "0\tsysctl\t1", {"value": "1"}, "1"),
    ("sysctl", "0\tsysctl", {"value": None}, "None"),
]


@pytest.mark.parametrize("kind, text, state, summary", PARSED)
def test_parse_and_summary(kind: str, text: str, state: dict, summary: str) -> None:
    states, installed = parse_state(text)
    assert states == {0: state}
    assert installed is None
    shown = dict(state)
    shown.pop("missing", None)
    assert PreImage(0, kind, "k", "t", "w", True, shown).summary() == summary


def test_parse_keeps_resources_apart_and_skips_noise() -> None:
    text = "noise\n0\tsysctl\t1\n1\tentry\n2\tunknown-tag\tx\n3\n\n1x\tsysctl\t2"
    assert parse_state(text) == ({0: {"value": "1"}, 1: {"line": None}}, None)


@pytest.mark.parametrize("text, installed", [
    ("packages\tnginx curl \naccounts\troot www-data \troot adm \n",
     {"installed": ["nginx", "curl"], "users": ["root", "www-data"], "groups": ["root", "adm"]}),
    ("packages\t\n", {"installed": []}),
    ("accounts\troot\troot\n", None),  # accounts count only after the installed set
])
def test_parse_installed_set(text: str, installed: dict | None) -> None:
    assert parse_state(text) == ({}, installed)


@pytest.mark.parametrize("kind, extra, summary", [
    ("command", {"undo": "rm -f /tmp/x"}, "undo: rm -f /tmp/x"),
    ("command", {"undo": None}, "irreversible"),
    ("unsupported", {"why": "pip packages are not recorded"}, "pip packages are not recorded"),
    ("from-a-newer-orc", {"why": "w"}, "w"),
])
def test_summary_of_kinds_without_state(kind: str, extra: dict, summary: str) -> None:
    assert PreImage(0, kind, "k", "t", "w", True, {}, extra).summary() == summary


FILE = {"type": "file", "mode": "644", "user": "root", "group": "root", "sha256": SHA}

# (kind, what the run left, the host now, the drift reported; None: no drift)
DIFFERENCES = [
    ("path", FILE, FILE, None),
    ("path", FILE, {**FILE, "sha256": "b" * 64}, "content"),
    ("path", FILE, {**FILE, "mode": "600"}, "mode 644 -> 600"),
    ("path", FILE, {**FILE, "user": "bob", "group": "bob"}, "user, group"),
    ("path", FILE, {**FILE, "mode": "600", "sha256": "b" * 64}, "mode, content"),
    ("path", FILE, {"type": "absent"}, "file -> absent"),
    ("path", {"type": "absent"}, {"type": "directory", "mode": "755"}, "absent -> directory"),
    ("path", {"type": "link", "target": "/a"}, {"type": "link", "target": "/b"}, "target /a -> /b"),
    ("package", {"version": "1.2"}, {"version": "1.3"}, "version 1.2 -> 1.3"),
    ("package", {"version": "1.2"}, {"version": None}, "version 1.2 -> None"),
    ("package", {"version": "1.2"}, {"version": "1.2"}, None),
    ("service", {"active": "active", "enabled": "enabled"},
     {"active": "failed", "enabled": "enabled"}, None),  # running state is not compared
    ("service", {"enabled": "enabled"}, {"enabled": "disabled"}, "enabled enabled -> disabled"),
    ("entry", {"line": "a:x:1"}, {"line": "a:x:1"}, None),
    ("entry", {"line": "a:x:1"}, {"line": None}, "entry removed"),
    ("entry", {"line": None}, {"line": "a:x:1"}, "entry added"),
    ("entry", {"line": "a:x:1"}, {"line": "a:x:2"}, "entry edited"),
    ("sysctl", {"value": "1"}, {"value": "0"}, "value 1 -> 0"),
    ("sysctl", {"value": "1"}, {"value": "1"}, None),
    ("command", {}, {"anything": 1}, None),
    ("unsupported", {}, {"anything": 1}, None),
]


@pytest.mark.parametrize("kind, left, now, what", DIFFERENCES)
def test_difference(kind: str, left: dict, now: dict, what: str | None) -> None:
    assert get(kind).difference(left, now) == what


def test_restorable_kinds() -> None:
    assert set(kinds.RESTORABLE) == {"path", "package", "service", "entry", "sysctl"}


def test_each_capture_tag_has_one_kind() -> None:
    tags = [tag for kind in kinds.KINDS.values() for tag in kind.tags]
    assert len(tags) == len(set(tags))


# The capture script run for real, here (it is plain sh), and its output read back.

def _capture(tmp_path: Path, resources: list[Resource]) -> tuple[dict, dict | None, Path]:
    batch_dir = tmp_path / "runs" / "run1" / "batch"
    script = capture_script(str(batch_dir), resources)
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    states, installed = parse_state(out.stdout)
    return states, installed, batch_dir


def test_capture_of_paths(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("old bytes\n")
    os.chmod(tmp_path / "f", 0o640)
    (tmp_path / "d").mkdir(mode=0o750)
    os.chmod(tmp_path / "d", 0o750)
    os.symlink("/nowhere", tmp_path / "l")
    me = pwd.getpwuid(os.getuid())
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True).stdout.strip()
    states, installed, batch_dir = _capture(tmp_path, [
        Resource("path", str(tmp_path / "f")), Resource("path", str(tmp_path / "d")),
        Resource("path", str(tmp_path / "l")), Resource("path", str(tmp_path / "a" / "b" / "c"))])
    digest = subprocess.run(["sha256sum", str(tmp_path / "f")], capture_output=True,
                            text=True).stdout[:64]
    assert states[0] == {"type": "file", "mode": "640", "user": me.pw_name, "group": group,
                         "sha256": digest}
    assert (batch_dir / "files" / "0").read_text() == "old bytes\n"  # the pre-image's copy
    assert oct((batch_dir / "files" / "0").stat().st_mode)[-3:] == "600"
    assert states[1] == {"type": "directory", "mode": "750", "user": me.pw_name, "group": group}
    assert states[2]["type"] == "link" and states[2]["target"] == "/nowhere"
    assert states[3] == {"type": "absent", "missing": [str(tmp_path / "a" / "b"),
                                                       str(tmp_path / "a")]}
    assert installed is None


def test_capture_of_entries_and_sysctl(tmp_path: Path) -> None:
    db = tmp_path / "passwd"
    db.write_text("root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n")
    states, _, _ = _capture(tmp_path, [
        Resource("entry", f"{db}:bob"), Resource("entry", f"{db}:carol"),
        Resource("entry", f"{tmp_path / 'none'}:bob"), Resource("sysctl", "kernel.ostype")])
    assert states[0] == {"line": "bob:x:1000:1000::/home/bob:/bin/sh", "index": 1}
    assert states[1] == {"line": None}
    assert states[2] == {"line": None}
    assert states[3] == {"value": "Linux"}


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg (Debian)")
def test_capture_of_packages(tmp_path: Path) -> None:
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "coreutils"],
                             capture_output=True, text=True).stdout
    states, installed, _ = _capture(tmp_path, [
        Resource("package", "coreutils"), Resource("package", "no-such-package-here")])
    assert states == {0: {"version": version}, 1: {"version": None}}
    assert "coreutils" in installed["installed"]
    assert "root" in installed["users"] and "root" in installed["groups"]


def test_capture_without_copy_reads_only_attributes(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    batch_dir = tmp_path / "runs" / "run1" / "batch"
    script = capture_script(str(batch_dir), [Resource("path", str(tmp_path / "f")),
                                             Resource("package", "coreutils")], copy=False)
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert not batch_dir.exists()
    assert "packages\t" not in out.stdout  # the installed set is a pre-image's only
    assert parse_state(out.stdout)[0][0]["type"] == "file"


@pytest.mark.parametrize("path", [
    "/a/b/c", "/a/b/c/", "/a//b//c//", "/a", "/", "//", "///", "a", "a/", "a/b", "./a", "../a/b",
    "", ".", "..", "/a b/c d", "/a\tb/c", "/a\nb/c", "/-x/-y", "/*/?", "/a/b//"])
def test_the_capture_finds_a_parent_as_dirname_does(path: str) -> None:
    """The capture script's own dirname (parameter expansions, no process) against coreutils'."""
    from orchestrator.undo.kinds import path as path_kind

    script = path_kind.SHELL + 'parent_of "$1"; printf "%s" "$d"'
    ours = subprocess.run(["sh", "-c", script, "sh", path], capture_output=True, text=True,
                          check=True).stdout
    theirs = subprocess.run(["dirname", "--", path], capture_output=True, text=True,
                            check=True).stdout.removesuffix("\n")
    assert ours == theirs


def test_capture_of_paths_written_loosely(tmp_path: Path) -> None:
    """Trailing slashes and a path whose parents are missing up to a relative start."""
    (tmp_path / "d").mkdir()
    states, _, _ = _capture(tmp_path, [
        Resource("path", f"{tmp_path}/d/"), Resource("path", f"{tmp_path}//x//y/"),
        Resource("path", f"{tmp_path}/d/n/m")])
    assert states[0]["type"] == "directory"
    assert states[1] == {"type": "absent", "missing": [f"{tmp_path}//x"]}
    assert states[2] == {"type": "absent", "missing": [f"{tmp_path}/d/n"]}



TRICKY = ["plain", "with space", "it's", "$HOME", "a*b", "[ab]", "-dash", "tab\there",
          "ends with space ", "back\\slash", "ünïcode", "x  y"]


def test_capture_reads_every_path_at_once_and_gives_each_its_own_answer(tmp_path: Path) -> None:
    """One stat and one sha256sum answer for all paths: names that quote, glob, start with a
    dash or hold two spaces each get their own mode, owner and hash, whatever the order."""
    import grp
    import hashlib

    resources, expected = [], {}
    for n, name in enumerate(TRICKY):
        target = tmp_path / name
        kind = ("file", "directory", "link")[n % 3]
        if kind == "file":
            target.write_bytes(f"bytes of {name}\n".encode())
            os.chmod(target, 0o600 + n % 8)
        elif kind == "directory":
            target.mkdir()
            os.chmod(target, 0o700 + n % 8)
        else:
            os.symlink(f"/target/{name}", target)
        info = os.lstat(target)
        state = {"type": kind, "mode": oct(info.st_mode & 0o7777)[2:],
                 "user": pwd.getpwuid(info.st_uid).pw_name,
                 "group": grp.getgrgid(info.st_gid).gr_name}
        if kind == "file":
            state["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
        if kind == "link":
            state["target"] = f"/target/{name}"
        resources.append(Resource("path", str(target)))
        expected[len(resources) - 1] = state
        resources.append(Resource("path", f"{target}.missing"))  # between them: no answer
        expected[len(resources) - 1] = {"type": "absent"}
    states, _, batch_dir = _capture(tmp_path, resources)
    assert states == expected
    for index, state in expected.items():
        copy = batch_dir / "files" / str(index)
        assert copy.exists() == (state["type"] == "file")
