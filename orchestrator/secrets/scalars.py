"""How one value becomes bytes and back, with sops' type tags (`str`, `int`, `float`, `bool`, `time`).

Both the ciphertext and the MAC are computed over these bytes, so they follow Go's formatting
exactly: floats without exponent or trailing zeros, booleans as `True`/`False`, times as RFC 3339
with nanoseconds. Errors never include the value: it is a secret.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal

from orchestrator.secrets.yamlio import format_time, parse_timestamp

Scalar = str | int | float | bool | datetime

_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
_ATOI = re.compile(r"[+-]?[0-9]+")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


class ValueFormatError(ValueError):
    """A decrypted value does not parse as its type tag says; carries no part of the value."""


def type_tag(value: Scalar) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, datetime):
        return "time"
    if isinstance(value, str):
        return "str"
    raise ValueFormatError(f"values of type {type(value).__name__} cannot be stored")


def format_float(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits that round-trip, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def to_bytes(value: Scalar) -> bytes:
    """sops' ToBytes: what is encrypted, and what the MAC hashes."""
    tag = type_tag(value)
    if tag == "bool":
        return b"True" if value else b"False"
    if tag == "float":
        return format_float(value).encode()
    if tag == "time":
        return format_time(value).encode()
    return str(value).encode("utf-8")


def from_bytes(tag: str, data: bytes) -> Scalar:
    """The value a decrypted payload stands for, read as Go's strconv would read it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueFormatError("decrypted value is not UTF-8") from None
    if tag == "str":
        return text
    if tag == "int" and _ATOI.fullmatch(text):
        return int(text)
    if tag == "float":
        try:
            return float(text)
        except ValueError:
            pass
    if tag == "bool" and text in _GO_BOOLS:
        return _GO_BOOLS[text]
    if tag == "time" and _RFC3339.fullmatch(text):
        stamp = parse_timestamp(text)
        if stamp is not None:
            return stamp
    if tag not in ("int", "float", "bool", "time"):
        raise ValueFormatError(f"unknown value type {tag!r}")
    raise ValueFormatError(f"decrypted value is not a valid {tag}")
