"""The fact commands a play's hosts read, remembered from one run to the next.

Within a run, one host reads its facts one command at a time while its operations are added,
and the others read the same commands together in one remote command each
(`factcache.read_together`). That first host's chain of reads is serial: on a small fleet it is
the longest wait of a run that changes nothing. A play mostly reads the same facts each time it
runs, so the commands the first host asked for in each segment are kept in the controller's
state directory, and the next run of the play (an `orc plan`, then its `orc apply`) reads them
together on every host at once, with no first host going alone.

What is kept is only a prediction of which read-only fact commands to run; their answers are
always read from the hosts afresh. A command the prediction missed is read on its own when
asked, one it holds that is no longer asked costs a read, and a lost or unreadable file only
brings the first host's chain back.

Nothing secret is written: a read whose command or connector arguments hold a value a secret
made (`masking.known`), a password argument, or one asked by a segment with a `no_log` task is
left out, as is a read whose arguments are not plain data. The file is 0600 in the 0700 state
directory (`orchestrator.statedir`), one per play: `facts/<sha256 of the play's path, line and
name>.json`, `{"segments": [[[command, {argument: value}], ...], ...]}`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pyinfra.api.command import StringCommand

from orchestrator import statedir
from orchestrator.engine.factcache import Reads
from orchestrator.secrets import masking

_FOLDER = "facts"
_PLAIN = (str, int, float, bool, type(None))


def _file(state_dir: str, play: Any) -> Path:
    identity = json.dumps([str(Path(play.path).resolve()), play.line, play.name])
    return Path(state_dir) / _FOLDER / (hashlib.sha256(identity.encode()).hexdigest() + ".json")


def load(state_dir: str | None, play: Any) -> list[Reads]:
    """The reads each segment of `play` asked for when it last ran (empty: never, or the
    record is unreadable)."""
    if not state_dir:
        return []
    try:
        data = json.loads(_file(state_dir, play).read_text())
        return [[(StringCommand(command), dict(kwargs)) for command, kwargs in segment]
                for segment in data["segments"]]
    except (OSError, ValueError, TypeError, KeyError):
        return []


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def keepable(command: Any, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """`(command, arguments)` as written to the file, or None when the read may not be kept."""
    raw = command.get_raw_value() if hasattr(command, "get_raw_value") else command
    arguments = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()
                 if k not in ("print_output", "print_input")}
    if not isinstance(raw, str) or not _plain(arguments):
        return None
    if any("password" in k and v for k, v in arguments.items()):
        return None
    text = raw + "\n" + json.dumps(arguments, sort_keys=True)
    if any(secret in text for secret in masking.known()):
        return None
    return raw, arguments


def save(state_dir: str | None, play: Any, segments: list[Reads | None]) -> None:
    """Keep what each segment's first host asked for (None: a segment whose reads may not be
    kept, as a `no_log` one). A state directory that cannot be written keeps nothing: the
    next run reads as if this one had not run."""
    if not state_dir:
        return
    kept = []
    for reads in segments:
        found = [k for k in (keepable(c, a) for c, a in reads or ()) if k is not None]
        kept.append(found)
    path = _file(state_dir, play)
    try:
        statedir.private_dir(path.parent)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, statedir.FILE_MODE)
        with os.fdopen(fd, "w") as out:
            json.dump({"segments": kept}, out)
        os.replace(temporary, path)
    except OSError:
        return
