"""`orc secrets edit`: plaintext exists only in a private temp file, for as long as the editor runs.

The file lives in a 0700 directory on tmpfs when there is one (so it never reaches a disk), is
created 0600, and is overwritten with zeros before it is removed, together with whatever swap or
backup files the editor left beside it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.errors import SecretsError
from orchestrator.load import inputfile
from orchestrator.secrets import api, keys, signature, writer, yamlio


def _tmpfs() -> str | None:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _wipe(path: Path) -> None:
    try:
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.write(b"\0" * size)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        pass
    path.unlink(missing_ok=True)


@contextmanager
def private_file(text: str, *, suffix: str = ".yaml") -> Iterator[Path]:
    """A 0600 file in a fresh 0700 directory, wiped and removed on the way out, whatever happens."""
    directory = Path(tempfile.mkdtemp(prefix="orc-secret-", dir=_tmpfs()))
    path = directory / f"plaintext{suffix}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        yield path
    finally:
        for leftover in directory.rglob("*"):
            if leftover.is_file() and not leftover.is_symlink():
                _wipe(leftover)
        shutil.rmtree(directory, ignore_errors=True)


def run_editor(path: Path) -> None:
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    argv = [*shlex.split(command), str(path)]
    try:
        status = subprocess.run(argv, check=False).returncode
    except FileNotFoundError:
        raise SecretsError(f"editor {argv[0]!r} not found; set $EDITOR") from None
    if status != 0:
        raise SecretsError(f"the editor exited with status {status}; nothing was changed")


def edit(path: Path, *, repo_root: Path, key: keys.SigningKey,
         identities: keys.Identities | None = None,
         retry: Callable[[SecretsError], bool] = lambda err: False) -> signature.Signature | None:
    """Open the plaintext in `$EDITOR`, then re-encrypt and re-sign; None when nothing changed.

    A new path starts empty and takes its recipients from `.sops.yaml`. `retry` decides whether
    an edit orc cannot take (not YAML, not a mapping, a reserved key) goes back to the editor
    instead of being dropped.
    """
    name = api.relative_name(path, repo_root)
    writer.check_may_sign(key, name, repo_root)
    opened = None
    if Path(path).exists():
        opened = api.open_verified(path, repo_root=repo_root, identities=identities)
        before = yamlio.dump(opened.values)
    else:
        writer.new_document({}, name=name, repo_root=repo_root)  # fail now, not after editing
        before = ""
    with private_file(before, suffix=Path(path).suffix or ".yaml") as scratch:
        while True:
            run_editor(scratch)
            # bytes: text that is not UTF-8 is refused (and offered again) like a YAML error
            after = inputfile.read_bytes(scratch, error=SecretsError, name=f"{name} (as edited)")
            if after == before.encode():
                return None
            try:
                values = yamlio.load(after, source=f"{name} (as edited)")
                if opened is None:
                    doc = writer.new_document(values, name=name, repo_root=repo_root)
                else:
                    doc = writer.resealed(opened, values)
                break
            except SecretsError as err:
                if not retry(err):
                    raise
    return writer.write_signed(Path(path), doc, repo_root=repo_root, key=key)
