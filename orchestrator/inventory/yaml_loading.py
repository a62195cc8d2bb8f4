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


class InventoryLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """pyyaml's safe loader plus the two Ansible tags that inventories use."""


InventoryLoader.add_constructor("!unsafe", _construct_unsafe)
InventoryLoader.add_constructor("!vault", _construct_vault)
InventoryLoader.add_constructor("!vault-encrypted", _construct_vault)


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InventoryError(f"cannot read: {err.strerror}", path=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InventoryError(f"not UTF-8 text ({err.reason})", path=path, line=line) from None


def yaml_error(path: Path, err: yaml.YAMLError) -> InventoryError:
    """One line naming the file and line of a YAML syntax error."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return InventoryError(message, path=path, line=mark.line + 1 if mark else None)


def parse_data(text: str, path: Path) -> Any:
    """The data in a YAML or JSON document; JSON first, like Ansible."""
    try:
        return json.loads(text, object_hook=decode_marked)
    except ValueError:
        pass
    try:
        return yaml.load(text, Loader=InventoryLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as err:
        raise yaml_error(path, err) from None


def load_data_file(path: Path) -> Any:
    return parse_data(read_text(path), path)


def line_of(text: str, keys: Sequence[Any]) -> int | None:
    """1-based line of the value found by following mapping `keys` down from the document root.

    Stops at the deepest node it can reach, so a wrong key still points near the problem.
    """
    try:
        node = yaml.compose(text, Loader=InventoryLoader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                node, line = value_node, key_node.start_mark.line + 1
                break
        else:
            break
    return line
