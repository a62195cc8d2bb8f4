"""A task's loop, as Ansible runs it: `loop:` or one `with_<lookup>:`, and `loop_control`.

Parsed when the playbook is loaded (`parse_loop`), so a task with two loop keywords, a
`with_` naming no lookup, or a `loop_control` key Ansible does not have is refused there, in
one line at that key's own line. Per host, the executor asks the `Loop` for:

- `items(variables)`: the list the task iterates, exactly as ansible-core 2.19 builds it.
  `loop:` must render to a list and is taken as it is (no flattening); `with_<name>:` renders
  its terms (a string or a non-list becomes a one-term list) and hands them to the lookup of
  that name (`orchestrator.templating.lookups`): `with_items` flattens one level, `with_list` nothing,
  `with_dict` gives `{key, value}` items, `with_subelements` `[element, sub]` pairs, and so on.
  In `with_first_found` a term that is undefined is dropped and the files are looked for in
  `templates/`, `vars/` or `files/` after the task's module, as Ansible does.
- `scope(index, item, items)`: the variables one iteration adds: `loop_var` (default `item`),
  `index_var` when set, `ansible_loop_var`, `ansible_index_var`, and `ansible_loop` (index,
  index0, revindex, revindex0, first, last, length, allitems, previtem, nextitem) with
  `extended: true` (`allitems` left out with `extended_allitems: false`).
- `label(variables)`: what a result shows for the iteration (`loop_control.label` rendered
  with the iteration's variables; the item itself by default).
- `pause(variables)`: seconds to wait between two iterations (`loop_control.pause`, rendered
  when it is a template; 0 when unset). The executor waits that long after each item but the
  last, while the task runs, as Ansible does; `wait(seconds)` does the waiting without
  holding up other hosts.

Source of the rules: Ansible's "Loops" guide (playbooks_loops) and `ansible-doc -t lookup`,
checked against ansible-core 2.19 in tests/test_loops.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load import coerce
from orchestrator.load.yamlfile import Located
from orchestrator.modules.base import nearest
from orchestrator.templating import lookups

LOOP_CONTROL = ("loop_var", "index_var", "label", "pause", "extended", "extended_allitems")
# in Ansible's loop_control, not (yet) in orc: refused by name rather than ignored
_UNSUPPORTED = {"break_when": "it needs each item's result before the next item is prepared"}


def is_loop_key(key: Any) -> bool:
    """`loop` or any `with_<something>`: a loop keyword, whether or not the lookup exists."""
    return isinstance(key, str) and (key == "loop" or key.startswith("with_"))


@dataclass(frozen=True)
class Loop:
    """One task's loop as loaded: the keyword, its raw value (templates unrendered) and
    `loop_control`."""

    keyword: str  # "loop" or "with_<lookup>"
    terms: Any
    path: str = ""
    line: int = 0
    action: str = ""  # the task's module: where `with_first_found` looks
    loop_var: str = "item"
    index_var: str | None = None
    label_template: Any = None  # None: the item is its own label
    pause_value: float | str = 0  # seconds, or a template rendered per host
    extended: bool = False
    extended_allitems: bool = True

    @property
    def lookup(self) -> str | None:
        """The lookup of a `with_<lookup>` loop; None for `loop:`."""
        return None if self.keyword == "loop" else self.keyword[len("with_"):]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def items(self, variables: Mapping[str, Any]) -> list[Any]:
        """The list the task iterates on one host (see the module docstring). Errors are
        InputErrors at the loop keyword's line."""
        from orchestrator.templating.render import render_value

        if self.lookup is None:
            value = render_value(self.terms, variables, self.where)
            if not isinstance(value, list):
                raise InputError(f"loop: the value must resolve to a list, not "
                                 f"{type(value).__name__} {value!r:.60}", **self._location)
            return value
        if self.lookup == "first_found":
            terms = _defined_terms(self.terms, variables, self.where)
        else:
            terms = render_value(self.terms, variables, self.where)
        if not isinstance(terms, list):
            terms = [terms]
        options = {"subdir": _first_found_subdir(self.action)} \
            if self.lookup == "first_found" else {}
        try:
            found = lookups.run(self.lookup, terms, variables, **options)
        except InputError as err:
            raise InputError(f"{self.keyword}: {err.message}", **self._location) from None
        return list(found)

    def scope(self, index: int, item: Any, items: list[Any]) -> dict[str, Any]:
        """The variables iteration `index` (from 0) of `items` sees, besides the task's."""
        found: dict[str, Any] = {self.loop_var: item, "ansible_loop_var": self.loop_var}
        if self.index_var is not None:
            found[self.index_var] = index
            found["ansible_index_var"] = self.index_var
        if self.extended:
            length = len(items)
            info: dict[str, Any] = {
                "index": index + 1, "index0": index, "first": index == 0,
                "last": index == length - 1, "length": length, "revindex": length - index,
                "revindex0": length - index - 1,
            }
            if self.extended_allitems:
                info["allitems"] = items
            if index < length - 1:  # in Ansible's order: nextitem before previtem
                info["nextitem"] = items[index + 1]
            if index > 0:
                info["previtem"] = items[index - 1]
            found["ansible_loop"] = info
        return found

    def label(self, variables: Mapping[str, Any]) -> Any:
        """What the result of one iteration shows: `loop_control.label` rendered with the
        iteration's variables (`variables` with `scope` applied), else the item."""
        if self.label_template is None:
            return variables[self.loop_var]
        from orchestrator.templating.render import render_value

        return render_value(self.label_template, variables, self.where)

    def pause(self, variables: Mapping[str, Any]) -> float:
        """Seconds to wait between two iterations on this host (0: none)."""
        value = self.pause_value
        if isinstance(value, str):
            from orchestrator.templating.render import render_value

            value = render_value(value, variables, self.where)
        return _seconds(value, self._location)

    @staticmethod
    def wait(seconds: float) -> None:
        """Wait between two iterations; other hosts (greenlets) go on meanwhile."""
        import gevent

        if seconds > 0:
            gevent.sleep(seconds)

    @property
    def _location(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line}


def _first_found_subdir(action: str) -> str:
    """Where `with_first_found` looks, after the task's module name: Ansible's guess from
    `template`, `var` or `file` appearing in it, in that order (`files` otherwise)."""
    return next((f"{word}s" for word in ("template", "var", "file") if word in action), "files")


def _defined_terms(terms: Any, variables: Mapping[str, Any], where: str) -> Any:
    """`with_first_found`'s terms rendered, with those that are undefined dropped (at any
    depth, as Ansible does for this loop only)."""
    from orchestrator.templating.render import render_value

    if isinstance(terms, list):
        kept = []
        for term in terms:
            value = _defined_terms(term, variables, where)
            if value is not _UNDEFINED:
                kept.append(value)
        return kept
    if isinstance(terms, Mapping):
        return {k: v for k, v in ((k, _defined_terms(v, variables, where))
                                  for k, v in terms.items()) if v is not _UNDEFINED}
    try:
        return render_value(terms, variables, where)
    except InputError as err:
        if err.message.startswith("undefined variable"):
            return _UNDEFINED
        raise


_UNDEFINED = object()


def _seconds(value: Any, where: dict[str, Any]) -> float:
    if isinstance(value, bool) or value is None:
        raise InputError(f"loop_control: pause {value!r} is not a number of seconds", **where)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InputError(f"loop_control: pause {value!r} is not a number of seconds",
                         **where) from None
    if seconds < 0 or seconds != seconds:
        raise InputError(f"loop_control: pause {value!r} is not a number of seconds", **where)
    return seconds


def _line(raw: Any, key: str, default: int) -> int:
    return raw.line_of(key) if isinstance(raw, Located) else default


def parse_loop(raw: Mapping[str, Any], *, path: str, line: int, action: str = ""
               ) -> Loop | None:
    """The loop of a task's raw mapping, checked (None: the task does not loop). Refused, each
    at its key's line: two loop keywords, `with_<name>` without a lookup of that name, a
    `loop_control` that is not a mapping or has a key Ansible does not know, a `loop_var` or
    `index_var` that is no variable name, a `pause` that is no number of seconds, `extended`
    that is no boolean."""
    keys = [k for k in raw if is_loop_key(k)]
    control_raw = raw.get("loop_control")
    control_line = _line(raw, "loop_control", line)
    if control_raw is not None and not isinstance(control_raw, Mapping):
        raise InputError("loop_control: expected a mapping", path=path, line=control_line)
    control: Mapping[str, Any] = control_raw or {}
    if len(keys) > 1:
        raise InputError(f"duplicate loop in task: {keys[0]} and {keys[1]} (one loop "
                         "keyword per task)", path=path, line=_line(raw, keys[1], line))
    for key in control:
        where = {"path": path, "line": _line(control, key, control_line)}
        if key in _UNSUPPORTED:
            raise InputError(f"loop_control: {key} is not supported by orc: "
                             f"{_UNSUPPORTED[key]}", **where)
        if key not in LOOP_CONTROL:
            raise InputError(f"loop_control: unknown key {key!r}"
                             f"{nearest(str(key), list(LOOP_CONTROL))}", **where)
    def where_of(key: str) -> dict[str, Any]:
        return {"path": path, "line": _line(control, key, control_line)}

    names = {}
    for key in ("loop_var", "index_var"):
        value = control.get(key, "item" if key == "loop_var" else None)
        if value is not None and (not isinstance(value, str) or not value.isidentifier()):
            raise InputError(f"loop_control: {key} {value!r} is not a variable name",
                             **where_of(key))
        names[key] = value
    pause = control.get("pause", 0)
    if not (isinstance(pause, str) and ("{{" in pause or "{%" in pause)):
        pause = _seconds(pause, where_of("pause"))
    flags = {}
    for key, default in (("extended", False), ("extended_allitems", True)):
        try:
            flags[key] = coerce.boolean(control.get(key, default))
        except coerce.ConversionError as err:
            raise InputError(f"loop_control: {key}: {err}", **where_of(key)) from None
    if not keys:
        return None
    keyword = keys[0]
    key_line = _line(raw, keyword, line)
    if keyword != "loop" and not lookups.exists(keyword[len("with_"):]):
        lookup = keyword[len("with_"):]
        raise InputError(f"unknown loop keyword {keyword!r}: no lookup {lookup!r}"
                         f"{nearest(keyword, ['with_' + n for n in lookups.names()])}",
                         path=path, line=key_line)

    canonical = "with_" + lookups.canonical(keyword[len("with_"):]) if keyword != "loop" \
        else keyword
    return Loop(keyword=canonical, terms=raw[keyword], path=path, line=key_line,
                action=action, loop_var=names["loop_var"], index_var=names["index_var"],
                label_template=control.get("label"), pause_value=pause,
                extended=flags["extended"], extended_allitems=flags["extended_allitems"])
