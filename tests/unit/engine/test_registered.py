"""What `register` stores, in Ansible's shapes (docs: common return values)."""

from __future__ import annotations

import pytest

from orchestrator.engine import registered
from orchestrator.engine.registered import KnownAfterApply, NotKnownYet
from orchestrator.templating.render import render_value


def test_output_shape() -> None:
    value = registered.of_output(True, False, ["a", "b"], ["e"], rc=0)
    assert value == {"changed": True, "failed": False, "stdout": "a\nb",
                     "stdout_lines": ["a", "b"], "stderr": "e", "stderr_lines": ["e"], "rc": 0}


def test_skipped_shape() -> None:
    assert registered.skipped("x == 1") == {
        "changed": False, "skipped": True, "skip_reason": "Conditional result was False",
        "false_condition": "x == 1"}


@pytest.mark.parametrize("items, changed, failed, skipped, msg", [
    ([{"changed": False}, {"changed": True}], True, False, False, "All items completed"),
    ([{"changed": False, "failed": True}], False, True, False, "One or more items failed"),
    ([{"changed": False, "skipped": True}] * 2, False, False, True, "All items completed"),
    ([], False, False, False, "All items completed"),
])
def test_loop_shape(items, changed, failed, skipped, msg) -> None:
    value = registered.of_loop([dict(i) for i in items])
    assert value["changed"] is changed and value["skipped"] is skipped
    assert value.get("failed", False) is failed and value["msg"] == msg
    assert all(r["ansible_loop_var"] == "item" for r in value["results"])


@pytest.mark.parametrize("template", [
    "{{ out.stdout }}", "{{ out['rc'] }}", "{{ out is changed }}", "{{ out | length }}",
    "{% if out %}x{% endif %}",
])
def test_a_plan_never_guesses_a_result(template: str) -> None:
    with pytest.raises(NotKnownYet, match="known after apply: reads 'out'"):
        render_value(template, {"out": KnownAfterApply("out")}, "t.yaml:1")
