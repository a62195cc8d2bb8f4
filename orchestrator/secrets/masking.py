"""Keeping plaintext out of output: the strings to mask, the masking, and containers that print masked.

Masking errs on the side of hiding: a port number kept in a secret file is masked wherever it
appears. Booleans and nulls are not masked (two possible values hide nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
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
