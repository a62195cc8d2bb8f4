"""YAML read and written the way sops (go-yaml v3) reads it, not the way PyYAML does by default.

The MAC covers unencrypted values through their text, so both tools must agree on what a plain
scalar is: `yes` and `on` are strings (YAML 1.2), `0755` and `1_000` are ints, `2024-01-01` is a
time, and `<<` is an ordinary key (sops walks the document's nodes and never merges). Errors
never quote the document, because the document may be plaintext secrets.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

from orchestrator.errors import SecretsError
from orchestrator.load import yamlfile

NULL = "tag:yaml.org,2002:null"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
STR = "tag:yaml.org,2002:str"
TIMESTAMP = "tag:yaml.org,2002:timestamp"

_INT64 = (-(2**63), 2**63 - 1)
_FIXED: dict[str, tuple[str, Any]] = {
    **{s: (BOOL, True) for s in ("true", "True", "TRUE")},
    **{s: (BOOL, False) for s in ("false", "False", "FALSE")},
    **{s: (NULL, None) for s in ("", "~", "null", "Null", "NULL")},
    **{s: (FLOAT, math.nan) for s in (".nan", ".NaN", ".NAN")},
    **{s: (FLOAT, math.inf) for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: (FLOAT, -math.inf) for s in ("-.inf", "-.Inf", "-.INF")},
    "-0": (FLOAT, -0.0),
    "-0.0": (FLOAT, -0.0),
}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_INT = re.compile(
    r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)"
)
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?))?"
)


def _parse_go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64): a leading 0 means octal, as go-yaml v3 still reads it."""
    if not _GO_INT.fullmatch(text):
        return None
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXoObB":
        digits = "0o" + digits[1:]
    value = sign * int(digits, 0)
    return value if _INT64[0] <= value <= 2**64 - 1 else None


def parse_timestamp(text: str) -> datetime | None:
    """The subset of YAML timestamps go-yaml accepts; a time without a zone is UTC, as in Go."""
    m = _TIMESTAMP.fullmatch(text)
    if not m:
        return None
    year, month, day = (int(g) for g in m.group(1, 2, 3))
    if m.group(4) is not None:
        hms, fraction, zone = m.group(4, 5, 6), m.group(7), m.group(8)
    elif m.group(9) is not None:
        hms, fraction, zone = m.group(9, 10, 11), m.group(12), "Z"
    else:
        hms, fraction, zone = ("0", "0", "0"), None, "Z"
    if zone == "Z":
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime(year, month, day, *(int(x) for x in hms), micro, tzinfo=tz)
    except ValueError:
        return None


def resolve_plain(text: str) -> tuple[str, Any]:
    """What go-yaml v3 makes of an untagged plain scalar: its tag and value."""
    if text in _FIXED:
        return _FIXED[text]
    first = text[0]
    if first == ".":
        if "_" in text:  # Go's ParseFloat refuses underscores in decimal numbers
            return STR, text
        try:
            return FLOAT, float(text)
        except ValueError:
            return STR, text
    if first in "+-0123456789":
        stamp = parse_timestamp(text)
        if stamp is not None:
            return TIMESTAMP, stamp
        plain = text.replace("_", "")
        number = _parse_go_int(plain) if plain else None
        if number is not None:
            return INT, number
        if _YAML_FLOAT.fullmatch(plain):
            return FLOAT, float(plain)
    return STR, text


class _GoResolver(yaml.resolver.BaseResolver):
    def resolve(self, kind, value, implicit):
        if kind is ScalarNode and implicit[0]:
            return resolve_plain(value)[0]
        return super().resolve(kind, value, implicit)


class _GoConstructor(yaml.constructor.SafeConstructor):
    """Only the types sops knows; explicit tags are read with the same rules as plain ones."""

    yaml_constructors: ClassVar[dict] = {}

    def construct_typed(self, node: ScalarNode) -> Any:
        text = self.construct_scalar(node)
        tag, value = resolve_plain(text)
        if tag != node.tag:
            raise ConstructorError(None, None, f"value is not a valid {node.tag.rsplit(':', 1)[1]}",
                                   node.start_mark)
        if tag == INT and not _INT64[0] <= value <= _INT64[1]:
            raise ConstructorError(None, None, "integer out of the 64-bit range", node.start_mark)
        return value

    def construct_undefined(self, node) -> Any:
        raise ConstructorError(None, None, f"unsupported YAML tag {node.tag}", node.start_mark)

    def flatten_mapping(self, node: MappingNode) -> None:
        """No merging: to sops, `<<` is a key like any other."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        for key_node, _ in node.value:
            if not isinstance(self.construct_object(key_node, deep=True), str):
                raise ConstructorError(None, None, "mapping keys must be strings (quote it)",
                                       key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


for _tag in (NULL, BOOL, INT, FLOAT, TIMESTAMP):
    _GoConstructor.add_constructor(_tag, _GoConstructor.construct_typed)
_GoConstructor.add_constructor(STR, _GoConstructor.construct_yaml_str)
# sops writes a `<<` key back as `!!merge <<`, still meaning the key itself
_GoConstructor.add_constructor("tag:yaml.org,2002:merge", _GoConstructor.construct_yaml_str)
_GoConstructor.add_constructor("tag:yaml.org,2002:seq", _GoConstructor.construct_yaml_seq)
_GoConstructor.add_constructor("tag:yaml.org,2002:map", _GoConstructor.construct_yaml_map)
_GoConstructor.add_constructor(None, _GoConstructor.construct_undefined)


class _Loader(yamlfile.Checked, yaml.reader.Reader, yaml.scanner.Scanner,
              yaml.parser.Parser, yaml.composer.Composer, _GoConstructor, _GoResolver):
    # go-yaml refuses duplicate keys too; to sops `<<` is a key like any other
    merge_keys = False

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _GoConstructor.__init__(self)
        _GoResolver.__init__(self)


def load(text: str | bytes, *, source: str) -> Any:
    """Parse one YAML document with orc's one loader (`yamlfile.parse`) and sops' schema; a
    problem names the line, never the text on it."""
    return yamlfile.parse(text, path=source, loader=_Loader, error=SecretsError)


def _reads_as_string(text: str) -> bool:
    """Whether both sops' rules and YAML 1.1 readers (PyYAML, Ansible) see `text` as a string."""
    if resolve_plain(text)[0] != STR:
        return False
    return yaml.resolver.Resolver().resolve(ScalarNode, text, (True, False)) == STR


class _Dumper(yaml.SafeDumper):
    """Block style, 4-space indent and indented sequences: the layout sops writes."""

    _mapping_in_sequence = False

    def expect_node(self, root=False, sequence=False, mapping=False, simple_key=False):
        self._mapping_in_sequence = sequence and isinstance(self.event, yaml.MappingStartEvent)
        return super().expect_node(root, sequence, mapping, simple_key)

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        if self._mapping_in_sequence:
            self._mapping_in_sequence = False
            if not flow:  # `- key: …` with the next keys under `key`, not two columns further
                self.indents.append(self.indent)
                self.indent += 2
                return None
        return super().increase_indent(flow, False)

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode and implicit[0]:
            tag = resolve_plain(value)[0]
            if tag == STR and not _reads_as_string(value):
                return NULL  # anything but str: the emitter then quotes the string
            return tag
        return super().resolve(kind, value, implicit)


_ODD_BREAKS = frozenset("\r\x85\u2028\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> ScalarNode:
    # PyYAML folds these line breaks when they are written raw; only escapes keep them
    if _ODD_BREAKS.intersection(value):
        style = '"'
    else:
        style = "|" if "\n" in value else None
    return dumper.represent_scalar(STR, value, style=style)


def format_time(value: datetime) -> str:
    """Go's time.MarshalText (RFC 3339 with nanoseconds, trailing zeros dropped, `Z` for UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = f"{value.year:04d}-" + value.strftime("%m-%dT%H:%M:%S")  # %Y does not pad year 999
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    offset = value.utcoffset() or timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


_Dumper.add_representer(str, _represent_str)
_Dumper.add_multi_representer(dict, _Dumper.represent_dict)
_Dumper.add_multi_representer(list, _Dumper.represent_list)
_Dumper.add_representer(
    datetime, lambda dumper, value: dumper.represent_scalar(TIMESTAMP, format_time(value))
)


def dump(data: Any) -> str:
    """YAML that sops and orc read back to the same values, with keys in their original order."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, indent=4, width=2**31,
                     allow_unicode=True, default_flow_style=False)
