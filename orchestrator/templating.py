"""jinja2 the way Ansible users write it: `{{ var }}` in task arguments, `when:` expressions,
template files, and the handful of Ansible filters roles lean on.

Undefined variables are errors (StrictUndefined), reported with the template and the name, so a
typo never renders an empty config file onto a host.

Whitespace follows Ansible, whose jinja2 environment has `trim_blocks` on (the newline after a
block tag is dropped, so a `{% for %}` line leaves no blank line behind) and `lstrip_blocks`
off, for template files and task arguments alike; a `template` task may change both, as in
Ansible.

Values follow ansible-core 2.19: a lone expression keeps its native type (a list stays a list),
text joins values with str() and renders a null as nothing, trailing newlines are counted
against the source rather than kept by jinja2, and a condition must be a boolean.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nativetypes
import jinja2.nodes

from orchestrator.errors import InputError
from orchestrator.filters import FILTERS, TESTS


def _environment(cls: type[jinja2.Environment], **kwargs: Any) -> jinja2.Environment:
    # keep_trailing_newline off, as in Ansible: the newlines a text result loses at its end are
    # put back by `_restore_newlines`
    env = cls(undefined=jinja2.StrictUndefined, trim_blocks=True, **kwargs)
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    return env


def _plain(value: Any) -> Any:
    """A value as ansible-core 2.19 hands it on: tuples become lists, at any depth (the same
    object when there is none)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        items = [_plain(v) for v in value]
        return items if any(a is not b for a, b in zip(items, value)) else value
    if isinstance(value, dict):
        pairs = {k: _plain(v) for k, v in value.items()}
        return pairs if any(pairs[k] is not value[k] for k in value) else value
    return value


def to_text(value: Any) -> str:
    """What `{{ value }}` writes into text: nothing for None (Ansible renders a null variable
    as an empty string), Python's str() for everything else, tuples shown as lists."""
    return "" if value is None else str(_plain(value))


def _keep_native(values: Any) -> Any:
    """A lone expression's value as it is (Ansible's native types); strings stay strings (no
    re-parsing of JSON). Several parts are joined as text."""
    parts = list(values)
    if len(parts) == 1:
        if isinstance(parts[0], jinja2.Undefined):
            str(parts[0])  # StrictUndefined raises here, naming the variable
        return _plain(parts[0])
    return "".join(to_text(p) for p in parts)


def _restore_newlines(source: str, result: Any, newline: str) -> Any:
    """jinja2 drops one newline at the end of a template; Ansible puts back as many `\n` as
    the result lacks against the source's own count (text results only: a lone expression
    followed by a newline stays a number or a list)."""
    if not isinstance(result, str):
        return result
    missing = _trailing_newlines(source) - _trailing_newlines(result)
    return result + newline * missing if missing > 0 else result


def _trailing_newlines(text: str) -> int:
    return len(text) - len(text.rstrip("\n"))


class _RuntimeValues(jinja2.nativetypes.NativeCodeGenerator):
    """No output folded into text at compile time: `{{ none }}` and `{{ 1.0 }}` reach
    `_keep_native` as the values they are, as any variable would."""

    def _output_child_to_const(self, node: Any, frame: Any, finalize: Any) -> Any:
        if isinstance(node, jinja2.nodes.TemplateData):
            return super()._output_child_to_const(node, frame, finalize)
        raise jinja2.nodes.Impossible()


class _NativeEnvironment(jinja2.nativetypes.NativeEnvironment):
    code_generator_class = _RuntimeValues
    concat = staticmethod(_keep_native)  # type: ignore[assignment]


_TEXT = _environment(jinja2.Environment)
_NATIVE = _environment(_NativeEnvironment)
# template files rendered with other options than Ansible's defaults, by
# (trim_blocks, lstrip_blocks, newline_sequence)
_FILES: dict[tuple[bool, bool, str], jinja2.Environment] = {(True, False, "\n"): _NATIVE}
_MARKERS = ("{{", "{%", "{#")


def is_template(value: str) -> bool:
    """Whether jinja2 would change `value`; Ansible leaves a string without any of its markers
    exactly as it is (its line endings too)."""
    return any(marker in value for marker in _MARKERS)


class Variables(Mapping):
    """Variables whose values may themselves be templates, rendered when read (as Ansible does),
    so `nginx_upstream: "{{ app_port }}"` in role defaults follows whatever `app_port` is."""

    _MAX_DEPTH = 50

    def __init__(self, data: Mapping[str, Any]):
        self._data = dict(data)
        self._cache: dict[str, Any] = {}
        self._resolving: list[str] = []

    def __getitem__(self, key: str) -> Any:
        if key in self._cache:
            return self._cache[key]
        if key not in self._data:
            if key in _TEXT.globals:
                return _TEXT.globals[key]
            raise KeyError(key)
        if key in self._resolving:
            raise InputError(f"variable {key!r} refers to itself: "
                             + " -> ".join(self._resolving + [key]))
        self._resolving.append(key)
        try:
            value = render_value(self._data[key], self)
        finally:
            self._resolving.pop()
        self._cache[key] = value
        return value

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
    """Render every string inside `value`; a lone `{{ expr }}` (with at most one newline after
    it) keeps its native type, as in Ansible; a null in text renders as nothing."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        return _render(_NATIVE, value, variables, where)
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
                lstrip_blocks: bool = False, newline_sequence: str = "\n") -> str:
    """Render a template file as Ansible's template module does: `trim_blocks` on and
    `lstrip_blocks` off unless the task says otherwise, line endings made `newline_sequence`,
    the source's trailing newlines kept, a file without jinja2 markers copied byte for byte,
    and a file that is one lone expression written as that value's text. Errors name the
    template and its line."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            source = handle.read()
    except OSError as err:
        raise InputError(f"cannot read template: {err.strerror}", path=path) from None
    except UnicodeDecodeError as err:
        raise InputError(f"cannot read template: {err}", path=path) from None
    if not is_template(source):
        return source
    env = _file_environment(trim_blocks, lstrip_blocks, newline_sequence)
    result = _render(env, source, variables, str(path), newline_sequence)
    return result if isinstance(result, str) else to_text(result)


def _file_environment(trim_blocks: bool, lstrip_blocks: bool,
                      newline_sequence: str) -> jinja2.Environment:
    key = (trim_blocks, lstrip_blocks, newline_sequence)
    if key not in _FILES:
        _FILES[key] = _NATIVE.overlay(trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks,
                                      newline_sequence=newline_sequence)
    return _FILES[key]


def evaluate(expression: Any, variables: Mapping[str, Any], where: str = "") -> bool:
    """A `when:` condition (a bare expression, or a list of them that must all hold).

    As in ansible-core 2.19, the expression's value must be a boolean: `when: x` with
    `x: "false"` (a string), a number, a list or None is refused rather than read as truthy,
    and a condition that is neither a string nor a boolean is refused too (Ansible's
    "Conditionals must have a boolean result")."""
    if isinstance(expression, bool):
        return expression
    if isinstance(expression, list):
        return all(evaluate(e, variables, where) for e in expression)
    if not isinstance(expression, str):
        raise InputError(f"condition {expression!r} is a {type(expression).__name__}: a "
                         "condition must be an expression (a string) or true/false",
                         **_split(where))
    text = expression.strip()
    if text.startswith("{{") and text.endswith("}}"):
        text = text[2:-2]
    try:
        _TEXT.parse("{{ (" + text + ") }}")
    except jinja2.TemplateSyntaxError as err:
        raise InputError(f"condition {text!r} is not valid jinja2: {err.message}",
                         **_split(where)) from None
    try:
        value = _render(_NATIVE, "{{ (" + text + ") }}", variables, where)
    except InputError as err:
        raise InputError(f"condition {text!r}: {err.message}", **_split(where)) from None
    if not isinstance(value, bool):
        raise InputError(
            f"condition {text.strip()!r} gave {type(value).__name__} {value!r}, not true or "
            "false: a condition must have a boolean result, as in ansible-core 2.19 (compare "
            "it, or use `| bool`)", **_split(where))
    return value


def _render(env: jinja2.Environment, source: str, variables: Mapping[str, Any], where: str,
            newline: str = "\n") -> Any:
    try:
        template = env.from_string(source)
        # a shared context reads `variables` as they are asked for, keeping them lazy
        context = template.new_context(variables if isinstance(variables, Variables)
                                       else Variables(variables), shared=True)
        result = env.concat(template.root_render_func(context))  # type: ignore[attr-defined]
    except jinja2.UndefinedError as err:
        raise InputError(f"undefined variable: {err.message}", **_split(where)) from None
    except jinja2.TemplateSyntaxError as err:
        raise InputError(f"template syntax: {err.message}", path=where or None, line=err.lineno) from None
    except jinja2.TemplateError as err:
        raise InputError(f"template error: {err}", **_split(where)) from None
    return _restore_newlines(source, result, newline)


def _split(where: str) -> dict:
    """"file:line" (or "file") as the keywords of an error."""
    if not where:
        return {}
    path, _, line = where.rpartition(":")
    if path and line.isdigit():
        return {"path": path, "line": int(line)}
    return {"path": where}
