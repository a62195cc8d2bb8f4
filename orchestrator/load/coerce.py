"""What users write, converted to the type a keyword or a module argument holds, as Ansible does.

YAML and templates hand over strings where a number or a boolean is meant (`"3600"`,
`"{{ tolerate }}"` rendering to `"false"`); Ansible converts them by the argument's documented
type (ansible-core's `module_utils/common/validation.py`, `check_type_*`) and its keywords by
`boolean()` (`module_utils/parsing/convert_bool.py`). orc converts the same way, here, in one
place, for module arguments, task and play keywords, health checks and rollout keys.

Every converter raises `ConversionError` (a `ValueError`) with a short reason; callers add the
file, line and the name of what was being converted.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Ansible's BOOLEANS_TRUE / BOOLEANS_FALSE: strings compared lower-cased and stripped
TRUE_STRINGS = frozenset(("y", "yes", "on", "1", "true", "t"))
FALSE_STRINGS = frozenset(("n", "no", "off", "0", "false", "f"))
KINDS = ("str", "path", "int", "float", "bool", "list", "dict", "raw")


class ConversionError(ValueError):
    """A value that cannot be read as the type asked for."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def boolean(value: Any) -> bool:
    """Ansible's strict `boolean()`: True for True, 1, 'y', 'yes', 'on', '1', 'true', 't'; False
    for False, 0, 'n', 'no', 'off', '0', 'false', 'f' (strings in any case); nothing else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        normal = value.strip().lower()
        if normal in TRUE_STRINGS:
            return True
        if normal in FALSE_STRINGS:
            return False
    elif isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise ConversionError(f"{_shown(value)} is not a boolean (expected yes/no, true/false, "
                          "on/off or 1/0)")


def integer(value: Any) -> int:
    """Ansible's `check_type_int`: an int, a whole float, or a string of digits."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConversionError(f"{_shown(value)} is not an integer")


def number(value: Any) -> float:
    """Ansible's `check_type_float`: a number, or a string holding one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ConversionError(f"{_shown(value)} is not a number")


def string(value: Any) -> str:
    """Ansible's `check_type_str` (with its default conversion): scalars become their text;
    a list or a mapping where one string is meant is refused."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):  # bool included: Ansible writes "True"
        return str(value)
    raise ConversionError(f"{_shown(value)} is not a string")


def string_list(value: Any) -> list[str]:
    """Ansible's `check_type_list` with `elements: str`: a list, a comma-separated string, or
    one number."""
    if isinstance(value, str):
        return value.split(",")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, (list, tuple)):
        try:
            return [string(item) for item in value]
        except ConversionError as err:
            raise ConversionError(f"an element {err}") from None
    raise ConversionError(f"{_shown(value)} is not a list")


def mapping(value: Any) -> dict:
    """Ansible's `dict` type: a mapping as it is, or a string holding JSON or `k=v` pairs
    (separated by commas or spaces), as ansible-core's argument spec documents it."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                found = json.loads(text)
            except ValueError:
                raise ConversionError(f"{value!r} is not a dictionary") from None
            if isinstance(found, dict):
                return found
        pairs = [p for p in re.split(r"[,\s]+", text) if p]
        if pairs and all("=" in p for p in pairs):
            return dict(p.split("=", 1) for p in pairs)
    raise ConversionError(f"{value!r} is not a dictionary")


_CONVERTERS = {"str": string, "path": string, "int": integer, "float": number,
               "bool": boolean, "list": string_list, "dict": mapping}


def convert(value: Any, kind: str) -> Any:
    """`value` as `kind` (one of KINDS, Ansible's names); None stays None (an unset argument)."""
    if value is None or kind == "raw":
        return value
    return _CONVERTERS[kind](value)
