"""All the YAML orc reads, through one parser with one set of rules, and line numbers kept.

Playbooks, roles, scenarios, inventories, secret files, `signers.yaml` and `.sops.yaml` differ
only in schema (Ansible's YAML 1.1, or go-yaml's for sops); every one of them goes through
`parse`, which reads one document, refuses duplicate keys, bounds alias expansion and nesting,
and reports any problem as one line with the file and line.

Playbooks are small, so every mapping remembers where it started and where each key is; an
unknown module or a bad argument can then be reported as `roles/web/tasks/main.yaml:12`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import InputError, OrcError
from orchestrator.load import inputfile


class Located(dict):
    """A mapping that knows its file and line, and the line of each of its keys."""

    path: str = ""
    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


MAX_DEPTH = 100
MAX_ALIAS_NODES = 1_000_000
MERGE = "tag:yaml.org,2002:merge"


def refuse_duplicates(loader: Any, node: yaml.MappingNode, *, merge_keys: bool = True) -> None:
    """Refuse a mapping that names a key twice, at the second one's line.

    PyYAML keeps the last value, go-yaml (sops) refuses, Ansible warns and keeps the last: orc
    refuses everywhere, so a file never means two things to two readers. `<<` merge keys are
    not keys of the mapping where `merge_keys` holds (Ansible's YAML 1.1); they are in sops'.
    """
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if merge_keys and key_node.tag == MERGE:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark) from None
        line = key_node.start_mark.line + 1
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {first})", key_node.start_mark)
        seen[key] = line


# what a constructor may raise that is not about the value: passed on as it is
_PASSED_ON = (yaml.YAMLError, OrcError, RecursionError, MemoryError)


class Checked:
    """Mixin for every loader orc builds on PyYAML's SafeConstructor: duplicate keys are
    refused, and a value its tag cannot build (`!!int x`) is a YAML error at its line."""

    merge_keys = True

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        refuse_duplicates(self, node, merge_keys=self.merge_keys)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except _PASSED_ON:
            raise
        except Exception:
            # PyYAML's constructors call int(), float(), datetime(), dict lookups on the text as
            # it is: `!!int x` is a ValueError, `!!bool x` a KeyError, `!!timestamp x` worse
            raise yaml.constructor.ConstructorError(
                None, None, f"not a valid {node.tag.rsplit(':', 1)[-1]} value",
                node.start_mark) from None


class Loader(Checked, yaml.SafeLoader):
    """Ansible's YAML 1.1 (PyYAML's safe schema, `<<` merges) with `Located` mappings."""

    path = ""


def _construct_located(loader: Loader, node: yaml.MappingNode) -> Located:
    refuse_duplicates(loader, node)
    loader.flatten_mapping(node)
    mapping = Located()
    mapping.path = loader.path
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise InputError(
                "a mapping key must be a plain value", path=loader.path,
                line=key_node.start_mark.line + 1,
            ) from None
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_located)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def check_shape(root: yaml.Node) -> None:
    """Refuse what would make every later walk over the data explode: a node that contains
    itself, nesting over MAX_DEPTH levels, or aliases that expand the document by more than
    MAX_ALIAS_NODES nodes ("billion laughs"). Linear in the nodes as written.

    Raises `yaml.MarkedYAMLError`s, so they are reported like syntax errors.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    open_nodes: set[int] = set()
    written = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            height[key] = 1 + max((height[id(c)] for c in children), default=0)
            open_nodes.discard(key)
            if height[key] > MAX_DEPTH:
                raise yaml.MarkedYAMLError(None, None, f"nested more than {MAX_DEPTH} levels "
                                           "deep", node.start_mark)
            continue
        if key in size:
            continue
        open_nodes.add(key)
        written += 1
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise yaml.MarkedYAMLError(None, None, "an alias refers to a node that "
                                           "contains it (a recursive structure)",
                                           child.start_mark)
            if id(child) not in size:
                stack.append((child, False))
    if size[id(root)] - written > MAX_ALIAS_NODES:
        raise yaml.MarkedYAMLError(
            None, None, f"aliases expand the document by more than {MAX_ALIAS_NODES} nodes",
            root.start_mark)


def line_of(text: str, keys: Sequence[Any], *, loader: type = Loader) -> int | None:
    """1-based line of the value found by following mapping `keys` down from the document
    root of `text` (read with `loader`'s schema), for an error about a value whose mapping
    kept no lines. Stops at the deepest node it can reach, so a wrong key still points near
    the problem; None when `text` is no YAML."""
    try:
        node = yaml.compose(text, Loader=loader)
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


def _line_of_position(text: str, position: int | None) -> int | None:
    return None if position is None else text.count("\n", 0, position) + 1


def parse(text: str | bytes, *, path: Path | str, loader: type = Loader,
          error: type[OrcError] = InputError) -> Any:
    """The one way orc reads YAML: one document, duplicate keys refused, aliases and nesting
    bounded (`check_shape`), every problem one `error` with the file and line.

    `loader` picks the schema: `Loader` for playbooks and roles, the inventory's and the
    secrets' loaders (built with `Checked`) for theirs. Messages never quote the
    document's text, only PyYAML's description of the problem.
    """
    if isinstance(text, bytes):
        text = inputfile.decode(text, error=error, name=str(path))
    instance = None
    try:
        instance = loader(text)  # PyYAML's reader checks the characters here already
        instance.path = str(path)
        root = instance.get_single_node()
        if root is None:
            return None
        check_shape(root)
        return instance.construct_document(root)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "not valid"
        context = err.context if err.problem else None
        if "expected a single document" in (context or ""):
            problem, context = "more than one YAML document", None
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        raise error(message, path=path, line=mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as err:
        raise error("invalid YAML: a control character is not allowed in YAML text", path=path,
                    line=_line_of_position(text, err.position)) from None
    except yaml.YAMLError as err:
        raise error(f"invalid YAML: {err}", path=path) from None
    except RecursionError:
        raise error(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", path=path) from None
    except OrcError:
        raise
    except Exception:
        # a value built after its node (PyYAML finishes collections last): no line to name
        raise error("invalid YAML: a value does not match its tag", path=path) from None
    finally:
        if instance is not None:
            instance.dispose()


def load(path: Path | str, *, loader: type = Loader, error: type[OrcError] = InputError) -> Any:
    """Load one YAML file (a regular file within orc's size limit); any problem is one line
    with the file and line."""
    return parse(inputfile.read_text(path, error=error), path=path, loader=loader, error=error)


def load_mapping(path: Path | None) -> dict[str, Any]:
    """A file of variables: a mapping, or nothing at all (empty file, or no file)."""
    if path is None:
        return {}
    data = load(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("expected a mapping of variables", path=path, line=1)
    return dict(data)


def find(directory: Path, stem: str) -> Path | None:
    """`stem.yaml` or `stem.yml` (Ansible accepts both), or None."""
    for suffix in (".yaml", ".yml"):
        candidate = directory / f"{stem}{suffix}"
        # anything there counts, so a FIFO or a dangling link is refused when read, not skipped
        if inputfile.exists(candidate):
            return candidate
    return None


def where(value: Any) -> dict:
    """`path=` and `line=` keywords for an error about a loaded mapping."""
    if isinstance(value, Located):
        return {"path": value.path, "line": value.line}
    return {}
