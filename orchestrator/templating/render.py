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

Values follow ansible-core 2.19: a lone expression keeps its native type (a list stays a list,
a generator or a dict view becomes one), text joins values with str() and renders a null as
nothing, trailing newlines are counted against the source rather than kept by jinja2, and a
condition must be a boolean. A string literal in a template written in YAML (task arguments,
variables, conditions) keeps its backslashes as written (`regex_replace('(\\w+)', '\\1')` as
in Ansible), while a template file reads `'\\t'` as a tab, as jinja2 does.
"""

from __future__ import annotations

import ast
import math
import re
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.lexer
import jinja2.nativetypes
import jinja2.nodes

from orchestrator.errors import InputError, OrcError
from orchestrator.load import inputfile
from orchestrator.secrets import masking
from orchestrator.templating import lookups
from orchestrator.templating.filters import FILTERS, GLOBALS, TESTS, FilterError, named


def _environment(cls: type[jinja2.Environment], **kwargs: Any) -> jinja2.Environment:
    # keep_trailing_newline off, as in Ansible: the newlines a text result loses at its end are
    # put back by `_restore_newlines`
    env = cls(undefined=jinja2.StrictUndefined, trim_blocks=True, **kwargs)
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    env.globals.update(GLOBALS)
    env.globals.update(lookups.GLOBALS)
    # every filter and test, jinja2's own too, fails in one line naming itself
    env.filters.update(named("filter", env.filters))
    env.tests.update(named("test", env.tests))
    return env


class _RawStringLexer(jinja2.lexer.Lexer):
    """String literals as written: ansible-core 2.19 does not read backslash escapes in a
    template that comes from YAML (YAML has already read its own), so `'\\1'` stays a
    backslash and a digit."""

    def wrap(self, stream: Any, name: str | None = None, filename: str | None = None) -> Any:
        def doubled(stream: Any) -> Any:
            for lineno, token, value in stream:
                if token == jinja2.lexer.TOKEN_STRING:  # jinja2 halves them again
                    value = value[0] + value[1:-1].replace("\\", "\\\\") + value[-1]
                yield lineno, token, value
        return super().wrap(doubled(stream), name, filename)


class _RawStrings:
    """An environment whose string literals keep their backslashes (`_RawStringLexer`)."""

    @property
    def lexer(self) -> jinja2.lexer.Lexer:
        # made afresh for an overlay with other whitespace options (the lexer reads them)
        env: Any = self
        key = (env.trim_blocks, env.lstrip_blocks, env.newline_sequence)
        cached = env.__dict__.get("_raw_lexer")
        if cached is None or cached[0] != key:
            cached = env.__dict__["_raw_lexer"] = (key, _RawStringLexer(env))
        return cached[1]


_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))


def _plain(value: Any) -> Any:
    """A value as ansible-core 2.19 hands it on: tuples, generators, iterators and dict views
    become lists, at any depth (the same object when there is none); an undefined value inside
    (`map(attribute=...)` on an item without it) is the error it is."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises here, naming what is missing
    if isinstance(value, (tuple, Iterator, *_VIEWS)):
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

    def visit_Const(self, node: jinja2.nodes.Const, frame: Any) -> None:
        value = node.as_const(frame.eval_ctx)
        if isinstance(value, float) and not math.isfinite(value):  # `'inf' | float`, folded
            self.write(f"float({str(value)!r})")
        else:
            super().visit_Const(node, frame)


class _NativeEnvironment(jinja2.nativetypes.NativeEnvironment):
    code_generator_class = _RuntimeValues
    concat = staticmethod(_keep_native)  # type: ignore[assignment]


class _YamlTextEnvironment(_RawStrings, jinja2.Environment):
    pass


class _YamlNativeEnvironment(_RawStrings, _NativeEnvironment):
    pass


_TEXT = _environment(_YamlTextEnvironment)
_NATIVE = _environment(_YamlNativeEnvironment)  # templates written in YAML
_FILE = _environment(_NativeEnvironment)  # template files
# template files rendered with other options than Ansible's defaults, by
# (trim_blocks, lstrip_blocks, newline_sequence)
_FILES: dict[tuple[bool, bool, str], jinja2.Environment] = {(True, False, "\n"): _FILE}
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
    """Render every string inside `value`; a lone `{{ expr }}` (with at most one newline after
    it) keeps its native type, as in Ansible; a null in text renders as nothing."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        return _render(_NATIVE, value, variables, where)
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
    source = inputfile.read_text(path)
    try:
        _TEXT.parse(source)
    except jinja2.TemplateSyntaxError as err:
        raise InputError(f"template syntax: {err.message}", path=path, line=err.lineno) from None


def render_file(path: Path, variables: Mapping[str, Any], *, trim_blocks: bool = True,
                lstrip_blocks: bool = False, newline_sequence: str = "\n") -> str:
    """Render a template file as Ansible's template module does: `trim_blocks` on and
    `lstrip_blocks` off unless the task says otherwise, line endings made `newline_sequence`,
    the source's trailing newlines kept, a file without jinja2 markers copied byte for byte,
    and a file that is one lone expression written as that value's text. Errors name the
    template and its line."""
    source = inputfile.read_text(path)  # bytes decoded as they are: CRLF stays CRLF
    source, header = _header(source, path)
    if not is_template(source) and not header:
        return source
    settings = {"trim_blocks": trim_blocks, "lstrip_blocks": lstrip_blocks,
                "newline_sequence": newline_sequence, **header}
    env = _file_environment(settings.pop("trim_blocks"), settings.pop("lstrip_blocks"),
                            settings.pop("newline_sequence"))
    if settings:
        env = env.overlay(**settings)
    newline = env.newline_sequence
    result = _render(env, source, variables, str(path), newline,
                     remember=masking.remember_rendered_file)
    return result if isinstance(result, str) else to_text(result)


# what a template's `#jinja2:` first line may set (the template module's documentation)
HEADER_SETTINGS = frozenset({
    "trim_blocks", "lstrip_blocks", "newline_sequence", "block_start_string",
    "block_end_string", "variable_start_string", "variable_end_string",
    "comment_start_string", "comment_end_string"})


def _header(source: str, path: Path) -> tuple[str, dict[str, Any]]:
    """A first line `#jinja2: trim_blocks: True, lstrip_blocks: True` sets those Jinja options
    for this template, over the task's, and is not part of the output (`ansible-doc template`,
    "override jinja2 settings by adding a special header"). Values are Python literals."""
    if not source.startswith("#jinja2:"):
        return source, {}
    line, _, rest = source.partition("\n")
    settings: dict[str, Any] = {}
    for pair in line[len("#jinja2:"):].split(","):
        key, colon, value = pair.partition(":")
        key = key.strip()
        if not colon or key not in HEADER_SETTINGS:
            raise InputError(f"#jinja2 header: {pair.strip()!r} is not one of "
                             f"{', '.join(sorted(HEADER_SETTINGS))} as key: value",
                             path=path, line=1)
        try:
            settings[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise InputError(f"#jinja2 header: {key}: {value.strip()!r} is not a Python "
                             f"literal", path=path, line=1) from None
    return rest, settings


def render_template_file(path: Path, variables: Mapping[str, Any], *,
                         trim_blocks: bool = True) -> Any:
    """A template file as Ansible's `template` lookup renders it: as `render_file` does, but a
    file that is one lone expression gives that value (a list stays a list), as in
    ansible-core 2.19."""
    source = inputfile.read_text(path)
    if not is_template(source):
        return source
    env = _file_environment(trim_blocks, False, "\n")
    return _render(env, source, variables, str(path), remember=masking.remember_rendered_file)


def _file_environment(trim_blocks: bool, lstrip_blocks: bool,
                      newline_sequence: str) -> jinja2.Environment:
    key = (trim_blocks, lstrip_blocks, newline_sequence)
    if key not in _FILES:
        _FILES[key] = _FILE.overlay(trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks,
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
        value = _render(_NATIVE, "{{ (" + text + ") }}", variables, where, remember=None)
    except InputError as err:
        raise InputError(f"condition {text!r}: {err.message}", **_split(where)) from None
    if not isinstance(value, bool):
        raise InputError(
            f"condition {text.strip()!r} gave {type(value).__name__} {value!r}, not true or "
            "false: a condition must have a boolean result, as in ansible-core 2.19 (compare "
            "it, or use `| bool`)", **_split(where))
    return value


# compiled templates, per environment (an overlay is its own); past this many, it starts afresh
_COMPILED: weakref.WeakKeyDictionary[jinja2.Environment, dict[str, jinja2.Template]] = \
    weakref.WeakKeyDictionary()
_COMPILED_MAX = 8192


def _compiled(env: jinja2.Environment, source: str) -> jinja2.Template:
    """`env.from_string(source)`, compiled once per environment: every host renders the same
    task arguments and templates, and jinja's compiling (lexing, parsing, generating Python and
    `compile`) costs far more than rendering. A Template holds no render state (each render
    makes its own context), and filters, tests and globals are looked up in `env` when it
    renders, so one compiled Template serves every host. A syntax error is not kept: it is
    raised again each time. Not in `env.__dict__`: `overlay()` copies that to environments
    with other whitespace options."""
    cache = _COMPILED.get(env)
    if cache is None or len(cache) >= _COMPILED_MAX:
        cache = _COMPILED[env] = {}
    template = cache.get(source)
    if template is None:
        template = cache[source] = env.from_string(source)
    return template


def _render(env: jinja2.Environment, source: str, variables: Mapping[str, Any], where: str,
            newline: str = "\n", remember: Any = masking.remember_rendered) -> Any:
    """Render `source`, with Ansible's trailing newlines; when it read a secret, `remember`
    keeps what it made of the secret out of every output (None: the result is never shown, as
    a `when:` outcome)."""
    scope = variables if isinstance(variables, Variables) else Variables(variables)
    scope.begin_render()
    try:
        template = _compiled(env, source)
        # a shared context reads `variables` as they are asked for, keeping them lazy
        context = template.new_context(scope, shared=True)
        pieces = _outputs(template.root_render_func(context))  # text, and each expression's
        result = env.concat(pieces)  # type: ignore[attr-defined]
    except jinja2.UndefinedError as err:
        tainted = scope.end_render()
        raise InputError(f"undefined variable: {_told(err.message, source, tainted)}",
                         **_split(where)) from None
    except jinja2.TemplateSyntaxError as err:
        tainted = scope.end_render()
        raise InputError(f"template syntax: {_told(err.message, source, tainted)}",
                         path=where or None, line=err.lineno) from None
    except FilterError as err:
        if scope.end_render():  # its message may quote the value
            raise InputError(f"template error: {err.kind} {err.name!r} failed (its message is "
                             "hidden: the expression read a secret)",
                             **_template_where(where, err)) from None
        raise InputError(f"template error: {err}", **_template_where(where, err)) from None
    except jinja2.TemplateError as err:
        tainted = scope.end_render()
        raise InputError(f"template error: {_told(str(err), source, tainted)}",
                         **_split(where)) from None
    except OrcError as err:
        tainted = scope.end_render()
        if isinstance(err, lookups.LookupFailed) and err.path is None and where:
            # a lookup's failure: at the template that called it
            message = "lookup failed (its message is hidden: the expression read a secret)" \
                if tainted else err.message
            raise type(err)(message, **_template_where(where, err)) from None
        raise
    except Exception as err:  # a filter or operator raised (`{{ 1 / 0 }}`): one line at its line
        if scope.end_render():  # a filter's own error (b64decode, int) may quote the value
            raise InputError(f"template error: {type(err).__name__} (its message is hidden: "
                             "the expression read a secret)", **_template_where(where, err)) from None
        raise InputError(f"{type(err).__name__}: {err}",
                         **_template_where(where, err)) from None
    except BaseException:
        scope.end_render()
        raise
    result = _restore_newlines(source, result, newline)
    if scope.end_render() and remember is not None:
        remember(masking.Rendered(source, result, [to_text(p) for p in pieces],
                                  _shadow(env, source, scope)))
    return result


def _outputs(rendered: Any) -> list:
    """A render's pieces, an expression that gave a generator or a view as the list it makes
    (read once here, so the value and its text for masking see the same items)."""
    return [list(p) if isinstance(p, (Iterator, *_VIEWS)) else p for p in rendered]


def _shadow(env: jinja2.Environment, source: str, scope: Variables) -> masking.Rendered | None:
    """The same render with every secret value changed (same shape, other characters): what
    differs from the real render is what the secrets made. None when it cannot be rendered
    (a secret taken apart as a number, say): then everything the template computed counts."""
    shadow = scope.shadow()
    try:
        template = _compiled(env, source)
        pieces = _outputs(template.root_render_func(template.new_context(shadow, shared=True)))
        return masking.Rendered(source, env.concat(pieces), [to_text(p) for p in pieces], None)  # type: ignore[attr-defined]
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


def _template_where(where: str, err: Exception) -> dict:
    """`_split(where)`, with the template's own line when `where` names no line."""
    found, line = _split(where), None
    tb = err.__traceback__
    while tb is not None:  # the innermost frame of compiled template code maps to a line
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    if line is not None:
        found.setdefault("line", line)
    return found


def _split(where: str) -> dict:
    """"file:line" (or "file") as the keywords of an error."""
    if not where:
        return {}
    path, _, line = where.rpartition(":")
    if path and line.isdigit():
        return {"path": path, "line": int(line)}
    return {"path": where}
