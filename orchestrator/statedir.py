"""The controller's private state (`.orc/`): a 0700 directory of 0600 files.

The run index and the record of deployed secret versions say which hosts exist, what ran there
and when; nothing in them may be readable by another user of the controller. sqlite creates its
-wal, -shm and -journal files with the mode of the database file, so a database made 0600 before
sqlite opens it keeps all of them 0600 (sqlite's unix VFS, `findCreateFileMode`).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Make `path` (and missing parents) and narrow it to 0700, even if it existed wider.

    A shared directory given as the state dir (`--state-dir /tmp`: sticky, or another user's)
    is left as it is; the files orc makes in it are 0600 all the same."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if (info.st_mode & 0o777 != DIR_MODE and info.st_uid == os.geteuid()
            and not info.st_mode & stat.S_ISVTX):
        os.chmod(path, DIR_MODE)
    return path


def _narrow(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o777 != FILE_MODE:
            os.chmod(path, FILE_MODE)
    except FileNotFoundError:
        pass


def connect(path: Path, **kwargs) -> sqlite3.Connection:
    """sqlite3.connect on a database that is 0600 (as are its side files) in a 0700 directory."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    for file in (path, *(path.with_name(path.name + s) for s in _SQLITE_SIDE_FILES)):
        _narrow(file)  # made by an older orc, or under a wider umask
    return sqlite3.connect(path, **kwargs)
