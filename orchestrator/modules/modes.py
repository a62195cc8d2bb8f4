"""File modes in every form Ansible's file, copy, template and directory tasks take.

- an integer is the mode number itself: YAML reads `mode: 0644` as 420, which is 0o644, and
  `mode: 644` as decimal 644, which is 0o1204 (Ansible's documented pitfall, kept as Ansible
  applies it);
- a string of octal digits, with or without a leading `0` or `0o`: `"0644"`, `"644"`;
- a symbolic mode, as chmod(1) writes it: `u=rw,g=r,o=r`, `u+x,g-w`, `a+X`, `go=u`, `+x`.
  It is computed here from the path's current mode (or, for a path the task creates, the mode
  it is created with), so the operation is given a number: a second run finds nothing to do.

Symbolic rules follow Ansible's file module documentation and chmod(1): `=` clears the class's
bits (and its set-id/sticky bit) first; `X` is execute when the path is a directory or has an
execute bit already; `s` is set-uid for `u` and set-gid for `g`; `t` is the sticky bit (for
`o` or `a`); `u`/`g`/`o` as permissions copy that class's current bits; with no class the
clause applies to all, except the bits the umask holds back.
"""

from __future__ import annotations

import re
import stat
from typing import Any

# what a host's umask leaves (0022 is Debian's and the lab's)
DEFAULT_UMASK = 0o022
NEW_FILE = 0o666 & ~DEFAULT_UMASK
NEW_DIRECTORY = 0o777 & ~DEFAULT_UMASK

_OCTAL = re.compile(r"^(?:0o|0)?([0-7]+)$", re.IGNORECASE)
_CLAUSE = re.compile(r"^([ugoa]*)((?:[-+=][rwxXstugo]*)+)$")
_ACTION = re.compile(r"([-+=])([rwxXstugo]*)")
_CLASS_BITS = {
    "u": stat.S_IRWXU | stat.S_ISUID,
    "g": stat.S_IRWXG | stat.S_ISGID,
    "o": stat.S_IRWXO | stat.S_ISVTX,
}
_SHIFT = {"u": 6, "g": 3, "o": 0}


def is_symbolic(value: Any) -> bool:
    return isinstance(value, str) and not _OCTAL.match(value.strip()) and value != "preserve"


def octal(value: Any) -> int | None:
    """A numeric mode as its number, or None for no mode; raises ValueError for a string that
    is not octal digits (a symbolic mode needs `apply_symbolic`)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"mode {value!r} is not a file mode")
    if isinstance(value, int):
        return value
    match = _OCTAL.match(str(value).strip())
    if match is None:
        raise ValueError(f"mode {value!r} is neither octal digits nor a symbolic mode")
    return int(match.group(1), 8)


def apply_symbolic(mode: str, current: int, is_directory: bool,
                   umask: int = DEFAULT_UMASK) -> int:
    """The mode `mode` (e.g. "u+x,g-w") makes of a path whose mode is `current`."""
    new = stat.S_IMODE(current)
    for clause in mode.split(","):
        match = _CLAUSE.match(clause.strip())
        if match is None:
            raise ValueError(f"mode {mode!r}: {clause!r} is not a symbolic mode clause "
                             "(like u+x, g-w or o=r)")
        who, actions = match.groups()
        # no class: all three, without the r/w/x bits the umask holds back
        held_back = umask if not who else 0
        classes = "ugo" if who in ("", "a") or "a" in who else who
        for operator, perms in _ACTION.findall(actions):
            for cls in dict.fromkeys(classes):
                bits = _bits(cls, perms, new, is_directory, held_back)
                if operator == "=":
                    new = (new & ~_CLASS_BITS[cls]) | bits
                elif operator == "+":
                    new |= bits
                else:
                    new &= ~bits
    return new


def _bits(cls: str, perms: str, mode: int, is_directory: bool, held_back: int) -> int:
    shift = _SHIFT[cls]
    bits = 0
    for perm in perms:
        if perm == "r":
            bits |= (0o4 << shift) & ~held_back
        elif perm == "w":
            bits |= (0o2 << shift) & ~held_back
        elif perm == "x":
            bits |= (0o1 << shift) & ~held_back
        elif perm == "X" and (is_directory or mode & 0o111):
            bits |= 0o1 << shift
        elif perm == "s":
            bits |= {"u": stat.S_ISUID, "g": stat.S_ISGID}.get(cls, 0)
        elif perm == "t":
            bits |= stat.S_ISVTX if cls == "o" else 0
        elif perm in "ugo":
            bits |= ((mode >> _SHIFT[perm]) & 0o7) << shift
    return bits


def pyinfra_mode(number: int | None) -> str | None:
    """pyinfra's spelling of a mode number: its octal digits ("644", "1777")."""
    return None if number is None else format(number, "o")
