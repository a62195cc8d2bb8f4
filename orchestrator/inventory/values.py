"""Variable values that need more than plain JSON types, and their `--list` JSON encoding.

Ansible marks `!unsafe` strings (never templated) and `!vault` ciphertexts; `ansible-inventory
--list` writes them as `{"__ansible_unsafe": ...}` and `{"__ansible_vault": ...}`, and reads those
shapes back from dynamic inventories. Both are str subclasses here so code that only reads a
value sees a string, while the marking survives a round trip through JSON.
"""

from __future__ import annotations

import datetime
import json
from typing import Any


class Unsafe(str):
    """A string Ansible must never template (YAML `!unsafe`)."""


class Vaulted(str):
    """An Ansible Vault ciphertext (YAML `!vault`), kept encrypted."""


_MARKERS: dict[type, str] = {Unsafe: "__ansible_unsafe", Vaulted: "__ansible_vault"}


def decode_marked(obj: dict[str, Any]) -> Any:
    """json `object_hook` turning Ansible's marker objects back into marked strings."""
    if len(obj) == 1:
        (key, value), = obj.items()
        for kind, marker in _MARKERS.items():
            if key == marker and isinstance(value, str):
                return kind(value)
    return obj


def _mark(value: Any, unsafe: bool) -> Any:
    if type(value) is Vaulted or (unsafe and type(value) is Unsafe):
        return {_MARKERS[type(value)]: str(value)}
    if isinstance(value, dict):
        return {key: _mark(item, unsafe) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark(item, unsafe) for item in value]
    return value


def _encode_other(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"a value of type {type(value).__name__} cannot be written as JSON")


def dumps(data: Any, mark_unsafe: bool = True) -> str:
    """JSON text exactly as `ansible-inventory` prints it (sorted keys, indent 4, UTF-8).

    Vaulted values are always marked; unsafe ones only where ansible-inventory marks them, in
    `--list` output but not in `--host` output (`mark_unsafe=False`).
    """
    return json.dumps(_mark(data, mark_unsafe), sort_keys=True, indent=4, ensure_ascii=False,
                      default=_encode_other)
