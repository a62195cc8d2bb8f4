"""Ansible's jinja2 filters and tests that roles lean on, reimplemented from their documentation
(docs.ansible.com, "Using filters to manipulate data" and "Tests") and checked against
ansible-core 2.19's output in tests/test_filters.py.

Every filter returns what Ansible's returns: a list where Ansible gives a list (never a
generator), YAML without the document-end marker, `None` where a search finds nothing.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os.path
import re
import shlex
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import jinja2
import jinja2.filters
import yaml

_TRUE_WORDS = ("yes", "on", "1", "true")


def to_bool(value: Any) -> bool:
    """Ansible's `bool` filter (ansible-core 2.19): True for True, 1 and the strings yes/on/1/
    true in any case (not stripped); everything else is False ('y', 't', 2, a list, ...), which
    ansible-core also warns about."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() in _TRUE_WORDS
    if isinstance(value, (int, float)):
        return value == 1
    return False


def _mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, jinja2.Undefined):
        raise jinja2.UndefinedError(msg or "mandatory variable is not defined")
    return value


def _combine(*dicts: Any, recursive: bool = False, list_merge: str = "replace") -> dict:
    if list_merge != "replace":
        raise jinja2.FilterArgumentError(f"combine: list_merge={list_merge!r} is not supported")
    result: dict = {}
    for d in _flat_dicts(dicts):
        for key, value in d.items():
            if recursive and isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
                result[key] = _combine(result[key], value, recursive=True)
            else:
                result[key] = value
    return result


def _flat_dicts(items: Iterable) -> list[Mapping]:
    """`combine` takes dicts and lists of dicts alike (`[d1, d2] | combine`)."""
    out: list[Mapping] = []
    for item in items:
        out += _flat_dicts(item) if isinstance(item, (list, tuple)) else [item]
    return out


def _yaml(value: Any, **kwargs: Any) -> str:
    text = yaml.safe_dump(value, allow_unicode=True, **kwargs)
    # a lone scalar ends with the document-end marker in PyYAML; Ansible's output has none
    return text[:-4] if text.endswith("\n...\n") else text


def _to_yaml(value: Any, **kwargs: Any) -> str:
    kwargs.setdefault("default_flow_style", None)
    return _yaml(value, **kwargs)


def _to_nice_yaml(value: Any, indent: int = 4, **kwargs: Any) -> str:
    kwargs.setdefault("default_flow_style", False)
    return _yaml(value, indent=indent, **kwargs)


def _flags(ignorecase: bool, multiline: bool) -> int:
    return (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)


def _regex_search(value: Any, pattern: str, *groups: str, ignorecase: bool = False,
                  multiline: bool = False) -> Any:
    """The match, or with `'\\1'` / `'\\g<name>'` arguments the list of those groups; None when
    nothing matches."""
    match = re.search(pattern, str(value), _flags(ignorecase, multiline))
    if match is None:
        return None
    if not groups:
        return match.group(0)
    picked = []
    for group in groups:
        number = re.fullmatch(r"\\(\d+)", group)
        name = re.fullmatch(r"\\g<(\w+)>", group)
        if number:
            picked.append(match.group(int(number.group(1))))
        elif name:
            picked.append(match.group(name.group(1)))
        else:
            raise jinja2.FilterArgumentError(f"regex_search: unknown group {group!r}")
    return picked


def _regex_findall(value: Any, pattern: str, ignorecase: bool = False,
                   multiline: bool = False) -> list:
    return re.findall(pattern, str(value), _flags(ignorecase, multiline))


def _regex_replace(value: Any, pattern: str = "", replacement: str = "",
                   ignorecase: bool = False, multiline: bool = False, count: int = 0) -> str:
    return re.sub(pattern, replacement, str(value), count=count,
                  flags=_flags(ignorecase, multiline))


def _flatten(value: Any, levels: int | None = None, skip_nulls: bool = True) -> list:
    out: list = []
    for item in value:
        if skip_nulls and item in (None, "None", "null"):
            continue
        if isinstance(item, (list, tuple)) and (levels is None or levels > 0):
            out += _flatten(item, None if levels is None else levels - 1, skip_nulls)
        else:
            out.append(item)
    return out


def _hash(value: Any, algorithm: str = "sha1") -> str:
    try:
        digest = hashlib.new(algorithm)
    except ValueError:
        raise jinja2.FilterArgumentError(f"hash: unknown algorithm {algorithm!r}") from None
    digest.update(str(value).encode())
    return digest.hexdigest()


def _split(value: Any, separator: str | None = None, maxsplit: int = -1) -> list[str]:
    return str(value).split(separator, maxsplit)


def _unique(environment: jinja2.Environment, value: Any, case_sensitive: bool = False,
            attribute: str | None = None) -> list:
    return list(jinja2.filters.do_unique(environment, value, case_sensitive, attribute))


_unique = jinja2.pass_environment(_unique)  # type: ignore[assignment]


def _hashable(*lists: Iterable) -> bool:
    return all(isinstance(item, Hashable) for items in lists for item in items)


def _ordered_unique(items: Iterable) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _union(a: list, b: list) -> list:
    """Ansible's set filters work on Python sets when every element is hashable (so their
    order is the set's), and keep the first list's order otherwise."""
    if _hashable(a, b):
        return list(set(a) | set(b))
    return _ordered_unique(list(a) + list(b))


def _intersect(a: list, b: list) -> list:
    if _hashable(a, b):
        return list(set(a) & set(b))
    return _ordered_unique(x for x in a if x in b)


def _difference(a: list, b: list) -> list:
    if _hashable(a, b):
        return list(set(a) - set(b))
    return _ordered_unique(x for x in a if x not in b)


def _symmetric_difference(a: list, b: list) -> list:
    if _hashable(a, b):
        return list(set(a) ^ set(b))
    both = _intersect(a, b)
    return _ordered_unique(x for x in list(a) + list(b) if x not in both)


def _type_debug(value: Any) -> str:
    return type(value).__name__


FILTERS: dict[str, Any] = {
    "bool": to_bool,
    "to_json": lambda v, **kw: json.dumps(v, **kw),
    "to_nice_json": lambda v, indent=4, **kw: json.dumps(v, indent=indent, sort_keys=True,
                                                         separators=(",", ": "), **kw),
    "from_json": json.loads,
    "to_yaml": _to_yaml,
    "to_nice_yaml": _to_nice_yaml,
    "from_yaml": yaml.safe_load,
    "regex_replace": _regex_replace,
    "regex_search": _regex_search,
    "regex_findall": _regex_findall,
    "regex_escape": lambda v: re.escape(str(v)),
    "b64encode": lambda v: base64.b64encode(str(v).encode()).decode(),
    "b64decode": lambda v: base64.b64decode(str(v)).decode(),
    "basename": os.path.basename,
    "dirname": os.path.dirname,
    "expanduser": os.path.expanduser,
    "realpath": os.path.realpath,
    "splitext": lambda v: list(os.path.splitext(v)),
    "quote": lambda v: shlex.quote(str(v)),
    "mandatory": _mandatory,
    "ternary": lambda v, yes, no, none=None: (none if v is None and none is not None
                                               else (yes if v else no)),
    "combine": _combine,
    "dict2items": lambda d: [{"key": k, "value": v} for k, v in d.items()],
    "items2dict": lambda items: {i["key"]: i["value"] for i in items},
    "flatten": _flatten,
    "unique": _unique,
    "split": _split,
    "hash": _hash,
    "checksum": lambda v: _hash(v, "sha1"),
    "sha1": lambda v: _hash(v, "sha1"),
    "md5": lambda v: _hash(v, "md5"),
    "zip": lambda *lists: [list(t) for t in zip(*lists)],
    "zip_longest": lambda *lists, fillvalue=None: [
        list(t) for t in itertools.zip_longest(*lists, fillvalue=fillvalue)],
    "product": lambda *lists, repeat=1: [list(t) for t in itertools.product(*lists,
                                                                            repeat=repeat)],
    "permutations": lambda v, r=None: [list(t) for t in itertools.permutations(v, r)],
    "combinations": lambda v, r: [list(t) for t in itertools.combinations(v, r)],
    "type_debug": _type_debug,
    "union": _union,
    "intersect": _intersect,
    "difference": _difference,
    "symmetric_difference": _symmetric_difference,
}


# Version comparison (Ansible's `version` test): loose by default, as distutils' LooseVersion
# compared versions; `strict=true` reads X.Y[.Z] with a missing patch as 0.
_LOOSE = re.compile(r"(\d+|[a-z]+|\.)", re.IGNORECASE)
_STRICT = re.compile(r"^(\d+)\.(\d+)(\.(\d+))?([ab](\d+))?$")
_OPERATORS = {
    "<": lambda a, b: a < b, "lt": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, "le": lambda a, b: a <= b,
    ">": lambda a, b: a > b, "gt": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "ge": lambda a, b: a >= b,
    "==": lambda a, b: a == b, "=": lambda a, b: a == b, "eq": lambda a, b: a == b,
    "!=": lambda a, b: a != b, "<>": lambda a, b: a != b, "ne": lambda a, b: a != b,
}


def _loose(version: str) -> list:
    parts: list = []
    for part in _LOOSE.split(version):
        if part and part != ".":
            parts.append(int(part) if part.isdigit() else part)
    return parts


def _strict(version: str) -> tuple:
    match = _STRICT.match(version)
    if match is None:
        raise jinja2.TemplateRuntimeError(f"version: {version!r} is not a strict version "
                                          "(X.Y or X.Y.Z)")
    major, minor, _, patch, pre, pre_number = match.groups()
    release = (int(major), int(minor), int(patch or 0))
    # a pre-release sorts before its release
    return release + ((pre[0], int(pre_number)) if pre else ("z", 0))


def _version(value: Any, version: Any, operator: str = "eq", strict: bool = False,
             version_type: str | None = None) -> bool:
    if operator not in _OPERATORS:
        raise jinja2.TemplateRuntimeError(f"version: unknown operator {operator!r}")
    kind = version_type or ("strict" if strict else "loose")
    if kind == "loose":
        left: Any = _loose(str(value))
        right: Any = _loose(str(version))
        try:
            return _OPERATORS[operator](left, right)
        except TypeError:  # 1.a against 1.2: LooseVersion compared them as strings
            return _OPERATORS[operator](str(value), str(version))
    if kind == "strict":
        return _OPERATORS[operator](_strict(str(value)), _strict(str(version)))
    raise jinja2.TemplateRuntimeError(f"version: version_type {kind!r} is not supported "
                                      "(loose, strict)")


def _regex_test(mode: str):
    def test(value: Any, pattern: str, ignorecase: bool = False,
             multiline: bool = False) -> bool:
        function = re.match if mode == "match" else re.search
        return function(pattern, str(value), _flags(ignorecase, multiline)) is not None
    return test


def _subset(a: Iterable, b: Iterable) -> bool:
    return all(item in list(b) for item in a)


TESTS: dict[str, Any] = {
    "version": _version,
    "version_compare": _version,
    "match": _regex_test("match"),
    "search": _regex_test("search"),
    "regex": _regex_test("search"),
    "truthy": lambda v: bool(v),
    "falsy": lambda v: not v,
    "subset": _subset,
    "superset": lambda a, b: _subset(b, a),
    "contains": lambda seq, item: item in seq,
    "any": lambda seq: any(seq),
    "all": lambda seq: all(seq),
    "abs": os.path.isabs,
}



# roles also write the fully qualified names (`ansible.builtin.bool`, `is ansible.builtin.version`)
FILTERS.update({f"ansible.builtin.{name}": f for name, f in list(FILTERS.items())})
TESTS.update({f"ansible.builtin.{name}": t for name, t in list(TESTS.items())})
