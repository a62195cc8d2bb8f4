"""Keeping plaintext out of output: the strings to mask, the masking, and containers that print masked.

Masking errs on the side of hiding: a port number kept in a secret file is masked wherever it
appears. Booleans and nulls are not masked (two possible values hide nothing).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.secrets import scalars, yamlio

MASK = "********"
# a line of a multi-line secret (a PEM key, a config blob) may show up alone in a diff; lines
# shorter than this (a lone `}`) say nothing and would mask half the output
_MIN_LINE = 4


def _texts(value: Any) -> set[str]:
    if value is None or isinstance(value, bool):
        return set()
    forms = {str(value)}
    if isinstance(value, float):
        forms.add(scalars.format_float(value))
    if isinstance(value, datetime):
        forms |= {yamlio.format_time(value), value.isoformat()}
    for form in list(forms):
        if "\n" in form:
            forms |= {line.strip() for line in form.splitlines() if len(line.strip()) >= _MIN_LINE}
    return {f for f in forms if f}


def secret_strings(tree: Any) -> set[str]:
    """Every plaintext of a tree as it could appear in text output."""
    if isinstance(tree, dict):
        return set().union(*(secret_strings(v) for v in tree.values()))
    if isinstance(tree, list):
        return set().union(*(secret_strings(v) for v in tree))
    return _texts(tree)


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of every secret with `********`, longest first, in one pass."""
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not ordered:
        return text
    return re.sub("|".join(map(re.escape, ordered)), MASK, text)


class SecretTree(dict):
    """A decrypted mapping that reads like a dict but never prints its values (logs, tracebacks)."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {_masked_repr(v)}" for k, v in self.items()) + "}"

    __str__ = __repr__


class SecretList(list):
    def __repr__(self) -> str:
        return "[" + ", ".join(_masked_repr(v) for v in self) + "]"

    __str__ = __repr__


def _masked_repr(value: Any) -> str:
    if isinstance(value, (SecretTree, SecretList)):
        return repr(value)
    return repr(value) if value is None else repr(MASK)


def redacted(tree: Any) -> Any:
    """The same tree with its mappings and lists made into the masking containers."""
    if isinstance(tree, dict):
        return SecretTree((k, redacted(v)) for k, v in tree.items())
    if isinstance(tree, list):
        return SecretList(redacted(v) for v in tree)
    return tree


# Everything this process must never print: the plaintexts of every secret file it decrypted,
# and every value a template rendered from one (`orchestrator.templating.render` reports those). One
# set per process, because an orc process prints for one estate, and an error may surface far
# from the run that knew the secret (the CLI's error line, a traceback with --debug).
_PLAIN: set[str] = set()  # the plaintexts: masked first, so `"token": "********"` reads well
_KNOWN: set[str] = set()  # values rendered from them
# whole lines a template file produced from a secret: matched as lines, so a short one (a port,
# a `}`) is hidden where it stands without masking every other occurrence of its text
_LINES: set[str] = set()
NO_LOG = ("the output has been hidden due to the fact that 'no_log: true' was specified for "
          "this result")


def is_secret(value: Any) -> bool:
    """A value straight from a secret file (a mapping or list of one)."""
    return isinstance(value, (SecretTree, SecretList))


def remember(texts: Iterable[str]) -> None:
    _KNOWN.update(t for t in texts if t)


def remember_plaintexts(texts: Iterable[str]) -> None:
    """The values of a secret file this process decrypted."""
    _PLAIN.update(t for t in texts if t)


def remember_derived(value: Any) -> None:
    """A value that derives from a secret: all of it is secret, however it was transformed."""
    remember(secret_strings(value))


@dataclass(frozen=True)
class Rendered:
    """A render that read a secret: its source, result and output pieces (the template's own
    text, and each expression's output, in order), and the same render with the secrets
    changed (`shadow`), whose differences show what the secrets made."""

    source: str
    result: Any
    pieces: list[Any]
    shadow: Rendered | None


def _derived_pieces(rendered: Rendered) -> list[str]:
    shadow = rendered.shadow
    if shadow is not None and len(shadow.pieces) == len(rendered.pieces):
        return [str(p) for p, q in zip(rendered.pieces, shadow.pieces) if p != q]
    return [str(p) for p in rendered.pieces if str(p) not in rendered.source]


def remember_rendered(rendered: Rendered) -> None:
    """The whole value, and each expression's output the secrets made (a command may print one
    of them alone). Pieces shorter than a few characters are left out: masking each `1` or
    `on` would hide the output itself; the whole value still hides them."""
    remember_derived(rendered.result)
    remember(p.strip() for p in _derived_pieces(rendered) if len(p.strip()) >= _MIN_LINE)


def remember_rendered_file(rendered: Rendered) -> None:
    """A template file: the whole text, the expressions' outputs the secrets made, and each
    line that differs when the secrets do (a diff shows lines), however short."""
    text = str(rendered.result)
    remember([text])  # not line by line: most of its lines are no secret
    remember(p.strip() for p in _derived_pieces(rendered) if len(p.strip()) >= _MIN_LINE)
    lines = text.splitlines()
    if rendered.shadow is not None:
        other = str(rendered.shadow.result).splitlines()
        matcher = difflib.SequenceMatcher(None, lines, other, autojunk=False)
        same = {i for block in matcher.get_matching_blocks()
                for i in range(block.a, block.a + block.size)}
        made = [line for i, line in enumerate(lines) if i not in same]
    else:
        literal = {line.strip() for line in rendered.source.splitlines()}
        made = [line for line in lines if line.strip() not in literal]
    _LINES.update(line.strip() for line in made if line.strip())


def shadow(value: Any) -> Any:
    """A secret value changed but shaped the same: each letter and digit moved one on (a-z, A-Z,
    0-9 each wrap around), numbers plus one, times a day later; booleans and nulls as they are.
    Lists keep their length and mappings their keys, so loops and lookups go the same way."""
    if isinstance(value, dict):
        return SecretTree((k, shadow(v)) for k, v in value.items())
    if isinstance(value, list):
        return SecretList(shadow(v) for v in value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return value.translate(_NEXT)
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, datetime):
        return value + timedelta(days=1)
    return value


_ALPHABETS = ("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789")
_NEXT = str.maketrans("".join(_ALPHABETS), "".join(a[1:] + a[0] for a in _ALPHABETS))


def known() -> set[str]:
    return _PLAIN | _KNOWN


def _hide_line(line: str, passes: list[list[str]]) -> str:
    """A line with the known values in it masked; a line a secret made that holds none of them
    (only short pieces: a loop over characters, a 3-letter prefix) is masked whole."""
    masked = _mask_passes(line, passes)
    if masked != line:
        return masked
    if line.strip() in _LINES:
        return line[: len(line) - len(line.lstrip())] + MASK
    if line[:1] in "+- " and line[1:].strip() in _LINES:  # a line of a unified diff
        return line[0] + MASK
    return line


def _mask_passes(text: str, passes: list[list[str]]) -> str:
    for ordered in passes:
        if ordered:
            text = re.sub("|".join(map(re.escape, ordered)), MASK, text)
    return text


def hide(text: str | None) -> str | None:
    """`text` with every secret, and every value rendered from one, masked (None stays None):
    the plaintexts first, then what was rendered from them, longest first in each pass."""
    if not text:
        return text
    passes = [sorted(found, key=len, reverse=True) for found in (_PLAIN, _KNOWN)]
    if not _LINES:
        return _mask_passes(text, passes)
    # values that span lines first, then line by line
    text = _mask_passes(text, [[s for s in p if "\n" in s] for p in passes])
    return "".join(_hide_line(line.rstrip("\n"), passes) + ("\n" if line.endswith("\n") else "")
                   for line in text.splitlines(keepends=True))


def hide_value(value: Any) -> Any:
    """A value shown in output as it is (a loop item), or masked whole if it holds a secret."""
    if value is None or isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else repr(value)
    return value if hide(text) == text and not is_secret(value) else MASK


def hide_tree(data: Any) -> Any:
    """`hide` over every string of JSON-like data (a report), before it is serialised: a secret
    with a quote or a backslash would not be found again in the JSON text."""
    if isinstance(data, dict):
        return {hide_tree(k): hide_tree(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [hide_tree(v) for v in data]
    return hide(data) if isinstance(data, str) else data
