"""Which variables a task reads: the engine batches tasks unless one reads a result not known
yet, so a name missed here would read a stale value and a name invented would only cost a
round trip."""

from __future__ import annotations

import pytest

from orchestrator.engine.reads import EVERYTHING, names_read, waits_for
from orchestrator.load.tasks import parse_task
from orchestrator.load.yamlfile import parse


def _task(text: str):
    return parse_task(parse(text, path="t.yaml")[0], path="t.yaml")


@pytest.mark.parametrize("text, read", [
    ("- copy: {content: '{{ out.stdout }}', dest: /x}", {"out"}),
    ("- copy: {content: x, dest: /x}\n  when: out.rc == 0", {"out"}),
    ("- copy: {content: x, dest: /x}\n  when: [a, 'b is changed']", {"a", "b"}),
    ("- command: echo\n  register: r\n  changed_when: \"'x' in r.stdout\"", {"r"}),
    ("- command: echo\n  register: r\n  failed_when: r.rc > 1", {"r"}),
    ("- copy: {content: '{{ item }}', dest: /x}\n  loop: '{{ things }}'", {"item", "things"}),
    ("- copy: {content: '{% for x in xs %}{{ x }}{% endfor %}', dest: /x}", {"xs"}),
    ("- copy: {content: plain, dest: /x}", set()),
    ("- set_fact: {'{{ key }}': value}", {"key"}),
    ("- copy: {content: \"{{ lookup('file', f) }}\", dest: /x}", {"f"}),
    ("- copy: {content: \"{{ lookup('vars', 'x' ~ n) }}\", dest: /x}", {"*"}),
    ("- copy: {content: \"{{ q('template', 't.j2') }}\", dest: /x}", {"*"}),
    ("- copy: {content: x, dest: /x}\n  with_items: '{{ a }}'\n"
     "  loop_control: {label: '{{ b }}', pause: '{{ c }}'}", {"a", "b", "c"}),
])
def test_names_read(text: str, read: set[str]) -> None:
    assert names_read(_task(text)) == frozenset(read)


def test_an_unparsable_template_reads_everything() -> None:
    task = _task("- copy: {content: '{{ broken', dest: /x}")
    assert names_read(task) == EVERYTHING
    assert waits_for(task, {"anything": []})


def test_waits_only_for_pending_names() -> None:
    task = _task("- copy: {content: '{{ out.stdout }}', dest: /x}")
    assert waits_for(task, {"out": []})
    assert not waits_for(task, {"other": []})
    assert not waits_for(task, {})


def test_inherited_conditions_count() -> None:
    task = _task("- copy: {content: x, dest: /x}")
    assert waits_for(task, {"probe": []}, extra_conditions="probe.rc == 0")
