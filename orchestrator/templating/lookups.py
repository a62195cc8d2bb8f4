"""Ansible's lookup plugins, by name: what `lookup()`, `query()` and the `with_<name>` loops
call. Each runs on the controller, as in Ansible.

A lookup is a function `(terms, variables, **options) -> list`: `terms` are the positional
arguments as the template gave them (already rendered), `variables` the task's variables on
one host (read only when the lookup needs them: `vars`, `varnames`, `template`, and the search
path), `options` the keyword arguments Ansible documents for it (`ansible-doc -t lookup NAME`);
an option it does not document is refused rather than ignored. The semantics are ansible-core
2.19's, checked against it in tests/test_lookups.py.

Relative file names (`file`, `template`, `fileglob`, `first_found`) are searched as Ansible
searches a task's files ("Search paths in Ansible", playbook_pathing): for each directory of
the search path, `<dir>/<subdir>/<name>` then `<dir>/<name>`, where the search path is
`ansible_search_path` when a task sets it, else the role's directory and its `tasks/` (for a
role's task) then the playbook's directory; `<subdir>` is `files` for `file` and `fileglob`,
`templates` for `template`, and none for `first_found` in a template (in `with_first_found` it
is `templates`, `vars` or `files` after the task's module, as Ansible guesses it).

`lookup()` and `query()`/`q()` are jinja2 globals (registered in `orchestrator.templating.render`):
`query` always gives the list; `lookup` gives the list's one element when there is one, its
strings joined with commas when they are all strings, else the list (`wantlist=True`: the
list). `errors='warn'|'ignore'` turn a failure into None (lookup) or [] (query), with a
warning for `warn`.
"""

from __future__ import annotations

import glob
import itertools
import logging
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from orchestrator.errors import InputError

log = logging.getLogger(__name__)

Lookup = Callable[..., list[Any]]


class LookupFailed(InputError):
    """A lookup could not give its values: a file not found, a command that failed, a term of
    the wrong shape. The message names the lookup."""


# name -> (function, the options Ansible documents for it)
_LOOKUPS: dict[str, tuple[Lookup, frozenset[str]]] = {}
_PREFIXES = ("ansible.builtin.", "ansible.legacy.")


def _lookup(name: str, options: tuple[str, ...] = ()) -> Callable[[Lookup], Lookup]:
    def register(function: Lookup) -> Lookup:
        _LOOKUPS[name] = (function, frozenset(options))
        return function
    return register


def names() -> list[str]:
    """Every lookup orc has, sorted (`with_<name>` exists for each)."""
    return sorted(_LOOKUPS)


def canonical(name: str) -> str:
    """`ansible.builtin.file` and `ansible.legacy.file` are `file`."""
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def exists(name: str) -> bool:
    return canonical(name) in _LOOKUPS


def run(name: str, terms: list[Any], variables: Mapping[str, Any], **options: Any) -> list[Any]:
    """The values of lookup `name` for `terms`; an unknown lookup or option, or a failure, is
    a LookupFailed naming it. `subdir` (not an Ansible option) is how `with_first_found`
    passes the directory its task's module implies."""
    short = canonical(name)
    if short not in _LOOKUPS:
        raise LookupFailed(f"lookup {name!r}: no such lookup (orc has: {', '.join(names())})")
    function, known = _LOOKUPS[short]
    unknown = sorted(set(options) - known - ({"subdir"} if short == "first_found" else set()))
    if unknown:
        raise LookupFailed(f"lookup {short!r}: unknown option {unknown[0]!r} (it takes: "
                           f"{', '.join(sorted(known)) or 'no options'})")
    try:
        result = function(list(terms), variables, **options)
    except LookupFailed:
        raise
    except InputError as err:
        raise LookupFailed(f"lookup {short!r}: {err.message}", path=err.path,
                           line=err.line) from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise LookupFailed(f"lookup {short!r}: {type(err).__name__}: {err}") from None
    return result


# -- the search path ---------------------------------------------------------------------------

def search_path(variables: Mapping[str, Any]) -> list[Path]:
    """The directories a task's relative file names are looked up in, in order (see the module
    docstring); the playbook's directory comes last as Ansible's last resort."""
    given = variables.get("ansible_search_path")
    dirs: list[Path] = []
    if isinstance(given, list) and given:
        dirs = [Path(str(d)) for d in given]
    elif variables.get("role_path"):
        role = Path(str(variables["role_path"]))
        dirs = [role, role / "tasks"]
    playbook_dir = variables.get("playbook_dir")
    dirs.append(Path(str(playbook_dir)) if playbook_dir else Path.cwd())
    unique: list[Path] = []
    for directory in dirs:
        if directory not in unique:
            unique.append(directory)
    return unique


def candidates(variables: Mapping[str, Any], subdir: str | None, name: str) -> list[Path]:
    """Where `name` may be, in the order it is looked for: an absolute name is only itself;
    `<dir>/<subdir>/<name>` is skipped when `name` already starts with `<subdir>/`."""
    path = Path(os.path.expanduser(name))
    if path.is_absolute():
        return [path]
    found = []
    for directory in search_path(variables):
        if subdir and name.split("/", 1)[0] != subdir:
            found.append(directory / subdir / name)
        found.append(directory / name)
    return found


def find_file(variables: Mapping[str, Any], subdir: str | None, name: str) -> Path | None:
    """The first of `candidates` that exists (a directory counts, as in Ansible), or None."""
    return next((p for p in candidates(variables, subdir, name) if p.exists()), None)


def _located(variables: Mapping[str, Any], subdir: str | None, name: Any, what: str) -> Path:
    if not isinstance(name, str):
        raise LookupFailed(f"{what}: expected a file name, got {type(name).__name__} {name!r}")
    path = find_file(variables, subdir, name)
    if path is None:
        looked = ", ".join(str(p) for p in candidates(variables, subdir, name))
        raise LookupFailed(f"{what}: could not find {name!r} (looked in {looked})")
    return path


def _boolean(value: Any, option: str) -> bool:
    from orchestrator.load import coerce

    try:
        return coerce.boolean(value)
    except coerce.ConversionError as err:
        raise LookupFailed(f"{option}: {err}") from None


# -- files --------------------------------------------------------------------------------------

@_lookup("file", ("lstrip", "rstrip"))
def file(terms: list[Any], variables: Mapping[str, Any], *, lstrip: Any = False,
         rstrip: Any = True) -> list[str]:
    """Each file's text (from `files/`), its trailing whitespace stripped (`rstrip`, on by
    default) and its leading whitespace when `lstrip` is true."""
    found = []
    for term in terms:
        path = _located(variables, "files", term, "lookup('file')")
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        if _boolean(lstrip, "lstrip"):
            text = text.lstrip()
        if _boolean(rstrip, "rstrip"):
            text = text.rstrip()
        found.append(text)
    return found


@_lookup("template", ("template_vars", "trim_blocks", "convert_data", "jinja2_native",
                      "variable_start_string", "variable_end_string", "comment_start_string",
                      "comment_end_string"))
def template(terms: list[Any], variables: Mapping[str, Any], *, template_vars: Any = None,
             trim_blocks: Any = True, convert_data: Any = True, jinja2_native: Any = True,
             variable_start_string: str = "{{", variable_end_string: str = "}}",
             comment_start_string: str = "{#", comment_end_string: str = "#}") -> list[Any]:
    """Each template file (from `templates/`) rendered with the task's variables and
    `template_vars`; as in ansible-core 2.19 its trailing newlines are kept and a file that is
    one expression gives that value (a list stays a list). `convert_data` and `jinja2_native`
    no longer change anything in 2.19 (deprecated there) and are checked as booleans only."""
    from orchestrator.templating.render import Variables, render_template_file

    _boolean(convert_data, "convert_data")
    _boolean(jinja2_native, "jinja2_native")
    markers = {"variable_start_string": (variable_start_string, "{{"),
               "variable_end_string": (variable_end_string, "}}"),
               "comment_start_string": (comment_start_string, "{#"),
               "comment_end_string": (comment_end_string, "#}")}
    for option, (value, default) in markers.items():
        if value != default:
            raise LookupFailed(f"{option}: only jinja2's default {default!r} is supported")
    if template_vars is not None and not isinstance(template_vars, Mapping):
        raise LookupFailed("template_vars: expected a mapping of variables")
    scope: Mapping[str, Any] = variables
    if template_vars:
        scope = (variables.child(**template_vars) if isinstance(variables, Variables)
                 else {**variables, **template_vars})
    trim = _boolean(trim_blocks, "trim_blocks")
    return [render_template_file(_located(variables, "templates", term, "lookup('template')"),
                                 scope, trim_blocks=trim)
            for term in terms]


@_lookup("fileglob")
def fileglob(terms: list[Any], variables: Mapping[str, Any]) -> list[str]:
    """The files (not directories) matching each pattern, in the first directory that has any:
    a pattern with a directory part is matched in that directory as `file` would find it; a
    bare pattern in each `<dir>/files` and `<dir>` of the search path in turn. Not recursive."""
    found: list[str] = []
    for term in terms:
        if not isinstance(term, str):
            raise LookupFailed(f"lookup('fileglob'): expected a pattern, got {term!r}")
        directory, pattern = os.path.split(term)
        if directory:
            where = find_file(variables, "files", directory)
            places = [where] if where is not None else []
        else:
            places = [p for d in search_path(variables) for p in (d / "files", d)]
        for place in places:
            matches = [m for m in glob.glob(os.path.join(glob.escape(str(place)), pattern))
                       if os.path.isfile(m)]
            if matches:
                found.extend(matches)
                break
    return found


@_lookup("first_found", ("files", "paths", "skip"))
def first_found(terms: list[Any], variables: Mapping[str, Any], *, files: Any = None,
                paths: Any = None, skip: Any = False, subdir: str | None = None) -> list[str]:
    """The first file that exists of the names given, as a one-element list. Terms are names
    (a string may hold several, split at `,` and `;`), lists of them, or mappings with
    `files`, `paths` (split at `,`, `:` and `;`) and `skip`; with `paths`, each path is joined
    with each file. Nothing found: [] when `skip` is true, else a failure."""
    base_skip = _boolean(skip, "skip")
    if not terms:
        terms = [{"files": files or [], "paths": paths or [], "skip": base_skip}]
    names, skip_found = _first_found_names(terms, files, paths, base_skip)
    for name in names:
        path = find_file(variables, subdir, name)
        if path is not None:
            return [str(path)]
    if skip_found:
        return []
    raise LookupFailed("lookup('first_found'): no file was found when using first_found "
                       f"(tried: {', '.join(names) or 'no names'})")


def _split_on(values: Any, separators: str, option: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise LookupFailed(f"lookup('first_found'): {option}: expected a list of strings, got "
                           f"{values!r}")
    return [part for value in values for part in re.split(f"[{separators}]", value) if part]


def _first_found_names(terms: list[Any], files: Any, paths: Any,
                       skip: bool) -> tuple[list[str], bool]:
    names: list[str] = []
    for term in terms:
        if isinstance(term, Mapping):
            unknown = sorted(set(term) - {"files", "paths", "skip"})
            if unknown:
                raise LookupFailed(f"lookup('first_found'): unknown key {unknown[0]!r} (it "
                                   "takes files, paths, skip)")
            term_files = _split_on(term.get("files", files), ",;", "files")
            term_paths = _split_on(term.get("paths", paths), ",:;", "paths")
            skip = _boolean(term.get("skip", skip), "skip")
        elif isinstance(term, str):
            term_files, term_paths = _split_on(term, ",;", "files"), []
        elif isinstance(term, list):
            more, skip = _first_found_names(term, files, paths, skip)
            names.extend(more)
            continue
        else:
            raise LookupFailed(f"lookup('first_found'): a term is a file name, a list or a "
                               f"mapping, not {type(term).__name__} {term!r}")
        if term_paths:
            names.extend(os.path.join(p, f) for p in term_paths for f in term_files)
        else:
            names.extend(term_files)
    return names, skip


# -- the controller's environment ---------------------------------------------------------------

@_lookup("env", ("default",))
def env(terms: list[Any], variables: Mapping[str, Any], *, default: Any = "") -> list[Any]:
    """The controller's environment variables, `default` for those unset."""
    return [os.environ.get(str(term), default) for term in terms]


@_lookup("pipe")
def pipe(terms: list[Any], variables: Mapping[str, Any]) -> list[str]:
    """Each command's standard output (trailing whitespace stripped), run by the shell on the
    controller from the playbook's directory; a non-zero exit fails."""
    cwd = search_path(variables)[-1]
    found = []
    for term in terms:
        try:
            done = subprocess.run(str(term), shell=True, cwd=cwd if cwd.is_dir() else None,
                                  capture_output=True, check=False)
        except OSError as err:
            raise LookupFailed(f"lookup('pipe'): {term}: {err}") from None
        if done.returncode != 0:
            raise LookupFailed(f"lookup('pipe'): {shlex.quote(str(term))} returned "
                               f"{done.returncode}")
        found.append(done.stdout.decode("utf-8", errors="replace").rstrip())
    return found


# -- variables ----------------------------------------------------------------------------------

_NO_DEFAULT = object()


@_lookup("vars", ("default",))
def vars_(terms: list[Any], variables: Mapping[str, Any], *,
          default: Any = _NO_DEFAULT) -> list[Any]:
    """The values of the variables named (rendered, as every variable is when read)."""
    found = []
    for term in terms:
        if not isinstance(term, str):
            raise LookupFailed(f"lookup('vars'): a variable name is a string, not {term!r}")
        if term in variables and not isinstance(variables[term], jinja2.Undefined):
            found.append(variables[term])
        elif default is not _NO_DEFAULT:
            found.append(default)
        else:
            raise LookupFailed(f"lookup('vars'): no variable named {term!r} was found")
    return found


@_lookup("varnames")
def varnames(terms: list[Any], variables: Mapping[str, Any]) -> list[str]:
    """The names of the variables that match each regular expression (`re.search`), term by
    term, in the order the variables were defined."""
    found = []
    for term in terms:
        if not isinstance(term, str):
            raise LookupFailed(f"lookup('varnames'): a search term is a string, not {term!r}")
        try:
            pattern = re.compile(term)
        except re.error as err:
            raise LookupFailed(f"lookup('varnames'): unable to use {term!r} as a search "
                               f"parameter: {err}") from None
        found.extend(name for name in variables if pattern.search(name))
    return found


# -- lists ----------------------------------------------------------------------------------------

@_lookup("items")
def items(terms: list[Any], variables: Mapping[str, Any]) -> list[Any]:
    """The terms with one level of lists flattened (`with_items`)."""
    return [v for term in terms for v in (term if isinstance(term, list) else [term])]


@_lookup("list")
def list_(terms: list[Any], variables: Mapping[str, Any]) -> list[Any]:
    """The terms as they are (`with_list`, and what `loop:` does)."""
    return list(terms)



@_lookup("indexed_items")
def indexed_items(terms: list[Any], variables: Mapping[str, Any]) -> list[list[Any]]:
    """`[index, item]` for each item, after `items`' one level of flattening."""
    return [[index, item] for index, item in enumerate(items(terms, variables))]


@_lookup("dict")
def dict_(terms: list[Any], variables: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`{key, value}` for each entry of each mapping, in order (`with_dict`)."""
    found = []
    for term in terms:
        if not isinstance(term, Mapping):
            raise LookupFailed(f"lookup('dict'): expects a dictionary, got {term!r} of type "
                               f"{type(term).__name__}")
        found.extend({"key": key, "value": value} for key, value in term.items())
    return found


def _listed(term: Any) -> list[Any]:
    return term if isinstance(term, list) else [term]


@_lookup("together")
def together(terms: list[Any], variables: Mapping[str, Any]) -> list[list[Any]]:
    """The lists zipped; the shorter ones padded with None (`with_together`)."""
    if not terms:
        raise LookupFailed("lookup('together'): with_together requires at least one element "
                           "in each list")
    return [list(t) for t in itertools.zip_longest(*(_listed(t) for t in terms))]


@_lookup("nested")
def nested(terms: list[Any], variables: Mapping[str, Any]) -> list[list[Any]]:
    """Every combination of one element of each list, the first list varying slowest; each
    combination flattened one level (`with_nested`)."""
    if not terms:
        raise LookupFailed("lookup('nested'): with_nested requires at least one element in the "
                           "nested list")
    if len(terms) == 1:  # Ansible flattens each element: a lone list must hold lists
        for element in _listed(terms[0]):
            if not isinstance(element, list):
                raise LookupFailed(f"lookup('nested'): {type(element).__name__!r} object is "
                                   "not iterable")
        return [list(element) for element in _listed(terms[0])]
    return [[v for part in combination for v in _listed(part)]
            for combination in itertools.product(*(_listed(t) for t in terms))]


@_lookup("subelements")
def subelements(terms: list[Any], variables: Mapping[str, Any]) -> list[list[Any]]:
    """`[element, sub]` for each `sub` of each element's list at the key (a dotted path), the
    element given without that key (`with_subelements`). Terms: the list (or a mapping: its
    values), the key, and optionally `{skip_missing: true}` to pass over elements without it.
    Elements that are skipped results of a registered loop are passed over."""
    if len(terms) not in (2, 3) or not isinstance(terms[1], str):
        raise LookupFailed("lookup('subelements'): expects a list of two or three items: a "
                           "list of mappings, a key, and optionally {skip_missing: true}")
    elements, key = terms[0], terms[1]
    flags = terms[2] if len(terms) == 3 else {}
    if not isinstance(flags, Mapping) or set(flags) - {"skip_missing"}:
        raise LookupFailed("lookup('subelements'): the third term may only be "
                           "{skip_missing: true|false}")
    skip_missing = _boolean(flags.get("skip_missing", False), "skip_missing")
    if isinstance(elements, Mapping):
        if elements.get("skipped"):
            return []
        elements = list(elements.values())
    if not isinstance(elements, list):
        raise LookupFailed(f"lookup('subelements'): the first term is a list of mappings, not "
                           f"{elements!r}")
    path = key.split(".")
    found = []
    for element in elements:
        if not isinstance(element, Mapping):
            raise LookupFailed(f"lookup('subelements'): expects a dictionary, got {element!r}")
        if element.get("skipped") is True:
            continue
        copy = _copy_path(element, path[:-1])
        parent: Any = copy
        missing = False
        for part in path[:-1]:
            if not isinstance(parent, Mapping) or part not in parent:
                missing = True
                break
            parent = parent[part]
        if missing or not isinstance(parent, Mapping) or path[-1] not in parent:
            if skip_missing:
                continue
            raise LookupFailed(f"lookup('subelements'): could not find {key!r} key in "
                               f"iterated item {dict(element)!r}")
        values = parent.pop(path[-1])
        if not isinstance(values, list):
            raise LookupFailed(f"lookup('subelements'): the key {key!r} should point to a "
                               f"list, got {values!r}")
        found.extend([copy, value] for value in values)
    return found


def _copy_path(element: Mapping, path: list[str]) -> dict[str, Any]:
    """A copy of `element` with the mappings along `path` copied too, so popping the last key
    leaves the original whole."""
    copy = dict(element)
    inner = copy
    for part in path:
        if not isinstance(inner.get(part), Mapping):
            break
        inner[part] = dict(inner[part])
        inner = inner[part]
    return copy


# unsigned numbers only: ansible-core refuses `4-2/-1` and `-3` as shortcuts
_SHORTCUT = re.compile(r"^(?:(\d+)-)?(\d+)(?:/(\d+))?(?::(.+))?$")


@_lookup("sequence", ("start", "end", "count", "stride", "format"))
def sequence(terms: list[Any], variables: Mapping[str, Any], **options: Any) -> list[str]:
    """Numbers as formatted strings (`with_sequence`): each term is `key=value` pairs (start,
    end, count, stride, format) or the shortcut `[start-]end[/stride][:format]`; keyword
    options give defaults. `end` is included; `count` replaces `end`; counting down needs a
    negative stride, and a zero stride gives nothing."""
    if not terms:
        terms = [""]
    found: list[str] = []
    for term in terms:
        spec = {"start": 1, "end": None, "count": None, "stride": 1, "format": "%d", **options}
        spec.update(_sequence_term(str(term)))
        start, end, count, stride = (_integer(spec[k], k) if spec[k] is not None else None
                                     for k in ("start", "end", "count", "stride"))
        assert start is not None and stride is not None
        if count is not None:
            if end is not None:
                raise LookupFailed("lookup('sequence'): can't use both count and end")
            if count == 0:
                continue
            end = start + (count - 1) * stride
        if end is None:
            raise LookupFailed("lookup('sequence'): must specify count or end")
        if stride == 0:
            continue
        if stride > 0 and end < start:
            raise LookupFailed("lookup('sequence'): to count backwards make stride negative")
        if stride < 0 and end > start:
            raise LookupFailed("lookup('sequence'): to count forward don't make stride "
                               "negative")
        fmt = str(spec["format"])
        try:
            found.extend(fmt % n for n in range(start, end + (1 if stride > 0 else -1), stride))
        except (TypeError, ValueError) as err:
            raise LookupFailed(f"lookup('sequence'): bad format {fmt!r}: {err}") from None
    return found


def _sequence_term(term: str) -> dict[str, Any]:
    term = term.strip()
    if not term:
        return {}
    if "=" not in term:
        match = _SHORTCUT.match(term)
        if match is None:
            raise LookupFailed(f"lookup('sequence'): can't parse arg {term!r} as a "
                               "[start-]end[/stride][:format] shortcut")
        start, end, stride, fmt = match.groups()
        return {k: v for k, v in (("start", start), ("end", end), ("stride", stride),
                                  ("format", fmt)) if v is not None}
    spec: dict[str, Any] = {}
    for part in shlex.split(term):
        key, sep, value = part.partition("=")
        if not sep or key not in ("start", "end", "count", "stride", "format"):
            raise LookupFailed(f"lookup('sequence'): unrecognized arg {part!r} (it takes "
                               "start, end, count, stride, format)")
        spec[key] = value
    return spec


def _integer(value: Any, option: str) -> int:
    if isinstance(value, bool):
        raise LookupFailed(f"lookup('sequence'): {option}: {value!r} is not an integer")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise LookupFailed(f"lookup('sequence'): {option}: {value!r} is not an integer") \
            from None


# -- lookup() and query() in templates -----------------------------------------------------------

def _call(context: Any, name: str, terms: tuple[Any, ...], options: dict[str, Any],
          wantlist: bool) -> Any:
    errors = options.pop("errors", "strict")
    if errors not in ("strict", "warn", "ignore"):
        raise LookupFailed(f"lookup {name!r}: errors={errors!r}: expected strict, warn or "
                           "ignore")
    for term in terms:
        if isinstance(term, jinja2.Undefined):
            str(term)  # StrictUndefined: the undefined variable is named
    variables = context.parent if isinstance(context.parent, Mapping) else context.get_all()
    try:
        result = run(name, list(terms), variables, **options)
    except LookupFailed as err:
        if errors == "strict" or err.message.startswith(f"lookup {name!r}: no such lookup"):
            raise
        if errors == "warn":
            log.warning("%s", err.message)
        return [] if wantlist else None
    if wantlist:
        return result
    if not result:
        return []
    if len(result) == 1:
        return result[0]
    if all(isinstance(v, str) for v in result):
        return ",".join(result)
    return result


@jinja2.pass_context
def lookup_global(context: Any, name: str, *terms: Any, **options: Any) -> Any:
    """Ansible's `lookup(name, *terms, wantlist=False, errors='strict', **options)`."""
    wantlist = _boolean(options.pop("wantlist", False), "wantlist")
    return _call(context, name, terms, options, wantlist)


@jinja2.pass_context
def query_global(context: Any, name: str, *terms: Any, **options: Any) -> list[Any]:
    """Ansible's `query(name, *terms, errors='strict', **options)` (also `q`): the list."""
    options.pop("wantlist", None)
    return _call(context, name, terms, options, True)


GLOBALS = {"lookup": lookup_global, "query": query_global, "q": query_global}
