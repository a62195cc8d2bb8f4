"""unarchive without a host: the members an archive holds as tar and unzip see them (names,
kinds, modes, owners), --strip-components, include/exclude and hard links, the extra_opts orc
honours, and what is refused at load with file and line."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.load.playbook import load_playbook
from orchestrator.modules import lookup
from orchestrator.modules.unarchive import (
    Options,
    Unhandled,
    extra_options,
    hard_links,
    not_through_links,
    read_archive,
    selected,
    strip_components,
)

CASE = Path(__file__).parent / "conformance" / "cases" / "modules-unarchive" / "files"


def _tar(entries: list[tuple[str, str, int, bytes | str]], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, kind, bits, data in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uname, info.uid = bits, 1_700_000_000, "www", 33
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
                archive.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                archive.addfile(info)
            else:
                assert isinstance(data, bytes)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_tar_members_as_tar_lists_them() -> None:
    handler, members = read_archive(_tar([("./", "dir", 0o755, b""),
                                          ("./app/", "dir", 0o2750, b""),
                                          ("./app/run", "file", 0o4755, b"#!/bin/sh\n"),
                                          ("/abs/x", "file", 0o600, b"x"),
                                          ("./app/now", "sym", 0o777, "run")]))
    assert handler == "TgzArchive"
    assert [(m.name, m.listed, m.kind, m.mode) for m in members] == [
        ("", "./", "directory", 0o755), ("app", "./app/", "directory", 0o2750),
        ("app/run", "./app/run", "file", 0o4755), ("abs/x", "abs/x", "file", 0o600),
        ("app/now", "./app/now", "symlink", 0o777)]
    assert members[2].data == b"#!/bin/sh\n" and members[4].target == "run"
    assert (members[2].user, members[2].uid, members[2].mtime) == ("www", 33, 1_700_000_000)


@pytest.mark.parametrize("mode, handler", [("w", "TarArchive"), ("w:bz2", "TarBzipArchive"),
                                           ("w:xz", "TarXzArchive")])
def test_each_compression_names_ansibles_handler(mode: str, handler: str) -> None:
    assert read_archive(_tar([("a", "file", 0o644, b"a")], mode))[0] == handler


def test_zip_modes_without_special_bits_and_no_owners() -> None:
    handler, members = read_archive((CASE / "site.zip").read_bytes())
    assert handler == "ZipArchive"
    assert [(m.listed, m.kind, m.mode, m.user, m.mtime) for m in members] == [
        ("site/index.html", "file", 0o644, "", None), ("site/x.txt", "file", 0o600, "", None)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bin/tool")
        info.create_system, info.external_attr = 3, (0o104755 << 16)
        archive.writestr(info, b"x")
        dos = zipfile.ZipInfo("plain.txt")
        dos.create_system = 0  # written elsewhere, no unix mode: the umask's
        archive.writestr(dos, b"y")
    assert [(m.name, m.mode) for m in read_archive(buffer.getvalue())[1]] == [
        ("bin/tool", 0o755), ("plain.txt", 0o644)]


def test_what_neither_tar_nor_zip_reads_and_what_is_refused() -> None:
    with pytest.raises(Unhandled):
        read_archive(b"just some text\n" * 100)
    with pytest.raises(ValueError, match="climbs out of dest"):
        read_archive(_tar([("app/../../etc/passwd", "file", 0o644, b"x")]))
    with pytest.raises(ValueError, match="device or fifo"):
        read_archive(_tar([("pipe", "fifo", 0o644, b"")]))


def test_nothing_is_written_through_a_link_of_the_archive() -> None:
    members = read_archive(_tar([("conf", "sym", 0o777, "/etc"),
                                 ("conf/passwd", "file", 0o644, b"x")]))[1]
    with pytest.raises(ValueError, match="'conf/passwd' is under the symbolic link 'conf'"):
        not_through_links(members)
    not_through_links(read_archive((CASE / "tool-1.2.tar.gz").read_bytes())[1])


def test_strip_components_as_tar_strips() -> None:
    members = read_archive((CASE / "tool-1.2.tar.gz").read_bytes())[1]
    stripped = strip_components(members, 1)
    # a member stripped to nothing is listed as tar --show-transformed-names shows it, empty
    assert [m.listed for m in stripped] == ["", "bin/tool", "share/doc/README", "data.bin",
                                            "current", "bin/tool-again", "etc/",
                                            "etc/tool.conf"]
    assert stripped[0].kind == "stripped"
    link = next(m for m in stripped if m.kind == "hardlink")
    assert link.target == "bin/tool"
    kept = lambda count: [m.listed for m in strip_components(members, count)  # noqa: E731
                          if m.kind != "stripped"]
    assert kept(3) == ["README"]
    assert kept(4) == []
    assert [(m.listed, m.target) for m in strip_components(members, 2)
            if m.kind != "stripped"] == [("tool", ""), ("doc/README", ""),
                                         ("tool-again", "tool"), ("tool.conf", "")]


def test_a_hard_link_is_the_file_it_names() -> None:
    members = hard_links(read_archive((CASE / "tool-1.2.tar.gz").read_bytes())[1])
    tool, again = (next(m for m in members if m.name == n)
                   for n in ("tool-1.2/bin/tool", "tool-1.2/bin/tool-again"))
    assert again.kind == "file" and again.listed == "tool-1.2/bin/tool-again"
    assert (again.data, again.mode, again.user, again.mtime) == \
        (tool.data, tool.mode, tool.user, tool.mtime)


def test_include_and_exclude() -> None:
    members = read_archive((CASE / "tool-1.2.tar.gz").read_bytes())[1]
    names = lambda found: [m.listed for m in found]  # noqa: E731
    assert names(selected(members, ["tool-1.2/etc", "tool-1.2/data.bin"], [])) == [
        "tool-1.2/data.bin", "tool-1.2/etc/", "tool-1.2/etc/tool.conf"]
    assert names(selected(members, ["*.conf"], [])) == ["tool-1.2/etc/tool.conf"]
    # tar's exclude is unanchored and takes a directory's contents along
    assert names(selected(members, [], ["share", "*.bin", "tool-1.2/bin"])) == [
        "tool-1.2/", "tool-1.2/current", "tool-1.2/etc/", "tool-1.2/etc/tool.conf"]


@pytest.mark.parametrize("given, expected", [
    ([], Options()),
    (["--strip-components=2"], Options(strip=2)),
    (["--strip-components", "1"], Options(strip=1)),
    (["--no-same-owner", "--strip-components=1"], Options(strip=1, same_owner=False)),
])
def test_the_extra_opts_orc_honours(given, expected) -> None:
    assert extra_options(given) == expected


@pytest.mark.parametrize("given", [["--strip-components=x"], ["--strip-components"],
                                   ["-v"], ["--transform=s/a/b/"], ["--keep-newer-files"]])
def test_any_other_extra_opts_is_refused(given) -> None:
    with pytest.raises(ValueError, match="is not supported by orc"):
        extra_options(given)


PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: extract
      unarchive:
        src: app.tar.gz
        dest: /opt
{extra}
"""


@pytest.mark.parametrize("extra, message", [
    ("        extra_opts: ['--strip-components=1', '--overwrite']",
     "site.yaml:5: unarchive: extra_opts '--overwrite' is not supported by orc (it takes "
     "--strip-components=N and --no-same-owner, for tar archives)"),
    ("        include: [a]\n        exclude: [b]",
     "site.yaml:5: unarchive: parameters are mutually exclusive: exclude, include"),
    ("        mode: u+q", "site.yaml:5: unarchive: mode 'u+q'"),
    ("        keep_newer: true", "site.yaml:5: unarchive has no argument 'keep_newer'"),
])
def test_refused_at_load_in_one_line(tmp_path: Path, extra: str, message: str) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "app.tar.gz").write_bytes((CASE / "app.tar.gz").read_bytes())
    (tmp_path / "site.yaml").write_text(PLAY.format(extra=extra))
    with pytest.raises(InputError) as caught:
        load_playbook(tmp_path / "site.yaml").check()
    assert str(caught.value).replace(str(tmp_path) + "/", "").startswith(message)
    assert "\n" not in str(caught.value)


def test_a_url_src_is_refused_naming_get_url() -> None:
    with pytest.raises(InputError, match=r"^x.yaml:3: unarchive: a URL src \(https://e.org/a"
                                         r".tgz\) is not supported by orc: download it with "
                                         "get_url, then unarchive it with remote_src: true$"):
        lookup("unarchive", {}).normalise({"src": "https://e.org/a.tgz", "dest": "/opt",
                                           "remote_src": True}, {"path": "x.yaml", "line": 3})


def test_templated_values_wait_for_the_host() -> None:
    args = lookup("unarchive", {}).normalise(
        {"src": "a.tgz", "dest": "/opt", "extra_opts": "{{ opts }}"}, {"path": "x", "line": 1})
    assert args["extra_opts"] == "{{ opts }}"
