"""Free-form `key=value` task arguments, read as Ansible reads them.

`apt: update_cache=yes cache_valid_time=86400` and `service: name=nginx state=restarted` are the
older spelling of a module's arguments that public roles still use. Ansible splits such a string
into words on spaces and newlines, except inside quotes or a Jinja `{{ }}`, `{% %}` or `{# #}`
span (its `split_args`), then reads each word as `key=value` (its `parse_kv`): backslash escapes
(`\\n`, `\\x41`, `\\u00e9`) are decoded, `\\=` is an `=` that does not split, a value quoted whole
with `'` or `"` loses the quotes, and every value stays a string (the module's declared types
convert it later: `orchestrator.load.coerce`). A word without `=` is free-form text; `command` and
`shell` keep every word but their own options (`chdir=`, `creates=`...) as the command line.

The behaviour is ansible-core's as documented and as observed by running it (tests/
test_kvargs.py holds the table); no code of it is used here.
"""

from __future__ import annotations

import codecs
import re

from orchestrator.errors import InputError

RAW_PARAMS = "_raw_params"
# Ansible's Jinja delimiters: a span between them is never split
_SPANS = (("{{", "}}"), ("{%", "%}"), ("{#", "#}"))
_QUOTES = "\"'"
# the escapes Python's string literals know; each one is decoded on its own
_ESCAPE = re.compile(r"""\\(?:U.{8}|u.{4}|x.{2}|[0-7]{1,3}|N\{[^}]+\}|[\\'"abfnrtv])""",
                     re.DOTALL)


class KvError(ValueError):
    """A free-form string that cannot be split (an open quote or Jinja span)."""


def _quote_after(word: str, quote: str | None) -> str | None:
    """The quote still open after `word`, given the one open before it; a quote character
    right after a backslash is literal, and the other kind of quote is literal inside one."""
    for i, char in enumerate(word):
        if char in _QUOTES and (i == 0 or word[i - 1] != "\\"):
            if quote is None:
                quote = char
            elif char == quote:
                quote = None
    return quote


def split_args(text: str) -> list[str]:
    """The words of a free-form string, as Ansible's `split_args` makes them.

    Words are split on single spaces and on newlines; a word started inside quotes or a Jinja
    span is joined with the following pieces (with the space between them) until they close.
    Extra spaces and newlines stay at the end of the word before them, so joining the words
    with single spaces gives the text back. A line whose piece is a lone `\\` (outside quotes)
    continues on the next line without a newline. Raises KvError for an unbalanced quote or
    span."""
    words: list[str] = []
    quote: str | None = None
    depth = [0] * len(_SPANS)
    lines = text.split("\n")
    for number, line in enumerate(lines):
        continued = False
        for index, piece in enumerate(line.split(" ")):
            if piece == "" and index > 0:  # a second space in a row
                if not words:
                    words.append("")
                words[-1] += " "
                continue
            if piece == "\\" and quote is None:
                continued = True
                continue
            joins = quote is not None or any(depth)
            quote = _quote_after(piece, quote)
            for kind, (opening, closing) in enumerate(_SPANS):
                # Ansible counts per word, so `}}{{` leaves the depth as it was
                depth[kind] = max(0, depth[kind] + piece.count(opening) - piece.count(closing))
            if joins:
                words[-1] += (" " if index > 0 else "") + piece
            elif piece:
                words.append(piece)
        if number < len(lines) - 1 and not continued:
            if not words:
                words.append("")
            words[-1] += "\n"
    if quote is not None or any(depth):
        raise KvError("unbalanced quotes or Jinja {{ }}/{% %}/{# #} block in the arguments")
    return words


def join_args(words: list[str]) -> str:
    """Words back into one string: a space between two, none after a newline."""
    text = ""
    for word in words:
        text += word if not text or text.endswith("\n") else " " + word
    return text


def _decode_escapes(word: str) -> str:
    def decode(match: re.Match) -> str:
        try:
            return codecs.decode(match.group(0), "unicode-escape")
        except UnicodeDecodeError:
            raise KvError(f"invalid escape {match.group(0)!r}") from None

    return _ESCAPE.sub(decode, word)


def unquote(value: str) -> str:
    """`value` without the quotes around it, when it is quoted whole (and the closing quote is
    not escaped)."""
    if len(value) > 1 and value[0] == value[-1] and value[0] in _QUOTES and value[-2] != "\\":
        return value[1:-1]
    return value


def _split_point(word: str) -> int | None:
    """Where a word's key ends: its first `=` after the first character that no backslash
    escapes."""
    position = word.find("=", 1)
    while position > 0 and word[position - 1] == "\\":
        position = word.find("=", position + 1)
    return position if position > 0 else None


def parse_kv(text: str, *, raw_options: frozenset[str] | None = None) -> dict[str, str]:
    """A free-form string as a mapping of arguments (every value a string).

    `key=value` words become arguments; the other words, joined, become `_raw_params` (the
    free-form text). With `raw_options` (command and shell) only words whose key is one of
    them are arguments, and every other word stays in the free-form text as written. A later
    key replaces an earlier one. Raises KvError (`split_args`, a bad escape)."""
    options: dict[str, str] = {}
    raw: list[str] = []
    for word in split_args(text):
        decoded = _decode_escapes(word)
        if "=" not in decoded:
            raw.append(word)
            continue
        position = _split_point(decoded)
        if position is None:  # only escaped `=`s (or one at the start): text, unescaped
            raw.append(decoded.replace("\\=", "="))
            continue
        key, value = decoded[:position], decoded[position + 1:]
        if raw_options is not None and key not in raw_options:
            raw.append(word)
        else:
            options[key.strip()] = unquote(value.strip())
    if raw:
        options[RAW_PARAMS] = join_args(raw)
    return options


def read(text: str, where: dict, *, raw_options: frozenset[str] | None = None
         ) -> dict[str, str]:
    """`parse_kv`, with a problem reported as one InputError at `where` (path=, line=)."""
    try:
        return parse_kv(text, raw_options=raw_options)
    except KvError as err:
        raise InputError(f"cannot read the key=value arguments: {err}", **where) from None
