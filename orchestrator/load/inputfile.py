"""Reading the files a user gives orc: regular files only, of bounded size, as checked text.

Every file orc reads from a project (playbooks, role files, templates, copy sources, inventories,
role-test scenarios, secret files, their `.sig`, `secrets/signers.yaml`, `.sops.yaml`) comes
through here, so a FIFO, a device, a link to `/dev/zero` or a file of gigabytes is refused in one
line instead of hanging orc or being skipped, and text that is not UTF-8 is named at its line.

Limits, in bytes: `ORC_MAX_FILE_BYTES` (default 16 MiB) for text orc parses (YAML, INI, JSON,
templates, signatures), `ORC_MAX_COPY_BYTES` (default 1 GiB) for files `copy` uploads as they are.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from orchestrator.errors import InputError, OrcError

MiB = 1024 * 1024
DEFAULT_TEXT_LIMIT = 16 * MiB
DEFAULT_COPY_LIMIT = 1024 * MiB
TEXT_LIMIT_VARIABLE = "ORC_MAX_FILE_BYTES"
COPY_LIMIT_VARIABLE = "ORC_MAX_COPY_BYTES"

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _limit(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise OrcError(f"{variable}={raw!r} must be a positive number of bytes")
    return value


def text_limit() -> int:
    """The largest text file orc parses, in bytes (`$ORC_MAX_FILE_BYTES`, default 16 MiB)."""
    return _limit(TEXT_LIMIT_VARIABLE, DEFAULT_TEXT_LIMIT)


def copy_limit() -> int:
    """The largest file `copy` uploads, in bytes (`$ORC_MAX_COPY_BYTES`, default 1 GiB)."""
    return _limit(COPY_LIMIT_VARIABLE, DEFAULT_COPY_LIMIT)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _os_error(err: OSError, path: Path, error: type[OrcError], name: str) -> OrcError:
    if err.errno == errno.ENOENT:
        if os.path.islink(path):
            return error("is a symbolic link to a file that does not exist", path=name)
        return error("does not exist", path=name)
    if err.errno == errno.ELOOP:
        return error("is a loop of symbolic links", path=name)
    return error(f"cannot read: {err.strerror or err}", path=name)


def check(path: Path | str, *, copy: bool = False, error: type[OrcError] = InputError,
          name: str | None = None) -> int:
    """Refuse `path` unless it is (a link to) a regular file within the limit; its size.

    For files another library opens itself (a role's deploy.py, a copy source pyinfra uploads).
    """
    path = Path(path)
    name = str(path) if name is None else name
    try:
        info = os.stat(path)
    except OSError as err:
        raise _os_error(err, path, error, name) from None
    _check_stat(info, copy, error, name)
    return info.st_size


def _check_stat(info: os.stat_result, copy: bool, error: type[OrcError], name: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise error(f"is {_kind(info.st_mode)}, not a regular file", path=name)
    if info.st_size > _limits(copy)[0]:
        raise error(_too_big(info.st_size, copy), path=name)


def _limits(copy: bool) -> tuple[int, str]:
    if copy:
        return copy_limit(), COPY_LIMIT_VARIABLE
    return text_limit(), TEXT_LIMIT_VARIABLE


def _too_big(size: int | None, copy: bool) -> str:
    limit, variable = _limits(copy)
    what = f"{size} bytes" if size is not None else "larger"
    return f"is {what}, over orc's limit of {limit} bytes (raise it with ${variable})"


def read_bytes(path: Path | str, *, copy: bool = False,
               error: type[OrcError] = InputError, name: str | None = None) -> bytes:
    """The bytes of a regular file within the text limit (the copy limit with `copy=True`).

    `name` is how errors name the file (a path relative to the repository, say). A missing
    file, a directory, FIFO, device or socket, or a file over the limit raises `error`.
    """
    path = Path(path)
    name = str(path) if name is None else name
    limit = _limits(copy)[0]
    check(path, copy=copy, error=error, name=name)
    try:
        # O_NONBLOCK: if a FIFO replaced the file since the check, opening it does not wait
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise _os_error(err, path, error, name) from None
    try:
        _check_stat(os.fstat(fd), copy, error, name)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(MiB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # the file grew while it was read
                raise error(_too_big(None, copy), path=name)
        return b"".join(chunks)
    except OSError as err:
        raise _os_error(err, path, error, name) from None
    finally:
        os.close(fd)


def decode(data: bytes, *, error: type[OrcError] = InputError, name: str = "") -> str:
    """`data` as UTF-8 text without NUL bytes; otherwise `error` naming the line and column.

    The message never quotes the bytes: the file may hold secrets.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise error(f"not UTF-8 text ({err.reason} at column {column}): orc reads text files "
                    "as UTF-8", path=name or None, line=line) from None
    at = text.find("\x00")
    if at >= 0:
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        raise error(f"not text (a NUL byte at column {column}): orc reads text files as UTF-8 "
                    "without NUL bytes", path=name or None, line=line)
    return text


def read_text(path: Path | str, *, copy: bool = False,
              error: type[OrcError] = InputError, name: str | None = None) -> str:
    """A regular file's UTF-8 text (see `read_bytes` and `decode` for what is refused)."""
    name = str(path) if name is None else name
    return decode(read_bytes(path, copy=copy, error=error, name=name), error=error, name=name)


def exists(path: Path | str) -> bool:
    """Whether anything is at `path`, even a broken link or a FIFO: reading it says what is wrong.

    For "is there a tasks/main.yaml" questions, where `Path.is_file()` would silently skip a
    FIFO, a device or a dangling link and lose the role's tasks.
    """
    return os.path.lexists(path)
