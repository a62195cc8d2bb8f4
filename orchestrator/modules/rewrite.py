"""A file's new bytes computed from its current bytes on the host, and written only if they differ.

lineinfile, replace and blockinfile (and copy/template with `validate`, `backup` or
`remote_src`) are one pyinfra operation, `rewrite`: it reads the file once through the
`FileBytes` fact (one command: type, mode, owner, group and base64 bytes), computes the new bytes
on the controller with a pure function (orchestrator/modules/edits.py), and yields a `files.put`
of them when they differ, or only the chmod/chown the task's `mode`/`owner`/`group` need. pyinfra
runs an operation's generator when it is added (the prediction `orc plan` shows, from the bytes
the host holds then) and again when it runs (from the bytes the host holds then, after the
earlier tasks), so a file an earlier task writes is edited as that task left it.

As Ansible's modules do (`ansible-doc lineinfile`, "validate" and "backup"):
- `validate`: the new bytes go to a temporary file on the host; the command (`%s` is that file's
  path, split as a shell would, without shell features) must succeed before the file is copied
  into place; if it fails the task fails and the file is left as it was.
- `backup`: before a changed file is written, a copy of it is left beside it, named as Ansible
  names it: `<path>.<pid>.<YYYY-MM-DD@HH:MM:SS>~` (the host's local time, the pid of the shell
  that copies it), with the original's mode and times.
- a new file gets 0644 (Ansible's 0666 less the umask); an existing one keeps its mode and owner
  unless the task gives them.
"""

from __future__ import annotations

import base64
import binascii
import io
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pyinfra import host
from pyinfra.api import FactBase, operation
from pyinfra.api.command import FileUploadCommand, FunctionCommand, StringCommand
from pyinfra.operations import files

from orchestrator.modules import modes
from orchestrator.modules.edits import EditError

Compute = Callable[[bytes | None], bytes | None]


@dataclass(frozen=True)
class Current:
    """What the path is on the host: kind file/directory/other/absent; a file's attributes
    and bytes."""

    kind: str
    mode: int | None = None
    user: str | None = None
    group: str | None = None
    content: bytes | None = None


class FileBytes(FactBase):
    """A path's type, and for a file (symbolic links followed) its mode, owner, group and bytes,
    in one command."""

    def command(self, path: str) -> str:
        q = shlex.quote(path)
        return (f"if [ -d {q} ]; then echo directory; "
                f"elif [ -f {q} ]; then stat -L -c 'file %a %U %G' -- {q} && "
                f"{{ base64 -w0 < {q}; echo .; }}; "
                f"elif [ -e {q} ] || [ -L {q} ]; then echo other; else echo absent; fi")

    def process(self, output: list[str]) -> Current:
        head = (output[0] if output else "absent").split()
        if head[0] != "file":
            return Current(head[0])
        encoded = "".join(output[1:]).strip()
        try:
            content = base64.b64decode(encoded.removesuffix("."), validate=True)
        except binascii.Error as err:
            raise EditError(f"could not read the file's bytes: {err}") from None
        return Current("file", int(head[1], 8), head[2], head[3], content)


def new_mode(value: Any, current: int | None) -> int | None:
    """The mode the file should have: the task's (octal or symbolic, applied to the current
    mode), else the current mode kept, else a new file's 0644."""
    if value is None:
        return None if current is not None else modes.NEW_FILE
    if modes.is_symbolic(value):
        return modes.apply_symbolic(str(value), current if current is not None
                                    else modes.NEW_FILE, False)
    return modes.octal(value)


def _refuse(message: str) -> Iterator[Any]:
    """Fail the task with `message`. While operations are added, the host may not yet be as
    the earlier tasks will leave it (a file they create), so the failure is only a prediction:
    the operation is re-read when it runs, and fails then if it still must."""
    if host.state.is_executing:
        raise EditError(message)
    yield FunctionCommand(_failed, (message,), {})


def _failed(state: Any, host: Any, message: str) -> bool:
    raise EditError(message)


def _validated(path: str, content: bytes, validate: str) -> Iterator[Any]:
    """Write `content` to a temporary file, run `validate` on it, and copy it into place only
    when that succeeds (the temporary file is removed either way)."""
    q = shlex.quote
    temp = host.get_temp_filename(f"orc-validate:{path}")
    yield FileUploadCommand(io.BytesIO(content), temp,
                            remote_temp_filename=host.get_temp_filename(temp))
    command = shlex.join(shlex.split(validate % temp))
    yield StringCommand(f"{command} || {{ rc=$?; rm -f -- {q(temp)}; "
                        f"echo \"failed to validate: rc:$rc\" >&2; exit $rc; }}")
    yield StringCommand(f"cp -- {q(temp)} {q(path)} && rm -f -- {q(temp)}")


@operation()
def rewrite(path: str, compute: Compute | None = None, user: str | None = None,
            group: str | None = None, mode: Any = None, validate: str | None = None,
            backup: bool = False, remote_src: str | None = None, force: bool = True
            ) -> Iterator[Any]:
    """Make `path` hold `compute(current bytes or None)` (None: the file stays absent), or
    with `remote_src` the bytes of that file on the host; see the module's docstring. With
    `force` false (copy's and template's) an existing path is left exactly as it is."""
    current: Current = host.get_fact(FileBytes, path=path) or Current("absent")
    if not force and current.kind != "absent":
        return
    if current.kind == "directory":
        yield from _refuse(f"Path {path} is a directory !")
        return
    if current.kind == "other":
        yield from _refuse(f"Path {path} is not a regular file")
        return
    try:
        if remote_src is not None:
            source: Current = host.get_fact(FileBytes, path=remote_src) or Current("absent")
            if source.kind != "file":
                raise EditError(f"Source {remote_src} not found" if source.kind == "absent"
                                else f"Source {remote_src} is not a regular file")
            content: bytes | None = source.content
        else:
            assert compute is not None
            content = compute(current.content)
    except EditError as err:
        yield from _refuse(str(err))
        return
    if content is None:
        return  # absent, and to stay absent
    mode_number = new_mode(mode, current.mode)
    chmod = modes.pyinfra_mode(mode_number) if mode_number != current.mode else None
    if content == current.content:
        if chmod:
            yield StringCommand("chmod", chmod, shlex.quote(path))
        if (user and user != current.user) or (group and group != current.group):
            owner = f"{user or ''}{':' + group if group else ''}"
            yield StringCommand("chown", owner, shlex.quote(path))
        return
    if validate is not None:
        if "%s" not in validate:
            yield from _refuse(f"validate must contain %s: {validate}")
            return
        try:
            shlex.split(validate % "%s")  # as it will be run
        except (TypeError, ValueError) as err:  # a stray % or an unclosed quote
            yield from _refuse(f"validate {validate!r}: {err}")
            return
    if backup and current.content is not None:
        q = shlex.quote(path)
        yield StringCommand(f"cp --preserve=mode,timestamps -- {q} "
                            f"{q}.$$.\"$(date +%Y-%m-%d@%H:%M:%S)\"~")
    parent = path.rsplit("/", 1)[0]
    if parent and current.kind == "absent" and \
            (host.get_fact(FileBytes, path=parent) or Current("absent")).kind != "directory":
        # Ansible's makedirs: the directories as the umask makes them, owned by the task's user
        yield StringCommand(f"mkdir -p -- {shlex.quote(parent)}")
    if validate is None:
        yield from files.put._inner(src=io.BytesIO(content), dest=path, user=user, group=group,
                                    mode=modes.pyinfra_mode(mode_number),
                                    create_remote_dir=False)
        return
    yield from _validated(path, content, validate)
    if mode_number is not None:
        yield StringCommand("chmod", modes.pyinfra_mode(mode_number), shlex.quote(path))
    if user or group:
        yield StringCommand("chown", f"{user or ''}{':' + group if group else ''}",
                            shlex.quote(path))
