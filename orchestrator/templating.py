"""jinja2 the way Ansible users write it: `{{ var }}` in task arguments, `when:` expressions,
template files, and the handful of Ansible filters roles lean on.

Undefined variables are errors (StrictUndefined), reported with the template and the name, so a
typo never renders an empty config file onto a host.

What a rendering read is tracked: a render that looked up a value of a secret file (or a
variable whose own rendering did) is secret-derived, whatever filters, slices or string
operations it went through, and its result is remembered as a secret for every output
(`orchestrator.secrets.masking`); its error message names no value.

Whitespace follows Ansible, whose jinja2 environment has `trim_blocks` on (the newline after a
block tag is dropped, so a `{% for %}` line leaves no blank line behind) and `lstrip_blocks`
off, for template files and task arguments alike; a `template` task may change both, as in
Ansible.
"""

from __future__ import annotations

import base64
import json
import os.path
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nativetypes
import yaml

from orchestrator.errors import InputError
from orchestrator.secrets import masking


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "on", "1", "true", "y", "t")
    return bool(value)


def _mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, jinja2.Undefined):
        raise jinja2.UndefinedError(msg or "mandatory variable is not defined")
    return value


def _combine(*dicts: Mapping, recursive: bool = False) -> dict:
    result: dict = {}
    for d in dicts:
        for key, value in d.items():
            if recursive and isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
                result[key] = _combine(result[key], value, recursive=True)
            else:
                result[key] = value
    return result


FILTERS = {
    "bool": _to_bool,
    "to_json": lambda v, **kw: json.dumps(v, **kw),
    "to_nice_json": lambda v, indent=4: json.dumps(v, indent=indent, sort_keys=True),
    "from_json": json.loads,
    "to_yaml": lambda v, **kw: yaml.safe_dump(v, default_flow_style=None, **kw),
    "to_nice_yaml": lambda v, indent=4: yaml.safe_dump(v, indent=indent, default_flow_style=False),
    "from_yaml": yaml.safe_load,
    "regex_replace": lambda v, pattern, repl="": re.sub(pattern, repl, str(v)),
    "regex_search": lambda v, pattern: (m.group(0) if (m := re.search(pattern, str(v))) else None),
    "b64encode": lambda v: base64.b64encode(str(v).encode()).decode(),
    "b64decode": lambda v: base64.b64decode(str(v)).decode(),
    "basename": os.path.basename,
    "dirname": os.path.dirname,
    "quote": lambda v: shlex.quote(str(v)),
    "mandatory": _mandatory,
    "ternary": lambda v, yes, no, none=None: (none if v is None and none is not None
                                               else (yes if v else no)),
    "combine": _combine,
    "dict2items": lambda d: [{"key": k, "value": v} for k, v in d.items()],
    "items2dict": lambda items: {i["key"]: i["value"] for i in items},
}


def _environment(cls: type[jinja2.Environment], **kwargs: Any) -> jinja2.Environment:
    env = cls(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
              **kwargs)
    env.filters.update(FILTERS)
    return env


def _keep_native(values: Any) -> Any:
    """A lone expression's value as it is; strings stay strings (no re-parsing of JSON)."""
    parts = list(values)
    if len(parts) == 1:
        if isinstance(parts[0], jinja2.Undefined):
            str(parts[0])  # StrictUndefined raises here, naming the variable
        return parts[0]
    return "".join(str(p) for p in parts)


class _NativeEnvironment(jinja2.nativetypes.NativeEnvironment):
    concat = staticmethod(_keep_native)  # type: ignore[assignment]


_TEXT = _environment(jinja2.Environment)
_NATIVE = _environment(_NativeEnvironment)
# template files rendered with other whitespace options than Ansible's defaults, by
# (trim_blocks, lstrip_blocks)
_FILES: dict[tuple[bool, bool], jinja2.Environment] = {(True, False): _TEXT}
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?:(?!\}\}).)*\}\}\s*$", re.S)


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


class Variables(Mapping):
    """Variables whose values may themselves be templates, rendered when read (as Ansible does),
    so `nginx_upstream: "{{ app_port }}"` in role defaults follows whatever `app_port` is."""

    _MAX_DEPTH = 50

    def __init__(self, data: Mapping[str, Any]):
        self._data = dict(data)
        self._cache: dict[str, Any] = {}
        self._resolving: list[str] = []
        self._tainted: set[str] = set()  # keys whose value derives from a secret
        # one flag per render in progress (innermost last): did it read a secret?
        self._reads: list[list[bool]] = []

    def __getitem__(self, key: str) -> Any:
        if key in self._cache:
            value = self._cache[key]
        elif key not in self._data:
            if key in _TEXT.globals:
                return _TEXT.globals[key]
            raise KeyError(key)
        else:
            if key in self._resolving:
                raise InputError(f"variable {key!r} refers to itself: "
                                 + " -> ".join(self._resolving + [key]))
            self._resolving.append(key)
            self._reads.append([False])
            try:
                value = render_value(self._data[key], self)
            finally:
                self._resolving.pop()
                if self._reads.pop()[0]:
                    self._tainted.add(key)
            self._cache[key] = value
        if key in self._tainted or masking.is_secret(value):
            self.read_secret()
        return value

    def read_secret(self) -> None:
        """The render in progress read a secret: its result is secret-derived."""
        if self._reads:
            self._reads[-1][0] = True

    def shadow(self) -> Variables:
        """These variables with each secret value changed (`masking.shadow`), nothing cached."""
        return Variables({k: masking.shadow(v) if masking.is_secret(v) else v
                          for k, v in self._data.items()})

    def begin_render(self) -> None:
        self._reads.append([False])

    def end_render(self) -> bool:
        """Whether the render that ends read a secret; the render around it then did too."""
        tainted = self._reads.pop()[0]
        if tainted:
            self.read_secret()
        return tainted

    def __contains__(self, key: object) -> bool:
        return key in self._data or key in _TEXT.globals

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def raw(self) -> dict[str, Any]:
        return dict(self._data)

    def child(self, **extra: Any) -> Variables:
        """These variables plus a few more (a loop item), sharing nothing mutable."""
        return Variables({**self._data, **extra})


def render_value(value: Any, variables: Mapping[str, Any], where: str = "") -> Any:
    """Render every string inside `value`; a lone `{{ expr }}` keeps its native type, as Ansible."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        env = _NATIVE if _SINGLE_EXPRESSION.match(value) else _TEXT
        return _render(env, value, variables, where)
    if masking.is_secret(value):
        return value  # data from a secret file, never a template: kept whole, so reads show
    # plain data only: lazy mappings (facts, hostvars) stay lazy until a template reads them
    if isinstance(value, dict):
        return {k: render_value(v, variables, where) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables, where) for v in value]
    return value


def check_syntax(value: Any, where: str) -> None:
    """Parse every template string inside `value`: a syntax error is found at load time."""
    if isinstance(value, str):
        if is_template(value):
            try:
                _TEXT.parse(value)
            except jinja2.TemplateSyntaxError as err:
                raise InputError(f"template syntax: {err.message}", **_split(where)) from None
    elif isinstance(value, Mapping):
        for item in value.values():
            check_syntax(item, where)
    elif isinstance(value, list):
        for item in value:
            check_syntax(item, where)


def check_file_syntax(path: Path) -> None:
    try:
        _TEXT.parse(path.read_text(encoding="utf-8"))
    except jinja2.TemplateSyntaxError as err:
        raise InputError(f"template syntax: {err.message}", path=path, line=err.lineno) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read template: {err}", path=path) from None


def render_file(path: Path, variables: Mapping[str, Any], *, trim_blocks: bool = True,
                lstrip_blocks: bool = False) -> str:
    """Render a template file as Ansible's template module does (`trim_blocks` on and
    `lstrip_blocks` off unless the task says otherwise); errors name the template and its
    line."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read template: {err.strerror}", path=path) from None
    return _render(_file_environment(trim_blocks, lstrip_blocks), source, variables, str(path),
                   remember=masking.remember_rendered_file)


def _file_environment(trim_blocks: bool, lstrip_blocks: bool) -> jinja2.Environment:
    key = (trim_blocks, lstrip_blocks)
    if key not in _FILES:
        _FILES[key] = _TEXT.overlay(trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks)
    return _FILES[key]


def evaluate(expression: Any, variables: Mapping[str, Any], where: str = "") -> bool:
    """A `when:` condition (a bare expression, or a list of them that must all hold)."""
    if isinstance(expression, bool):
        return expression
    if isinstance(expression, list):
        return all(evaluate(e, variables, where) for e in expression)
    text = str(expression).strip()
    if text.startswith("{{") and text.endswith("}}"):
        text = text[2:-2]
    try:
        _TEXT.parse("{{ (" + text + ") }}")
    except jinja2.TemplateSyntaxError as err:
        raise InputError(f"condition {text!r} is not valid jinja2: {err.message}",
                         **_split(where)) from None
    source = "{% if (" + text + ") %}True{% else %}False{% endif %}"
    try:
        return _render(_TEXT, source, variables, where, remember=None) == "True"
    except InputError as err:
        raise InputError(f"condition {text!r}: {err.message}", **_split(where)) from None


def _render(env: jinja2.Environment, source: str, variables: Mapping[str, Any], where: str,
            remember: Any = masking.remember_rendered) -> Any:
    """Render `source`; when it read a secret, `remember` keeps what it made of the secret out
    of every output (None: the result is never shown, as a `when:` outcome)."""
    scope = variables if isinstance(variables, Variables) else Variables(variables)
    scope.begin_render()
    tainted = False
    try:
        template = env.from_string(source)
        # a shared context reads `variables` as they are asked for, keeping them lazy
        context = template.new_context(scope, shared=True)
        pieces = list(template.root_render_func(context))  # text, and each expression's output
        result = env.concat(pieces)  # type: ignore[attr-defined]
    except jinja2.UndefinedError as err:
        tainted = scope.end_render()
        raise InputError(f"undefined variable: {_told(err.message, source, tainted)}",
                         **_split(where)) from None
    except jinja2.TemplateSyntaxError as err:
        tainted = scope.end_render()
        raise InputError(f"template syntax: {_told(err.message, source, tainted)}",
                         path=where or None, line=err.lineno) from None
    except jinja2.TemplateError as err:
        tainted = scope.end_render()
        raise InputError(f"template error: {_told(str(err), source, tainted)}",
                         **_split(where)) from None
    except Exception as err:
        if scope.end_render():  # a filter's own error (b64decode, int) may quote the value
            raise InputError(f"template error: {type(err).__name__} (its message is hidden: "
                             "the expression read a secret)", **_split(where)) from None
        raise
    except BaseException:
        scope.end_render()
        raise
    if scope.end_render() and remember is not None:
        remember(masking.Rendered(source, result, pieces, _shadow(env, source, scope)))
    return result


def _shadow(env: jinja2.Environment, source: str, scope: Variables) -> masking.Rendered | None:
    """The same render with every secret value changed (same shape, other characters): what
    differs from the real render is what the secrets made. None when it cannot be rendered
    (a secret taken apart as a number, say): then everything the template computed counts."""
    shadow = scope.shadow()
    try:
        template = env.from_string(source)
        pieces = list(template.root_render_func(template.new_context(shadow, shared=True)))
        return masking.Rendered(source, env.concat(pieces), pieces, None)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - any failure only makes the masking coarser
        return None


# what jinja quotes in a message: a name, a key, or the value that was looked up
_QUOTED = re.compile(r"'([^'\n]*)'")
_TYPE_NAME = re.compile(r"[\w.]+ object")


def _told(message: str | None, source: str, tainted: bool) -> str:
    """A render error's message, with nothing quoted in it that may be a secret's value.

    jinja quotes what it failed on: `'dict object' has no attribute '<key>'`, where the key may
    be a secret (`{{ table[secrets.token] }}`). After a secret was read, only quoted text that
    the template spells out itself (a misspelt name) or a type name stays readable."""
    message = message or ""
    if not tainted:
        return message
    return _QUOTED.sub(lambda m: m.group(0) if m.group(1) in source or _TYPE_NAME.fullmatch(
        m.group(1)) else f"'{masking.MASK}'", message)


def _split(where: str) -> dict:
    """"file:line" (or "file") as the keywords of an error."""
    if not where:
        return {}
    path, _, line = where.rpartition(":")
    if path and line.isdigit():
        return {"path": path, "line": int(line)}
    return {"path": where}
