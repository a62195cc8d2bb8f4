"""Ansible's jinja2 filters and tests that roles lean on, reimplemented from their documentation
(docs.ansible.com, "Using filters to manipulate data", "Tests" and each plugin's page in
`ansible-doc -t filter|test NAME`) and checked against ansible-core 2.19's output in
tests/test_filters.py and tests/test_filters_breadth.py.

Every filter returns what Ansible's returns, type included (ansible-core 2.19 renders native
types): a list where Ansible gives a list (never a generator), YAML without the document-end
marker, `None` where a search finds nothing, a `datetime` from `to_datetime`. A filter or test
that fails raises `FilterError`, one line naming it, as Ansible's "The filter plugin 'X'
failed"; an undefined value handed to one is the undefined-variable error it is.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import itertools
import json
import math
import ntpath
import os.path
import random
import re
import shlex
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import jinja2
import jinja2.filters
import yaml

from orchestrator.errors import OrcError

_TRUE_WORDS = ("yes", "on", "1", "true")


class FilterError(jinja2.TemplateRuntimeError):
    """A filter or test failed on its input or arguments: `kind` ('filter' or 'test'), its
    `name`, and why."""

    def __init__(self, kind: str, name: str, why: str):
        self.kind, self.name, self.why = kind, name, why
        super().__init__(f"{kind} {name!r} failed: {why}")


# the filters and tests that take an undefined value on purpose
_TAKE_UNDEFINED = {"default", "d", "mandatory", "defined", "undefined"}


def named(kind: str, functions: Mapping[str, Callable]) -> dict[str, Callable]:
    """`functions` made to fail in one line naming themselves (`FilterError`), and to refuse an
    undefined input before they run, as Ansible does (except `default`, `mandatory`, `defined`
    and `undefined`, which exist for it)."""
    return {name: _named(kind, name, f) for name, f in functions.items()
            if not getattr(f, "orc_named", False)}


def _named(kind: str, name: str, function: Callable) -> Callable:
    short = name.rpartition(".")[2]
    # the value is the first argument after jinja2's context or environment, when it passes one
    first = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if short not in _TAKE_UNDEFINED and len(args) > first and isinstance(
                args[first], jinja2.Undefined):
            args[first]._fail_with_undefined_error()
        try:
            return function(*args, **kwargs)
        except (jinja2.UndefinedError, FilterError, jinja2.TemplateSyntaxError, OrcError):
            raise  # an OrcError says all already (a plan's "known after apply" among them)
        except Exception as err:  # noqa: BLE001 - any failure is the filter's, in one line
            why = " ".join(str(err).split()) or type(err).__name__
            raise FilterError(kind, short, why) from None

    call.orc_named = True  # type: ignore[attr-defined]
    return call


def _text(value: Any) -> str:
    """A value as text, as Ansible's filters read one: None as 'None', bytes decoded."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


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
        name = getattr(value, "_undefined_name", None)
        raise ValueError(msg or f"Mandatory variable {name!r} not defined.")
    return value


# combine: how two lists under the same key merge (ansible.builtin.combine, list_merge)
_LIST_MERGES: dict[str, Callable[[list, list], list]] = {
    "replace": lambda old, new: new,
    "keep": lambda old, new: old,
    "append": lambda old, new: old + new,
    "prepend": lambda old, new: new + old,
    "append_rp": lambda old, new: [x for x in old if x not in new] + new,
    "prepend_rp": lambda old, new: new + [x for x in old if x not in new],
}


def _combine(*dicts: Any, **options: Any) -> dict:
    """Later dicts win; with `recursive=true` dicts under the same key merge too, and lists
    under the same key merge as `list_merge` says (at the top level, or at any depth when
    recursive)."""
    if set(options) - {"recursive", "list_merge"}:
        raise ValueError("'recursive' and 'list_merge' are the only valid keyword arguments")
    recursive = to_bool(options.get("recursive", False))
    list_merge = options.get("list_merge", "replace")
    if list_merge not in _LIST_MERGES:
        raise ValueError("'list_merge' argument can only be equal to " + ", ".join(
            repr(m) for m in _LIST_MERGES))
    items = _flat_dicts(dicts)
    for a, b in zip(items, items[1:]):
        if not isinstance(a, Mapping) or not isinstance(b, Mapping):
            raise TypeError("failed to combine variables, expected dicts but got a "
                            f"{type(a).__name__!r} and a {type(b).__name__!r}")
    if items and not isinstance(items[0], Mapping):
        raise TypeError(f"failed to combine variables, expected dicts but got a "
                        f"{type(items[0]).__name__!r}")
    result: dict = {}
    for d in items:
        result = _merge(result, d, recursive, _LIST_MERGES[list_merge])
    return result


def _merge(old: Mapping, new: Mapping, recursive: bool, merge_lists: Callable) -> dict:
    result = dict(old)
    for key, value in new.items():
        if key not in result:
            result[key] = value
        elif recursive and isinstance(value, Mapping) and isinstance(result[key], Mapping):
            result[key] = _merge(result[key], value, True, merge_lists)
        elif isinstance(value, list) and isinstance(result[key], list):
            result[key] = merge_lists(list(result[key]), list(value))
        else:
            result[key] = value
    return result


def _flat_dicts(items: Iterable) -> list:
    """`combine` takes dicts and lists of dicts alike (`[d1, d2] | combine`)."""
    out: list = []
    for item in items:
        out += _flat_dicts(item) if isinstance(item, (list, tuple)) else [item]
    return out


def _dict2items(value: Any, key_name: str = "key", value_name: str = "value") -> list:
    if not isinstance(value, Mapping):
        raise TypeError(f"dict2items requires a dictionary, got {type(value).__name__}")
    return [{key_name: k, value_name: v} for k, v in value.items()]


def _items2dict(value: Any, key_name: str = "key", value_name: str = "value") -> dict:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"items2dict requires a list, got {type(value).__name__}")
    out = {}
    for item in value:
        if not isinstance(item, Mapping):
            raise TypeError(f"items2dict requires a list of dictionaries, got {value!r}")
        if key_name not in item or value_name not in item:
            raise KeyError(f"items2dict requires each dictionary in the list to contain the "
                           f"keys {key_name!r} and {value_name!r}")
        out[item[key_name]] = item[value_name]
    return out


# YAML and JSON: PyYAML and json, with Ansible's defaults


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


def _json_default(value: Any) -> Any:
    """What json cannot write itself, as Ansible's encoder writes it: dates in ISO 8601."""
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _to_json(value: Any, **kwargs: Any) -> str:
    kwargs.setdefault("default", _json_default)
    return json.dumps(value, **kwargs)


def _to_nice_json(value: Any, indent: int = 4, sort_keys: bool = True, **kwargs: Any) -> str:
    kwargs.setdefault("default", _json_default)
    return json.dumps(value, indent=indent, sort_keys=sort_keys, separators=(",", ": "),
                      **kwargs)


def _from_json(value: Any, **kwargs: Any) -> Any:
    return json.loads(value, **kwargs)


def _from_yaml(value: Any) -> Any:
    """Text parsed as YAML 1.1 (PyYAML's safe loader, as Ansible's); anything else as it is."""
    if isinstance(value, str):
        return yaml.safe_load(value)
    return value


def _from_yaml_all(value: Any) -> Any:
    if isinstance(value, str):
        return list(yaml.safe_load_all(value))
    return value


# regular expressions: Python's re, as Ansible's


def _flags(ignorecase: bool, multiline: bool) -> int:
    return (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)


def _regex_search(value: Any, pattern: str, *groups: str, ignorecase: bool = False,
                  multiline: bool = False) -> Any:
    """The match, or with `'\\1'` / `'\\g<name>'` arguments the list of those groups; None when
    nothing matches."""
    match = re.search(pattern, _text(value), _flags(ignorecase, multiline))
    if match is None:
        return None
    if not groups:
        return match.group(0)
    picked = []
    for group in groups:
        number = re.match(r"\\(\d+)", group)
        name = re.match(r"\\g<(\w+)>", group)
        if number:
            picked.append(match.group(int(number.group(1))))
        elif name:
            picked.append(match.group(name.group(1)))
        else:
            raise ValueError(f"Unknown argument {group!r}")
    return picked


def _regex_findall(value: Any, pattern: str, ignorecase: bool = False,
                   multiline: bool = False) -> list:
    return re.findall(pattern, _text(value), _flags(ignorecase, multiline))


def _regex_replace(value: Any = "", pattern: str = "", replacement: str = "",
                   ignorecase: bool = False, multiline: bool = False, count: int = 0,
                   mandatory_count: int = 0) -> str:
    """re.sub; `mandatory_count` fails unless the pattern matched exactly that many times."""
    text = _text(value)
    compiled = re.compile(pattern, _flags(ignorecase, multiline))
    result, made = compiled.subn(replacement, text, count=count)
    if mandatory_count and made != mandatory_count:
        raise ValueError(f"{pattern!r} should match {mandatory_count} times, but matches "
                         f"{made} times in {text!r}")
    return result


_POSIX_BASIC_SPECIAL = re.compile(r"([\]\[\\^$*.])")


def _regex_escape(value: Any, re_type: str = "python") -> str:
    text = _text(value)
    if re_type == "python":
        return re.escape(text)
    if re_type == "posix_basic":
        return _POSIX_BASIC_SPECIAL.sub(r"\\\1", text)
    if re_type == "posix_extended":
        raise ValueError("Regex type (posix_extended) not yet implemented")
    raise ValueError(f"Invalid regex type ({re_type})")


# lists


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


@jinja2.pass_environment
def _unique(environment: jinja2.Environment, value: Any, case_sensitive: bool = False,
            attribute: str | None = None) -> list:
    """jinja2's unique; items it cannot hash (dicts) are compared by equality, in order."""
    try:
        return list(jinja2.filters.do_unique(environment, value, case_sensitive, attribute))
    except TypeError:
        if attribute is not None:
            raise
        return _ordered_unique(value)


def _ordered_unique(items: Iterable) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _hashable(*lists: Iterable) -> bool:
    return all(isinstance(item, Hashable) for items in lists for item in items)


def _union(a: Any, b: Any) -> list:
    """Ansible's set filters work on Python sets when every element is hashable (so their
    order is the set's), and keep the first list's order otherwise."""
    if _hashable(a, b):
        return list(set(a) | set(b))
    return _ordered_unique(list(a) + list(b))


def _intersect(a: Any, b: Any) -> list:
    if _hashable(a, b):
        return list(set(a) & set(b))
    return _ordered_unique(x for x in a if x in b)


def _difference(a: Any, b: Any) -> list:
    if _hashable(a, b):
        return list(set(a) - set(b))
    return _ordered_unique(x for x in a if x not in b)


def _symmetric_difference(a: Any, b: Any) -> list:
    if _hashable(a, b):
        return list(set(a) ^ set(b))
    both = _intersect(a, b)
    return _ordered_unique(x for x in list(a) + list(b) if x not in both)


def _zip(*lists: Any) -> list:
    return [list(t) for t in zip(*lists)]


def _zip_longest(*lists: Any, fillvalue: Any = None) -> list:
    return [list(t) for t in itertools.zip_longest(*lists, fillvalue=fillvalue)]


def _subelements(elements: Any, subelements: Any, skip_missing: Any = False) -> list:
    """[[item, sub], ...] for each `sub` of the list at `subelements` (a dotted path) in each
    item; `skip_missing` (or `{'skip_missing': true}`) skips items without it."""
    if isinstance(skip_missing, Mapping):
        skip_missing = skip_missing.get("skip_missing", False)
    if isinstance(elements, Mapping):
        elements = list(elements.values())
    if isinstance(subelements, str):
        path = subelements.split(".")
    elif isinstance(subelements, (list, tuple)):
        path = list(subelements)
    else:
        raise TypeError("subelements must be a list or a string")
    out = []
    for item in elements:
        values: Any = item
        for key in path:
            if not isinstance(values, Mapping) or key not in values:
                if skip_missing:
                    values = None
                    break
                raise KeyError(f"could not find {key!r} key in iterated item {values!r}")
            values = values[key]
        if values is None and skip_missing:
            continue
        if not isinstance(values, list):
            raise TypeError(f"the key {path[-1]!r} should point to a list, got {values!r}")
        out += [[item, sub] for sub in values]
    return out


@jinja2.pass_environment
def _extract(environment: jinja2.Environment, item: Any, container: Any,
             morekeys: Any = None) -> Any:
    """`container[item]`, then each of `morekeys` (one key or a list) below it."""
    keys = [item] + ([] if morekeys is None else
                     list(morekeys) if isinstance(morekeys, (list, tuple)) else [morekeys])
    value = container
    for key in keys:
        value = environment.getitem(value, key)
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
    return value


@jinja2.pass_context  # never folded at compile time: unseeded, it differs on each render
def _random(context: Any, end: Any, start: int | None = None, step: int | None = None,
            seed: Any = None) -> Any:
    """A number in range(start, end, step) for an integer, an item of anything else; the same
    one on every run for the same `seed` (Python's random.Random(seed))."""
    picker: random.Random = random.SystemRandom() if seed is None else random.Random(seed)
    if isinstance(end, int) and not isinstance(end, bool):
        return picker.randrange(start or 0, end, step or 1)
    if start is not None or step is not None:
        raise ValueError("start and step can only be used with integer values")
    if isinstance(end, Iterable):
        return picker.choice(end)  # a dict fails, as in Ansible: it is no sequence
    raise TypeError("random can only be used on sequences and integers")


@jinja2.pass_context  # never folded at compile time
def _shuffle(context: Any, value: Any, seed: Any = None) -> Any:
    """The items in a random order (a list), the same order for the same `seed`; a value that
    is not iterable is returned as it is, as Ansible does."""
    picker: random.Random = random.SystemRandom() if seed is None else random.Random(seed)
    if not isinstance(value, Iterable):
        return value
    items = list(value)
    picker.shuffle(items)
    return items


def _split(value: Any, separator: str | None = None, maxsplit: int = -1) -> list[str]:
    if not isinstance(value, str):
        raise TypeError(f"descriptor 'split' for 'str' objects doesn't apply to a "
                        f"{type(value).__name__!r} object")
    return value.split(separator, maxsplit)


def _product(*lists: Any, repeat: int = 1) -> list:
    return [list(t) for t in itertools.product(*lists, repeat=repeat)]


def _permutations(value: Any, r: int | None = None) -> list:
    return [list(t) for t in itertools.permutations(value, r)]


def _combinations(value: Any, r: int) -> list:
    return [list(t) for t in itertools.combinations(value, r)]


# mathematics


def _log(value: Any, base: float = math.e) -> float:
    return math.log(value) if base == math.e else math.log(value, base)


def _pow(value: Any, exponent: Any) -> float:
    return math.pow(value, exponent)


def _root(value: Any, base: float = 2) -> float:
    return math.sqrt(value) if base == 2 else math.pow(value, 1.0 / base)


# sizes: the 1024-based units of Ansible's human_readable and human_to_bytes
_SIZES = (("Y", 1 << 80), ("Z", 1 << 70), ("E", 1 << 60), ("P", 1 << 50), ("T", 1 << 40),
          ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1))
_SIZE_WORDS = {"K": "kilo", "M": "mega", "G": "giga", "T": "tera", "P": "peta", "E": "exa",
               "Z": "zeta", "Y": "yotta"}
_HUMAN_SIZE = re.compile(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$")


def _human_readable(size: Any, isbits: bool = False, unit: str | None = None) -> str:
    """'1.46 KB': two decimals in the largest unit the size reaches (or `unit`), in bits with
    `isbits`."""
    try:
        suffix, limit = _SIZES[-1]
        for suffix, limit in _SIZES:
            if (unit is None and size >= limit) or (
                    unit is not None and unit.upper() == suffix[0]):
                break
    except TypeError as err:
        raise TypeError(f"human_readable() failed on bad input: {err}") from None
    if limit != 1:
        suffix += "b" if isbits else "B"
    else:
        suffix = "bits" if isbits else "Bytes"
    return f"{size / limit:.2f} {suffix}"


def _human_to_bytes(value: Any, default_unit: str | None = None, isbits: bool = False) -> int:
    """'1.5M' -> 1572864 (1024-based); a unit is one letter, that letter with B (b with
    `isbits`), or a word with 'byte' ('bit') in it; a bare number takes `default_unit`."""
    text = _text(value)
    match = _HUMAN_SIZE.match(text)
    if match is None:
        raise ValueError(f"human_to_bytes() can't interpret following string: {text}")
    number = float(match.group(1))
    unit = match.group(2) or default_unit
    if unit is None:
        return int(round(number))
    limits = dict(_SIZES)
    letter = unit[0].upper()
    if letter not in limits:
        raise ValueError(f"human_to_bytes() failed to convert {text} (unit = {unit}). The "
                         f"suffix must be one of {', '.join(limits)}")
    unit_letter, unit_word = ("b", "bit") if isbits else ("B", "byte")
    if letter == "B":
        expected = f"{unit_letter} or {unit_word}"
        valid = len(unit) == 1 or unit.lower() == unit_word
    else:
        expected = f"{letter}{unit_letter} or {letter}"
        valid = len(unit) == 1 or unit == letter + unit_letter or (
            unit.lower() == _SIZE_WORDS[letter] + unit_word)
    if not valid:
        raise ValueError(f"human_to_bytes() failed to convert {text}. Value is not a valid "
                         f"string (expect {expected})")
    return int(round(number * limits[letter]))


# dates and times


def _strftime(string_format: str, second: Any = None, utc: bool = False) -> str:
    """time.strftime of `second` (seconds since the epoch; now when absent), local time unless
    `utc`."""
    if second is None:
        moment = time.time()
    else:
        try:
            moment = float(second)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid value for epoch value ({second})") from None
    return time.strftime(string_format, time.gmtime(moment) if utc else time.localtime(moment))


def _to_datetime(value: Any, format: str = "%Y-%m-%d %H:%M:%S") -> datetime.datetime:
    return datetime.datetime.strptime(value, format)


def _now(utc: bool = False, fmt: str | None = None) -> Any:
    """The `now()` global: the current datetime (UTC with `utc`), or its text in `fmt`."""
    moment = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) if utc \
        else datetime.datetime.now()
    return moment.strftime(fmt) if fmt else moment


# hashes and encodings


def _hash(value: Any, algorithm: str = "sha1") -> str:
    try:
        digest = hashlib.new(algorithm)
    except ValueError:
        raise ValueError(f"unsupported hash type {algorithm}") from None
    digest.update(_text(value).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


# password_hash: Ansible's names for crypt(3) schemes, and passlib's
_CRYPT_SCHEMES = {"md5": "md5_crypt", "blowfish": "bcrypt", "sha256": "sha256_crypt",
                  "sha512": "sha512_crypt", "md5_crypt": "md5_crypt", "bcrypt": "bcrypt",
                  "sha256_crypt": "sha256_crypt", "sha512_crypt": "sha512_crypt"}


def _password_hash(password: Any, hashtype: str = "sha512", salt: str | None = None,
                   salt_size: int | None = None, rounds: int | None = None,
                   ident: str | None = None) -> str:
    """A crypt(3) hash of `password`, made by passlib as Ansible makes it with passlib
    installed: the same salt and rounds give the same bytes; no salt, a random one; no rounds,
    passlib's default (656000 for sha512, 535000 for sha256, 12 for bcrypt)."""
    scheme = _CRYPT_SCHEMES.get(hashtype)
    if scheme is None:
        raise ValueError(f"{hashtype} is not in the list of supported passlib algorithms: md5, "
                         "blowfish, sha256, sha512")
    from passlib import hash as passlib_hash  # only roles that hash passwords pay its import

    settings = {name: value for name, value in (("salt", salt), ("salt_size", salt_size),
                                                ("rounds", rounds), ("ident", ident)) if value}
    with warnings.catch_warnings():
        # a bcrypt salt whose last character has padding bits set is normalized, as Ansible's
        warnings.simplefilter("ignore")
        return getattr(passlib_hash, scheme).using(**settings).hash(password)


def _b64encode(value: Any, encoding: str = "utf-8", urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(_text(value).encode(encoding, "surrogateescape")).decode("ascii")


def _b64decode(value: Any, encoding: str = "utf-8", urlsafe: bool = False) -> str:
    decode = base64.urlsafe_b64decode if urlsafe else base64.b64decode
    return decode(_text(value)).decode(encoding, "surrogateescape")


_UUID_NAMESPACE_ANSIBLE = uuid.UUID("361E6D51-FAEC-444A-9079-341386DA8E2E")


def _to_uuid(value: Any, namespace: Any = _UUID_NAMESPACE_ANSIBLE) -> str:
    """A UUID version 5 of the value's text, in Ansible's namespace unless told another."""
    if not isinstance(namespace, uuid.UUID):
        try:
            namespace = uuid.UUID(namespace)
        except (AttributeError, ValueError) as err:
            raise ValueError(f"Invalid value {namespace!r} for 'namespace': {err}") from None
    return str(uuid.uuid5(namespace, _text(value)))


def _quote(value: Any) -> str:
    return shlex.quote("" if value is None else _text(value))


# comment: each style's decoration and the lines around the text
_COMMENT_STYLES = {
    "plain": {"decoration": "# "},
    "erlang": {"decoration": "% "},
    "c": {"decoration": "// "},
    "cblock": {"beginning": "/*", "decoration": " * ", "end": " */"},
    "xml": {"beginning": "<!--", "decoration": " - ", "end": "-->"},
}


def _comment(text: Any, style: str = "plain", **params: Any) -> str:
    """The text as a comment block: each line behind `decoration`, between `prefix` and
    `postfix` lines (the decoration without its trailing spaces, unless given) repeated
    `prefix_count`/`postfix_count` times, inside `beginning` and `end` (cblock, xml)."""
    if style not in _COMMENT_STYLES:
        raise ValueError(f"Invalid style {style!r}.")
    known = {"decoration", "beginning", "end", "prefix", "prefix_count", "postfix",
             "postfix_count", "newline"}
    if set(params) - known:
        raise TypeError(f"comment() got an unexpected keyword argument "
                        f"{sorted(set(params) - known)[0]!r}")
    p = {"beginning": "", "end": "", "prefix_count": 1, "postfix_count": 1, "newline": "\n",
         **_COMMENT_STYLES[style], **params}
    decoration, newline = p["decoration"], p["newline"]
    prefix = p.get("prefix", decoration.rstrip())
    postfix = p.get("postfix", decoration.rstrip())
    if not isinstance(text, str):
        raise TypeError(f"{type(text).__name__!r} object has no attribute 'replace'")
    # a blank line of the text keeps no trailing spaces of the decoration
    body = (decoration + text.replace(newline, newline + decoration)).replace(
        decoration + newline, decoration.rstrip() + newline)
    out = ""
    if p["beginning"]:
        out += p["beginning"] + newline
    if prefix:
        out += (prefix + newline) * int(p["prefix_count"])
    out += body + (newline + postfix) * int(p["postfix_count"])
    if p["end"]:
        out += newline + p["end"]
    return out


def _relpath(path: Any, start: str | None = None) -> str:
    return os.path.relpath(path, start) if start is not None else os.path.relpath(path)


def _path_join(paths: Any) -> str:
    if isinstance(paths, str):
        return os.path.join(paths)
    return os.path.join(*paths)


def _commonpath(paths: Any) -> str:
    if not isinstance(paths, (list, tuple)):
        raise TypeError(f"commonpath expects a list of paths, got {type(paths).__name__}")
    return os.path.commonpath(paths)


_URL_FIELDS = ("fragment", "hostname", "netloc", "password", "path", "port", "query", "scheme",
               "username")


def _urlsplit(value: Any, query: str = "") -> Any:
    """The parts of a URL (urllib.parse.urlsplit) as a dict, or the one part `query` names."""
    parts = urllib.parse.urlsplit(value)
    fields = {name: getattr(parts, name) for name in _URL_FIELDS}
    if not query:
        return fields
    if query not in fields:
        raise ValueError(f"unknown URL component: {query}")
    return fields[query]


def _type_debug(value: Any) -> str:
    return type(value).__name__


FILTERS: dict[str, Any] = {
    "bool": to_bool,
    "to_json": _to_json,
    "to_nice_json": _to_nice_json,
    "from_json": _from_json,
    "to_yaml": _to_yaml,
    "to_nice_yaml": _to_nice_yaml,
    "from_yaml": _from_yaml,
    "from_yaml_all": _from_yaml_all,
    "regex_replace": _regex_replace,
    "regex_search": _regex_search,
    "regex_findall": _regex_findall,
    "regex_escape": _regex_escape,
    "b64encode": _b64encode,
    "b64decode": _b64decode,
    "basename": os.path.basename,
    "dirname": os.path.dirname,
    "expanduser": os.path.expanduser,
    "realpath": os.path.realpath,
    "relpath": _relpath,
    "splitext": lambda v: list(os.path.splitext(v)),
    "path_join": _path_join,
    "normpath": os.path.normpath,
    "commonpath": _commonpath,
    "win_basename": ntpath.basename,
    "win_dirname": ntpath.dirname,
    "win_splitdrive": lambda v: list(ntpath.splitdrive(v)),
    "urlsplit": _urlsplit,
    "quote": _quote,
    "mandatory": _mandatory,
    "ternary": lambda v, yes, no, none=None: (none if v is None and none is not None
                                               else (yes if v else no)),
    "combine": _combine,
    "dict2items": _dict2items,
    "items2dict": _items2dict,
    "flatten": _flatten,
    "unique": _unique,
    "split": _split,
    "hash": _hash,
    "checksum": lambda v: _hash(v, "sha1"),
    "sha1": lambda v: _hash(v, "sha1"),
    "md5": lambda v: _hash(v, "md5"),
    "password_hash": _password_hash,
    "comment": _comment,
    "to_uuid": _to_uuid,
    "zip": _zip,
    "zip_longest": _zip_longest,
    "product": _product,
    "permutations": _permutations,
    "combinations": _combinations,
    "subelements": _subelements,
    "extract": _extract,
    "random": _random,
    "shuffle": _shuffle,
    "strftime": _strftime,
    "to_datetime": _to_datetime,
    "human_readable": _human_readable,
    "human_to_bytes": _human_to_bytes,
    "log": _log,
    "pow": _pow,
    "root": _root,
    "type_debug": _type_debug,
    "union": _union,
    "intersect": _intersect,
    "difference": _difference,
    "symmetric_difference": _symmetric_difference,
}


# Version comparison (Ansible's `version` test). loose: distutils' LooseVersion (numbers and
# words, compared in order; a number against a word fails); strict: StrictVersion (X.Y[.Z]
# with an optional a/b pre-release); semver: Semantic Versioning 2.0.0; pep440: PEP 440
# (packaging, as pip reads versions).
_LOOSE = re.compile(r"(\d+|[a-z]+|\.)")
_STRICT = re.compile(r"^(\d+)\.(\d+)(\.(\d+))?([ab](\d+))?$", re.ASCII)
_SEMVER_PART = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    rf"(?:-({_SEMVER_PART}(?:\.{_SEMVER_PART})*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")
_OPERATORS = {
    "==": lambda a, b: a == b, "=": lambda a, b: a == b, "eq": lambda a, b: a == b,
    "<": lambda a, b: a < b, "lt": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, "le": lambda a, b: a <= b,
    ">": lambda a, b: a > b, "gt": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "ge": lambda a, b: a >= b,
    "!=": lambda a, b: a != b, "<>": lambda a, b: a != b, "ne": lambda a, b: a != b,
}
_VERSION_TYPES = ("loose", "strict", "semver", "semantic", "pep440")


def _loose(version: str) -> list:
    return [int(part) if part.isdigit() else part
            for part in _LOOSE.split(version) if part and part != "."]


def _strict(version: str) -> tuple:
    match = _STRICT.match(version)
    if match is None:
        raise ValueError(f"invalid version number {version!r}")
    major, minor, _, patch, pre, pre_number = match.groups()
    release = (int(major), int(minor), int(patch or 0))
    # a pre-release sorts before its release
    return release + ((pre[0], int(pre_number)) if pre else ("z", 0))


class _SemanticVersion:
    """A Semantic Versioning 2.0.0 version, ordered as its section 11 says (build metadata
    ignored, a pre-release before its release, numeric identifiers below alphanumeric ones)."""

    def __init__(self, text: str):
        match = _SEMVER.match(text)
        if match is None:
            raise ValueError(f"invalid semantic version {text!r}")
        self.release = tuple(int(match.group(i)) for i in (1, 2, 3))
        pre = match.group(4)
        self.pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                         for p in pre.split(".")) if pre else None

    def _key(self) -> tuple:
        # no pre-release ranks above any pre-release of the same release
        return self.release + ((1,) if self.pre is None else (0, self.pre))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SemanticVersion) and self._key() == other._key()

    def __lt__(self, other: _SemanticVersion) -> bool:
        return self._key() < other._key()

    def __le__(self, other: _SemanticVersion) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: _SemanticVersion) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: _SemanticVersion) -> bool:
        return self._key() >= other._key()


def _pep440(version: str) -> Any:
    from packaging.version import Version  # a dependency of pyinfra

    return Version(version)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "loose": _loose, "strict": _strict, "semver": _SemanticVersion,
    "semantic": _SemanticVersion, "pep440": _pep440}


def _version(value: Any, version: Any = "", operator: str = "eq", strict: bool = False,
             version_type: str | None = None) -> bool:
    if operator not in _OPERATORS:
        raise ValueError(f"Invalid operator type ({operator}). Must be one of "
                         + ", ".join(repr(o) for o in _OPERATORS))
    if strict and version_type is not None:
        raise ValueError("Cannot specify both 'strict' and 'version_type'")
    kind = version_type or ("strict" if strict else "loose")
    if kind not in _PARSERS:
        raise ValueError(f"Invalid version type ({kind}). Must be one of "
                         + ", ".join(repr(t) for t in _VERSION_TYPES))
    if not value:
        raise ValueError("Input version value cannot be empty")
    if not version:
        raise ValueError("Version parameter to compare against cannot be empty")
    try:
        left, right = _PARSERS[kind](str(value)), _PARSERS[kind](str(version))
        return bool(_OPERATORS[operator](left, right))
    except (TypeError, ValueError) as err:  # loose: a number against a word
        raise ValueError(f"Version comparison failed: {err}") from None


def _result_test(name: str, key: str, default: Any = False, negate: bool = False,
                 looped: bool = False) -> Callable[[Any], bool]:
    """A test of a registered result (`is changed`, `is failed`...): the result's own `key`,
    else `default`; `changed` also reads a loop's per-item results when the result has no
    `changed` of its own."""
    def test(result: Any) -> bool:
        if not isinstance(result, Mapping):
            raise TypeError(f"The {name!r} test expects a dictionary")
        if key in result:
            value = result[key]
        elif looped and isinstance(result.get("results"), list):
            value = any(isinstance(r, Mapping) and r.get(key, False) for r in result["results"])
        else:
            value = default
        return not value if negate else bool(value)
    return test


def _regex_test(mode: str) -> Callable[..., bool]:
    def test(value: Any, pattern: str = "", ignorecase: bool = False, multiline: bool = False,
             match_type: str = mode) -> bool:
        if match_type not in ("match", "search", "fullmatch"):
            raise ValueError(f"match_type must be match, search or fullmatch, not {match_type!r}")
        function = getattr(re.compile(pattern, _flags(ignorecase, multiline)), match_type)
        return function(_text(value)) is not None
    return test


# what `convert_bool` reads as a boolean (Ansible's boolean(), the words of its modules'
# boolean arguments); anything else keeps its own truth
_BOOLEAN_WORDS = {"y": True, "yes": True, "on": True, "1": True, "true": True, "t": True,
                  "n": False, "no": False, "off": False, "0": False, "false": False, "f": False}


def _truthy(value: Any, convert_bool: bool = False) -> bool:
    if convert_bool:
        if isinstance(value, str) and value.lower().strip() in _BOOLEAN_WORDS:
            return _BOOLEAN_WORDS[value.lower().strip()]
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
    return bool(value)


def _subset(a: Any, b: Any) -> bool:
    return set(a) <= set(b)


def _superset(a: Any, b: Any) -> bool:
    return set(a) >= set(b)


TESTS: dict[str, Any] = {
    "version": _version,
    "version_compare": _version,
    "changed": _result_test("changed", "changed", looped=True),
    "failed": _result_test("failed", "failed"),
    "succeeded": _result_test("succeeded", "failed", negate=True),
    "skipped": _result_test("skipped", "skipped"),
    "finished": _result_test("finished", "finished", default=1),
    "started": _result_test("started", "started", default=1),
    "unreachable": _result_test("unreachable", "unreachable"),
    "reachable": _result_test("reachable", "unreachable", negate=True),
    "match": _regex_test("match"),
    "search": _regex_test("search"),
    "regex": _regex_test("search"),
    "truthy": _truthy,
    "falsy": lambda v, convert_bool=False: not _truthy(v, convert_bool),
    "subset": _subset,
    "superset": _superset,
    "issubset": _subset,
    "issuperset": _superset,
    "contains": lambda seq, item: item in seq,
    "any": lambda seq: any(seq),
    "all": lambda seq: all(seq),
    "abs": os.path.isabs,
    "file": os.path.isfile,
    "directory": os.path.isdir,
    "link": os.path.islink,
    "exists": os.path.exists,
    "link_exists": os.path.lexists,
    "mount": os.path.ismount,
    "same_file": os.path.samefile,
    "nan": lambda v: isinstance(v, float) and math.isnan(v),
    # orc reads no Ansible vault: no value it holds is vault-encrypted
    "vault_encrypted": lambda v: False,
}
# the short forms Ansible also accepts
TESTS.update({"change": TESTS["changed"], "failure": TESTS["failed"],
              "success": TESTS["succeeded"], "successful": TESTS["succeeded"],
              "skip": TESTS["skipped"], "is_abs": TESTS["abs"], "is_file": TESTS["file"],
              "is_dir": TESTS["directory"], "is_link": TESTS["link"],
              "is_mount": TESTS["mount"], "is_same_file": TESTS["same_file"]})

# `now()` in a template, as in Ansible
GLOBALS: dict[str, Any] = {"now": _now}


# roles also write the fully qualified names (`ansible.builtin.bool`, `is ansible.builtin.version`)
FILTERS.update({f"ansible.builtin.{name}": f for name, f in list(FILTERS.items())})
TESTS.update({f"ansible.builtin.{name}": t for name, t in list(TESTS.items())})
