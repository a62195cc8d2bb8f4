"""`-e` / `--extra-vars` as ansible-playbook reads them.

Three forms, as documented for ansible-playbook's `--extra-vars`
(docs.ansible.com, "Defining variables at runtime"):

- `key=value` pairs (several in one argument, separated by spaces; a value may be quoted):
  every value stays a **string**, so `ver=1.10` is `"1.10"`, `flag=false` is `"false"` and
  `mode=0644` is `"0644"`. Backslash escapes in a value (`\\n`, `\\t`, `\\\\`, ...) are
  decoded and the quotes around a whole value are removed.
- `@file.yaml` / `@file.json`: a mapping read from the file, **typed** as YAML says.
- an inline JSON or YAML mapping (the argument starts with `{`): typed.

Later arguments win over earlier ones (a shallow update). Anything else is refused in one line:
a list, a file that is not a mapping, a word without `=` (ansible-playbook drops such a word
silently, so `-e msg=hello world` would deploy "hello": orc asks for quotes instead).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load import yamlfile

_ESCAPE = re.compile(r"""\\(U[0-9a-fA-F]{8}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[0-7]{1,3}|N\{[^}]+\}|.)""",
                     re.DOTALL)
_SIMPLE_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n",
                   "r": "\r", "t": "\t", "v": "\v", "\n": ""}


def parse_extra_vars(values: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The variables of every `-e` argument, in order, merged into one mapping."""
    extra: dict[str, Any] = {}
    for value in values:
        extra.update(parse_one(value))
    return extra


def parse_one(value: str) -> dict[str, Any]:
    """One `-e` argument's variables; raises InputError naming the argument."""
    text = value.strip()
    if text.startswith("@"):
        data = _load_file(Path(text[1:]))
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise InputError(f"-e {value}: the file holds a {type(data).__name__}, "
                             "not a mapping of variables", path=text[1:])
        return dict(data)
    if text[:1] in ("{", "["):
        try:  # the one YAML loader: duplicate keys and alias bombs refused as in files
            data = yamlfile.parse(text, path="-e")
        except InputError as err:
            raise InputError(f"-e {value!r}: not valid JSON or YAML: {err.message}") from None
        if not isinstance(data, dict):
            raise InputError(f"-e {value!r}: a {type(data).__name__}, not a mapping of "
                             "variables")
        return data
    if text[:1] in ("/", "."):
        raise InputError(f"-e {value!r}: to read variables from a file, write -e @{text}")
    return parse_key_values(text, value)


def _load_file(path: Path) -> Any:
    return yamlfile.load(path)  # one line for a missing, special or oversized file


def parse_key_values(text: str, original: str | None = None) -> dict[str, str]:
    """`a=1 b="x y"` -> {"a": "1", "b": "x y"}: strings only, as Ansible keeps them."""
    pairs: dict[str, str] = {}
    for token in split_words(text):
        key, sep, raw = token.partition("=")
        if not sep or not key:
            raise InputError(f"-e {original or text!r}: {token!r} is not key=value (quote a "
                             "value with spaces: key='a b'; or @file.yaml, or a JSON mapping)")
        pairs[key] = decode_escapes(unquote(raw))
    return pairs


def split_words(text: str) -> list[str]:
    """Split on whitespace outside quotes and outside jinja2 `{{ }}` / `{% %}` / `{# #}`
    blocks, keeping the quotes (they are removed from a whole value by `unquote`)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    depth = 0
    i = 0
    while i < len(text):
        char, pair = text[i], text[i:i + 2]
        if quote:
            current.append(char)
            if char == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif char == quote:
                quote = ""
        elif pair in ("{{", "{%", "{#"):
            depth += 1
            current.append(pair)
            i += 1
        elif pair in ("}}", "%}", "#}") and depth:
            depth -= 1
            current.append(pair)
            i += 1
        elif char in "'\"" and not depth:
            quote = char
            current.append(char)
        elif char.isspace() and not depth:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
        i += 1
    if quote:
        raise InputError(f"-e {text!r}: a quote is not closed")
    if current:
        words.append("".join(current))
    return words


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def decode_escapes(value: str) -> str:
    """Python's string escapes (`\\n`, `\\x41`, `\\u00e9`, `\\N{...}`, octal); an unknown escape
    stays as written, as in a Python string literal."""

    def one(match: re.Match) -> str:
        code = match.group(1)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if code[0] in "xuU" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8))
        if code.startswith("N{"):
            try:
                return unicodedata.lookup(code[2:-1])
            except KeyError:
                return match.group(0)
        return match.group(0)

    return _ESCAPE.sub(one, value)
