"""APT sources and keys: apt_repository (a one-line `.list` file), deb822_repository (a
`.sources` file), apt_key -> the files Ansible writes, byte for byte, through
`rewrite.rewrite`, and pyinfra's `apt.key`.

The file names and bytes are the ones ansible-core 2.19 leaves (`ansible-doc apt_repository`,
`ansible-doc deb822_repository`, checked by tests/conformance/cases/apt-*):
- apt_repository: /etc/apt/sources.list.d/<filename>.list; without `filename`, the repo's
  first address without scheme, user and password, each run of other characters than
  letters and digits one `_` ("deb https://u:p@example.org/debian/ ..." -> example_org_debian).
  The line is the repo's words joined by one space; absent removes it, and the file once empty.
- deb822_repository: /etc/apt/sources.list.d/<name lowercased, spaces as ->.sources, one
  `Field: value` line per option given, in the order of the options' names; lists joined by
  spaces, booleans yes/no, a value of several lines continued on lines indented by four
  spaces, an empty one as `.`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from pyinfra import host
from pyinfra.api import operation
from pyinfra.operations import apt, files

from orchestrator.modules import rewrite
from orchestrator.modules.base import REQUIRED, HostContext, Module, OpCall

SOURCES_DIR = "/etc/apt/sources.list.d"
SOURCE_TYPES = ("deb", "deb-src")


@operation()
def source_file(path: str, compute: Callable[[bytes | None], bytes | None], mode: Any = None,
                update_cache: bool = False) -> Iterator[Any]:
    """`path` made to hold what `compute` makes of it (b"": the file removed), then, only
    when it changed and `update_cache`, `apt-get update` (Ansible's apt_repository)."""
    current = host.get_fact(rewrite.FileBytes, path=path) or rewrite.Current("absent")
    new = compute(current.content)
    if new == b"":
        commands = list(files.file._inner(path=path, present=False)) \
            if current.kind != "absent" else []
    else:
        commands = list(rewrite.rewrite._inner(path=path, compute=lambda _: new, mode=mode))
    yield from commands
    if commands and update_cache:
        yield from apt.update._inner()


def list_filename(repo: str) -> str:
    """The `.list` name Ansible gives a repo line without `filename` (module docstring)."""
    line = re.sub(r"\[[^\]]+\]", "", repo)
    line = re.sub(r"\w+://", "", line)
    parts = [p for p in line.split() if p not in SOURCE_TYPES]
    if not parts:
        raise ValueError(f"apt_repository: {repo!r} names no address")
    address = parts[0].split("@", 1)[-1]
    return "_".join(re.sub("[^a-zA-Z0-9]", " ", address).split())


def _apt_repository(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    repo = " ".join(str(args["repo"]).split())
    if repo.startswith("ppa:"):
        raise ValueError("apt_repository: ppa: repositories are not supported (Launchpad is "
                         "Ubuntu's); give the deb line")
    if repo.split()[0] not in SOURCE_TYPES:
        raise ValueError(f"apt_repository: {repo!r} is not a deb or deb-src line")
    if args["codename"]:
        raise ValueError("apt_repository: codename only fills a ppa: line, not supported here")
    name = args["filename"] or list_filename(repo)
    path = f"{SOURCES_DIR}/{name}.list"
    present = args["state"] != "absent"

    def compute(current: bytes | None) -> bytes | None:
        lines = (current or b"").decode().splitlines()
        kept = [line for line in lines if " ".join(line.split()) != repo]
        if present:
            if len(kept) != len(lines):
                return current
            return (current or b"") + (b"" if not current or current.endswith(b"\n")
                                       else b"\n") + repo.encode() + b"\n"
        if current is None:
            return None
        if len(kept) == len(lines):
            return current
        return "".join(f"{line}\n" for line in kept).encode()

    return [OpCall(source_file, {"path": path, "compute": compute, "mode": args["mode"],
                                 "update_cache": bool(args["update_cache"])})]


# deb822_repository's options and the field each becomes, in the order Ansible writes them
DEB822_FIELDS = {
    "allow_downgrade_to_insecure": "Allow-Downgrade-To-Insecure", "allow_insecure":
    "Allow-Insecure", "allow_weak": "Allow-Weak", "architectures": "Architectures",
    "by_hash": "By-Hash", "check_date": "Check-Date", "check_valid_until": "Check-Valid-Until",
    "components": "Components", "date_max_future": "Date-Max-Future", "enabled": "Enabled",
    "inrelease_path": "InRelease-Path", "languages": "Languages", "name": "X-Repolib-Name",
    "pdiffs": "PDiffs", "signed_by": "Signed-By", "suites": "Suites", "targets": "Targets",
    "trusted": "Trusted", "types": "Types", "uris": "URIs",
}


def deb822_text(args: dict[str, Any]) -> str:
    """The `.sources` file's text for the options given."""
    lines = []
    for option in sorted(DEB822_FIELDS):
        value = args.get(option)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list):
            text = " ".join(str(v) for v in value)
        else:
            text = str(value)
        text = text.rstrip("\n")
        if "\n" in text:
            lines.append(f"{DEB822_FIELDS[option]}:")
            lines += [f"    {line.strip() or '.'}" for line in text.split("\n")]
        else:
            lines.append(f"{DEB822_FIELDS[option]}: {text}")
    return "".join(f"{line}\n" for line in lines)


def _deb822_repository(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    name = str(args["name"])
    path = f"{SOURCES_DIR}/{name.lower().replace(' ', '-')}.sources"
    if args["state"] == "absent":
        return [OpCall(source_file, {"path": path, "compute": lambda _: b""})]
    if not args["uris"] or not args["suites"]:
        raise ValueError("deb822_repository needs 'uris' and 'suites' when state=present")
    signed_by = str(args["signed_by"] or "")
    if "://" in signed_by.split("\n", 1)[0]:
        raise ValueError("deb822_repository: a signed_by URL is not supported: give the key "
                         "file's path or its armored text")
    text = deb822_text({**args, "types": args["types"] or ["deb"]}).encode()
    return [OpCall(source_file, {"path": path, "compute": lambda _: text,
                                 "mode": args["mode"] or "0644"})]


def _apt_key(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    if args["state"] == "absent":
        raise ValueError("apt_key state=absent is not supported: remove the keyring file")
    if args["data"] is not None:
        raise ValueError("apt_key data is not supported: put the key in a file (`file:`)")
    src = args["file"] or args["url"]
    if not src and not (args["keyserver"] and args["id"]):
        raise ValueError("apt_key needs 'url', 'file', or 'keyserver' with 'id'")
    return [OpCall(apt.key, {"src": src, "keyserver": args["keyserver"] if not src else None,
                             "keyid": args["id"], "dest": args["keyring"]})]


DEB822_TYPES = {"allow_downgrade_to_insecure": "bool", "allow_insecure": "bool",
                "allow_weak": "bool", "architectures": "list", "by_hash": "bool",
                "check_date": "bool", "check_valid_until": "bool", "components": "list",
                "date_max_future": "int", "enabled": "bool", "inrelease_path": "str",
                "languages": "list", "mode": "raw", "name": "str", "pdiffs": "bool",
                "signed_by": "str", "state": "str", "suites": "list", "targets": "list",
                "trusted": "bool", "types": "list", "uris": "list"}

MODULES = [
    Module("apt_repository", {"repo": REQUIRED, "state": "present", "filename": None,
                              "update_cache": True, "mode": None, "codename": None},
           _apt_repository, aliases={"update-cache": "update_cache"},
           choices={"state": ("present", "absent")},
           types={"repo": "str", "state": "str", "filename": "str", "update_cache": "bool",
                  "mode": "raw", "codename": "str"}),
    Module("deb822_repository", {**{option: None for option in DEB822_TYPES},
                                 "name": REQUIRED, "state": "present", "mode": "0644"},
           _deb822_repository, choices={"state": ("present", "absent")}, types=DEB822_TYPES),
    Module("apt_key", {"url": None, "data": None, "file": None, "id": None, "keyring": None,
                      "keyserver": None, "state": "present"}, _apt_key,
           choices={"state": ("present", "absent")},
           types={"url": "str", "data": "str", "file": "path", "id": "str", "keyring": "path",
                  "keyserver": "str", "state": "str"}),
]
