"""Reading YAML and JSON inventory data the way Ansible's loader does, with file:line errors.

Ansible tries JSON first and falls back to YAML 1.1 (pyyaml's safe schema plus `!unsafe` and
`!vault`), so `1e3` is a float in a .json file and a string in YAML; we do the same. Values are
built with libyaml when it is there, because large inventories are mostly scalars; line numbers
for errors in the shape of the data come from composing the file again into nodes, which costs
nothing on the happy path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import InventoryError
from orchestrator.inventory.values import Unsafe, Vaulted, decode_marked
from orchestrator.load import inputfile, yamlfile

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mark_unsafe(value: Any) -> Any:
    if isinstance(value, str):
        return Unsafe(value)
    if isinstance(value, dict):
        return {key: _mark_unsafe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mark_unsafe(item) for item in value]
    return value


def _construct_untagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Build a node tagged `!unsafe`/`!vault` as the value its plain form would resolve to."""
    kind = type(node)
    plain = kind(loader.resolve(kind, node.value, (True, False)), node.value, node.start_mark,
                 node.end_mark)
    return loader.construct_object(plain, deep=True)


def _construct_unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return _mark_unsafe(_construct_untagged(loader, node))


def _construct_vault(loader: yaml.SafeLoader, node: yaml.Node) -> Vaulted:
    ciphertext = _construct_untagged(loader, node)
    if not isinstance(ciphertext, str):
        raise yaml.constructor.ConstructorError(
            None, None, f"the {node.tag!r} tag requires a string value", node.start_mark
        )
    return Vaulted(ciphertext)


class InventoryLoader(yamlfile.Checked, _BaseLoader):  # type: ignore[misc, valid-type]
    """pyyaml's safe loader plus the two Ansible tags that inventories use; duplicate keys are
    refused as everywhere in orc (Ansible warns and keeps the last)."""


InventoryLoader.add_constructor("!unsafe", _construct_unsafe)
InventoryLoader.add_constructor("!vault", _construct_vault)
InventoryLoader.add_constructor("!vault-encrypted", _construct_vault)


def read_text(path: Path) -> str:
    """An inventory file's text: a regular file within orc's size limit, UTF-8, no NUL."""
    return inputfile.read_text(path, error=InventoryError)


def _json_object(pairs: list[tuple[str, Any]]) -> Any:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        # YAML reads JSON too, and names the duplicate key with its line
        raise ValueError("duplicate key")
    return decode_marked(dict(pairs))


def parse_data(text: str, path: Path) -> Any:
    """The data in a YAML or JSON document; JSON first, like Ansible."""
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except ValueError:
        pass
    except RecursionError:  # JSON nested thousands deep: YAML's loader names the limit
        pass
    return yamlfile.parse(text, path=path, loader=InventoryLoader, error=InventoryError)


def load_data_file(path: Path) -> Any:
    return parse_data(read_text(path), path)


def line_of(text: str, keys: Sequence[Any]) -> int | None:
    """1-based line of the value at mapping `keys` in an inventory file (`yamlfile.line_of`)."""
    return yamlfile.line_of(text, keys, loader=InventoryLoader)
