"""unarchive: an archive's members written into an existing directory, each by a pyinfra
operation the journal records.

The archive is read on the controller (Python's tarfile and zipfile): from the play's files, or
with `remote_src` from the host (a read, also done by `orc plan`). Each member it holds becomes
one operation: `files.directory` for a directory, `files.put` for a file (its bytes, mode and
modification time), `files.link` for a symbolic link, and a hard link is written as a copy of
the file it names. The journal therefore records every path before it changes (`orc rollback`
removes what the archive created and puts back what it overwrote), the plan's diff is what the
apply writes, and a second run changes nothing because pyinfra compares each path first.

Rules, from `ansible-doc unarchive` (ansible-core 2.19) and what it runs (GNU tar, unzip):
- `creates` existing skips the task ("skipped, since X exists"); then `dest` must be an
  existing directory ("dest 'X' must be an existing dir"); a remote `src` must exist ("Source
  'X' does not exist") and not be empty; what neither tar nor zip reads fails with Ansible's
  "Failed to find handler" message, and so does an archive whose tools the host lacks (`unzip`
  for zip files, `tar` and `gzip`, `bzip2` or `xz`: Ansible extracts with them; orc keeps the
  requirement so a playbook passes or fails alike) or that holds nothing to extract.
- owners and modes as tar and unzip leave them: run as root, tar keeps the archive's owners
  (by name when the host knows it, else by number) and modes with their special bits; run as
  another user, files are that user's and the umask (022) applies. unzip keeps modes without
  the special bits and never owners. `owner`, `group` and `mode` (octal or symbolic, applied to
  each member's mode) then apply to every member, directories included, as Ansible applies them.
- `include` takes only the members a pattern names (and a named directory's contents), `exclude`
  leaves them out (a pattern may name any trailing part of the path, as tar's --exclude);
  `list_files` registers the members as tar --list names them (a directory with a `/`).
- `extra_opts`: orc honours `--strip-components=N` (or `--strip-components`, `N`) and
  `--no-same-owner` for tar archives; any other option is refused, at load when it is written
  in the playbook, else when the task is reached, never accepted and ignored.
- a URL `src` is refused: fetch it with get_url first (its write is journaled too).
- differs on purpose: a member's directory times and a zip member's time are not set (tar and
  unzip set them); device files and fifos are refused; members named with `..`, or under a
  symbolic link the archive holds, are refused.
"""

from __future__ import annotations

import fnmatch
import io
import posixpath
import shlex
import stat
import tarfile
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from pyinfra.api import FactBase
from pyinfra.facts.files import Directory
from pyinfra.facts.server import User, Which
from pyinfra.operations import files

from orchestrator.load import inputfile
from orchestrator.modules import modes, rewrite
from orchestrator.modules.base import (
    REQUIRED,
    Decided,
    FilePreview,
    HostContext,
    Module,
    OpCall,
    as_list,
)

TAR_OPTIONS = "--strip-components=N and --no-same-owner"
_HANDLERS = {b"\x1f\x8b": "TgzArchive", b"BZh": "TarBzipArchive", b"\xfd7zXZ\x00": "TarXzArchive"}
# the commands Ansible's handler runs on the host: without them it fails, and so does orc
TOOLS = {"ZipArchive": ("unzip",), "TgzArchive": ("tar", "gzip"), "TarArchive": ("tar",),
         "TarBzipArchive": ("tar", "bzip2"), "TarXzArchive": ("tar", "xz")}


class Unhandled(ValueError):
    """Neither a zip file nor a tar archive Python reads."""


@dataclass(frozen=True)
class Member:
    """One entry of an archive. `name` is the path under `dest` ("" is `dest` itself);
    `listed` the name as tar --list (or unzip) prints it."""

    name: str
    listed: str
    kind: str  # file | directory | symlink | hardlink | stripped (listed, not extracted)
    mode: int
    data: bytes = b""
    target: str = ""  # a symbolic link's target; a hard link's: the member it names
    mtime: int | None = None
    user: str = ""  # the archive's owner and group names (tar), "" when it has none
    group: str = ""
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True)
class Options:
    """What orc makes of `extra_opts`."""

    strip: int = 0
    same_owner: bool = True


def extra_options(values: Any) -> Options:
    """The tar options orc honours; ValueError naming any other."""
    words = [str(v) for v in as_list(values)]
    options = Options()
    index = 0
    while index < len(words):
        word = words[index]
        number = None
        if word.startswith("--strip-components="):
            number = word.split("=", 1)[1]
        elif word == "--strip-components" and index + 1 < len(words):
            index += 1
            number = words[index]
        elif word == "--no-same-owner":
            options = replace(options, same_owner=False)
            index += 1
            continue
        if number is None or not number.isdigit():
            raise ValueError(f"extra_opts {word!r} is not supported by orc (it takes "
                             f"{TAR_OPTIONS}, for tar archives)")
        options = replace(options, strip=int(number))
        index += 1
    return options


def _clean(name: str) -> tuple[str, str]:
    """A member's path under dest and its listed name: leading `/` removed as tar removes it,
    `./` parts dropped; a name that climbs out with `..` is refused."""
    listed = name.lstrip("/")
    parts = [p for p in listed.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"member {name!r} climbs out of dest with '..': refused")
    return "/".join(parts), listed


def _tar_member(archive: tarfile.TarFile, info: tarfile.TarInfo) -> Member:
    name, listed = _clean(info.name)
    owned = {"mtime": int(info.mtime), "user": info.uname or "", "group": info.gname or "",
             "uid": info.uid, "gid": info.gid}
    mode = info.mode & 0o7777
    if info.isdir():
        return Member(name, listed.rstrip("/") + "/", "directory", mode, **owned)
    if info.isreg():
        handle = archive.extractfile(info)
        data = handle.read() if handle is not None else b""
        return Member(name, listed, "file", mode, data, **owned)
    if info.issym():
        return Member(name, listed, "symlink", mode, target=info.linkname, **owned)
    if info.islnk():
        return Member(name, listed, "hardlink", mode, target=_clean(info.linkname)[0], **owned)
    raise ValueError(f"member {info.name!r} is a device or fifo: orc writes files, "
                     "directories and links only")


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Member:
    name, listed = _clean(info.filename)
    unix = info.external_attr >> 16 if info.create_system == 3 else 0
    if info.is_dir():
        return Member(name, listed, "directory", (unix & 0o777) or modes.NEW_DIRECTORY)
    if stat.S_ISLNK(unix):
        return Member(name, listed, "symlink", 0o777,
                      target=archive.read(info).decode("utf-8", "surrogateescape"))
    # unzip keeps the permission bits, not setuid, setgid or sticky (without -K)
    return Member(name, listed, "file", (unix & 0o777) or modes.NEW_FILE, archive.read(info))


def read_archive(data: bytes) -> tuple[str, list[Member]]:
    """Ansible's handler name for the archive and its members, in archive order; Unhandled
    when it is neither a zip file nor a tar archive (plain, gzip, bzip2 or xz)."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "ZipArchive", [_zip_member(archive, i) for i in archive.infolist()]
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            members = [_tar_member(archive, i) for i in archive.getmembers()]
    except (tarfile.TarError, EOFError, OSError) as err:
        raise Unhandled(str(err)) from None
    handler = next((h for magic, h in _HANDLERS.items() if data.startswith(magic)),
                   "TarArchive")
    return handler, members


def strip_components(members: list[Member], count: int) -> list[Member]:
    """tar's --strip-components: the first `count` parts of each name (and of a hard link's
    target) dropped; a member left without a name is not extracted, and tar --list
    --show-transformed-names (what Ansible lists) shows it as an empty name."""
    if not count:
        return members

    def strip(name: str) -> str | None:
        parts = name.rstrip("/").split("/")
        return "/".join(parts[count:]) if len(parts) > count else None

    kept = []
    for member in members:
        listed = strip(member.listed)
        if listed is None:
            kept.append(replace(member, name="", listed="", kind="stripped"))
            continue
        target = member.target
        if member.kind == "hardlink":
            target = strip(member.target) or ""
            if not target:
                continue
        suffix = "/" if member.kind == "directory" else ""
        kept.append(replace(member, name=_clean(listed)[0], listed=listed + suffix,
                            target=target))
    return kept


def hard_links(members: list[Member]) -> list[Member]:
    """Each hard link as the file it names (its bytes, mode, owners and time): written as a
    copy, which holds what the link would."""
    by_name = {m.name: m for m in members if m.kind == "file"}
    return [replace(by_name[m.target], name=m.name, listed=m.listed)
            if m.kind == "hardlink" and m.target in by_name else m for m in members]


def not_through_links(members: list[Member]) -> None:
    """Refuse a member under a symbolic link the archive holds: it would be written wherever
    the link points, outside dest."""
    links = {m.name for m in members if m.kind == "symlink"}
    for member in members:
        through = next((p for p in _parents(member.name)[:-1] if p in links), None)
        if through is not None:
            raise ValueError(f"member {member.listed!r} is under the symbolic link "
                             f"{through!r} the archive also holds: refused")


def _matches(name: str, pattern: str) -> bool:
    """tar's --exclude: the pattern matches from any `/` of the path (unanchored), and a
    directory it matches takes what is under it along."""
    parts = name.rstrip("/").split("/")
    pattern = pattern.rstrip("/")
    return any(fnmatch.fnmatchcase("/".join(parts[i:j]), pattern)
               for i in range(len(parts)) for j in range(i + 1, len(parts) + 1))


def selected(members: list[Member], include: list[str], exclude: list[str]) -> list[Member]:
    """The members `include` names (all without it), less those `exclude` names."""
    found = []
    for member in members:
        if include and not any(_included(member.listed, p) for p in include):
            continue
        if any(_matches(member.listed, p) for p in exclude):
            continue
        found.append(member)
    return found


def _included(name: str, pattern: str) -> bool:
    # a name given to tar extracts that member and, for a directory, what is under it
    parts = name.rstrip("/").split("/")
    pattern = pattern.rstrip("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:j]), pattern)
               for j in range(1, len(parts) + 1))


class PathKind(FactBase):
    """What a path is on the host: directory, file, link, other or absent."""

    def command(self, path: str) -> str:
        q = shlex.quote(path)
        return (f"if [ -L {q} ]; then echo link; elif [ -d {q} ]; then echo directory; "
                f"elif [ -f {q} ]; then echo file; elif [ -e {q} ]; then echo other; "
                "else echo absent; fi")

    @staticmethod
    def default() -> str:
        return "absent"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else "absent"


class Accounts(FactBase):
    """The host's user and group names by id, as tar maps an archive's owners."""

    def command(self) -> str:
        return "getent passwd | cut -d: -f1,3; echo @@; getent group | cut -d: -f1,3"

    @staticmethod
    def default() -> dict[str, dict[Any, Any]]:
        return {"users": {}, "uids": {}, "groups": {}, "gids": {}}

    def process(self, output: list[str]) -> dict[str, dict[Any, Any]]:
        found: dict[str, dict[Any, Any]] = {"users": {}, "uids": {}, "groups": {}, "gids": {}}
        names, ids = "users", "uids"
        for line in output:
            if line.strip() == "@@":
                names, ids = "groups", "gids"
                continue
            name, _, number = line.strip().partition(":")
            if name and number.isdigit():
                found[names].setdefault(name, int(number))
                found[ids].setdefault(int(number), name)
        return found


class NumericOwners(FactBase):
    """Each existing path's owner and group as numbers (stat's names read UNKNOWN for ids the
    host has no name for, which pyinfra's own checks cannot compare)."""

    def command(self, paths: tuple[str, ...]) -> str:
        return f"stat -c '%u %g %n' -- {' '.join(shlex.quote(p) for p in paths)} 2>/dev/null; true"

    @staticmethod
    def default() -> dict[str, tuple[int, int]]:
        return {}  # no output: none of the paths exists yet

    def process(self, output: list[str]) -> dict[str, tuple[int, int]]:
        found = {}
        for line in output:
            uid, gid, path = (line.split(" ", 2) + ["", ""])[:3]
            if uid.isdigit() and gid.isdigit():
                found[path] = (int(uid), int(gid))
        return found


def _owner(name: str, number: int | None, by_name: dict[str, int], by_id: dict[int, str]
           ) -> str | int | None:
    """tar's rule: the archive's name when the host knows it, else its number (then shown by
    the host's name for it, if any)."""
    if name and name in by_name:
        return name
    if number is None:
        return None
    return by_id.get(number, number)


def _mode(value: Any, member: Member, as_root: bool) -> int:
    directory = member.kind == "directory"
    base = member.mode if as_root else member.mode & ~modes.DEFAULT_UMASK & 0o777
    if value is None:
        return base
    if modes.is_symbolic(value):
        return modes.apply_symbolic(str(value), base, directory)
    return modes.octal(value)  # type: ignore[return-value]


def _as_root(ctx: HostContext) -> bool:
    if ctx.become:
        return (ctx.become_user or "root") == "root"
    return ctx.host.get_fact(User) == "root"


def _failed(msg: str, **extra: Any) -> Decided:
    return Decided({"changed": False, "failed": True, "msg": msg, **extra})


def _archive(args: dict[str, Any], ctx: HostContext, src: str) -> bytes:
    if not args["remote_src"]:
        return inputfile.read_bytes(ctx.find("files", src), copy=True)
    found = ctx.host.get_fact(rewrite.FileBytes, path=src) or rewrite.Current("absent")
    if found.kind == "absent":
        raise _failed(f"Source '{src}' does not exist")
    if found.kind != "file":
        raise _failed(f"Failed to find handler for \"{src}\". Make sure the required command "
                      "to extract the file is installed.")
    return found.content or b""


def _build(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    _check(args)
    src, dest = str(args["src"]), str(args["dest"]).rstrip("/") or "/"
    options = extra_options(args["extra_opts"])
    creates = args["creates"]
    if creates and ctx.host.get_fact(PathKind, path=str(creates)) != "absent":
        raise Decided({"changed": False, "skipped": True,
                       "msg": f"skipped, since {creates} exists"})
    if ctx.host.get_fact(PathKind, path=dest) != "directory":
        raise _failed(f"dest '{args['dest']}' must be an existing dir")
    data = _archive(args, ctx, src)
    result = {"dest": args["dest"], "src": src}
    if not data:
        raise _failed(f"Invalid archive '{src}', the file is 0 bytes", **result)
    try:
        handler, members = read_archive(data)
    except Unhandled:
        raise _failed(f"Failed to find handler for \"{src}\". Make sure the required command "
                      "to extract the file is installed.", **result) from None
    result["handler"] = handler
    missing = [tool for tool in TOOLS[handler] if not ctx.host.get_fact(Which, command=tool)]
    if missing:
        raise _failed(f"Failed to find handler for \"{src}\". Make sure the required command "
                      "to extract the file is installed.\nUnable to find required "
                      f"'{missing[0]}' binary in the path.", **result)
    if handler == "ZipArchive":
        if args["extra_opts"]:
            raise ValueError(f"extra_opts {args['extra_opts']!r}: orc takes {TAR_OPTIONS} "
                             "for tar archives only; a zip file is extracted without them")
    members = selected(hard_links(strip_components(members, options.strip)),
                       as_list(args["include"]), as_list(args["exclude"]))
    if not any(m.kind != "stripped" for m in members):
        # Ansible's handlers take no archive without files to extract
        raise _failed(f"Failed to find handler for \"{src}\". Make sure the required command "
                      "to extract the file is installed.\nCommand \"tar\" found no files in "
                      "archive. Empty archive files are not supported.", **result)
    ctx.registers.update(result)
    if args["list_files"]:
        ctx.registers["files"] = [m.listed for m in members]
    return _calls([m for m in members if m.kind != "stripped"], args, ctx, dest, handler,
                  options, stripped=any(m.kind == "stripped" for m in members))


def _calls(members: list[Member], args: dict[str, Any], ctx: HostContext, dest: str,
           handler: str, options: Options, stripped: bool = False) -> list[OpCall]:
    as_root = _as_root(ctx)
    keep_owners = as_root and options.same_owner and handler != "ZipArchive"
    accounts = ctx.host.get_fact(Accounts) if keep_owners else None
    path_of = {m.name: posixpath.join(dest, m.name) if m.name else dest for m in members}
    owners: dict[str, tuple[str | int | None, str | int | None]] = {}
    for member in members:
        user = args["owner"] or (_owner(member.user, member.uid, accounts["users"],
                                        accounts["uids"]) if accounts else None)
        group = args["group"] or (_owner(member.group, member.gid, accounts["groups"],
                                         accounts["gids"]) if accounts else None)
        owners[member.name] = (user, group)
    numeric = tuple(path_of[name] for name, pair in owners.items()
                    if any(isinstance(v, int) for v in pair))
    current = ctx.host.get_fact(NumericOwners, paths=numeric) if numeric else {}

    def owned(member: Member) -> dict[str, Any]:
        user, group = owners[member.name]
        now = current.get(path_of[member.name])
        # an id without a name is given only when the path does not have it already
        if isinstance(user, int) and now and now[0] == user:
            user = None
        if isinstance(group, int) and now and now[1] == group:
            group = None
        return {"user": None if user is None else str(user),
                "group": None if group is None else str(group)}

    not_through_links(members)
    calls: list[OpCall] = []
    named = {m.name for m in members if m.kind == "directory"}
    implied = sorted({posixpath.dirname(m.name) for m in members} - named - {""},
                     key=lambda p: p.count("/"))
    mode = args["mode"]
    # Ansible gives owner, group and mode to the top directory of every listed name too
    # (ansible/ansible#35426), and to dest for a name --strip-components left empty
    given = {"user": args["owner"], "group": args["group"]}
    tops = {m.listed.split("/")[0] for m in members if "/" in m.listed}
    for parent in implied:
        for step in _parents(parent):
            if step not in named:
                named.add(step)  # made by tar as the extracting user, with the umask's mode
                kwargs: dict[str, Any] = {"path": posixpath.join(dest, step)}
                if step in tops and (args["owner"] or args["group"] or mode is not None):
                    made = Member(step, step + "/", "directory", modes.NEW_DIRECTORY)
                    kwargs.update(given, mode=modes.pyinfra_mode(
                        None if mode is None else _mode(mode, made, True)))
                calls.append(OpCall(files.directory, kwargs))
    if stripped and (args["owner"] or args["group"] or mode is not None):
        info = ctx.host.get_fact(Directory, path=dest)
        base = Member("", "", "directory", int(str(info["mode"]), 8) if info
                      else modes.NEW_DIRECTORY)
        calls.append(OpCall(files.directory, {"path": dest, **given, "mode": (
            None if mode is None else modes.pyinfra_mode(_mode(mode, base, True)))}))
    for member in sorted((m for m in members if m.kind == "directory"),
                         key=lambda m: m.name.count("/") if m.name else -1):
        calls.append(OpCall(files.directory, {"path": path_of[member.name], **owned(member),
                                              "mode": modes.pyinfra_mode(
                                                  _mode(mode, member, as_root))}))
    for member in members:
        path = path_of[member.name]
        if member.kind == "symlink":
            calls.append(OpCall(files.link, {"path": path, "target": member.target,
                                             "symbolic": True, "force": True,
                                             "force_backup": False, **owned(member)}))
        elif member.kind == "hardlink":
            raise ValueError(f"member {member.listed!r} links to {member.target!r}, "
                             "which is not extracted")
        elif member.kind == "file":
            content = member.data
            kwargs: dict[str, Any] = {"src": io.BytesIO(content), "dest": path,
                                      **owned(member),
                                      "mode": modes.pyinfra_mode(_mode(mode, member, as_root))}
            if member.mtime is not None:
                kwargs["mtime"] = datetime.fromtimestamp(member.mtime, tz=timezone.utc)
            try:
                preview = FilePreview(path, content.decode("utf-8"))
            except UnicodeDecodeError:
                preview = None  # binary: the plan says it changes, without a text diff
            calls.append(OpCall(files.put, kwargs, preview))
    return calls


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _check(args: dict[str, Any]) -> None:
    """What can be refused before any host is read (at load for literal values)."""
    src = args.get("src")
    if isinstance(src, str) and "://" in src:
        raise ValueError(f"a URL src ({src}) is not supported by orc: download it with "
                         "get_url, then unarchive it with remote_src: true")
    if as_list(args.get("include")) and as_list(args.get("exclude")):
        raise ValueError("parameters are mutually exclusive: exclude, include")
    if args.get("extra_opts") is not None:
        extra_options(args["extra_opts"])
    if args.get("mode") is not None:
        value = args["mode"]
        if modes.is_symbolic(value):
            modes.apply_symbolic(str(value), 0, False)
        else:
            modes.octal(value)


MODULE = Module(
    "unarchive",
    {"src": REQUIRED, "dest": REQUIRED, "remote_src": False, "creates": None,
     "extra_opts": [], "mode": None, "owner": None, "group": None, "list_files": False,
     "include": [], "exclude": []},
    _build,
    types={"src": "path", "dest": "path", "remote_src": "bool", "creates": "path",
           "extra_opts": "list", "mode": "raw", "owner": "str", "group": "str",
           "list_files": "bool", "include": "list", "exclude": "list"},
    source=("src", "files"),
    reads_host=True,
    check=_check,
)
