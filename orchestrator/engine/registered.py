"""What `register:` stores: a task's result on one host, in the shape Ansible gives it.

Ansible's common return values (docs: "Return Values", reference_appendices/common_return_values)
are `changed`, `failed`, `skipped`, `msg`, `rc`, `stdout`/`stdout_lines`, `stderr`/
`stderr_lines`; a looped task registers `results` (one such dict per item, with `item` and
`ansible_loop_var`), `changed`/`failed`/`skipped` over the items and `msg: "All items
completed"`. A skipped task registers `{"changed": false, "skipped": true, "skip_reason":
"Conditional result was False", "false_condition": ...}`.

In a plan nothing runs: a task predicted to change registers `KnownAfterApply`, and any later
template that reads it stops with `NotKnownYet`, so the plan shows that task as known after
apply instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import OrcError


class NotKnownYet(OrcError):
    """A template read a value only an apply can produce (in a plan). An OrcError, so the
    templating passes it through untouched to the task that read it."""

    def __init__(self, name: str):
        super().__init__(f"known after apply: reads {name!r}, registered by a task that "
                         "would change the host")
        self.name = name


@dataclass(frozen=True)
class KnownAfterApply(Mapping):
    """A registered result a plan cannot know: reading anything of it raises NotKnownYet."""

    name: str

    def __getitem__(self, key: str) -> Any:
        raise NotKnownYet(self.name)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key == "name":
            raise AttributeError(key)
        raise NotKnownYet(self.name)

    def __iter__(self):  # type: ignore[override]
        raise NotKnownYet(self.name)

    def __len__(self) -> int:
        raise NotKnownYet(self.name)

    def __bool__(self) -> bool:
        raise NotKnownYet(self.name)

    def __str__(self) -> str:
        raise NotKnownYet(self.name)


def skipped(condition: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = {"changed": False, "skipped": True,
                              "skip_reason": "Conditional result was False"}
    if condition is not None:
        result["false_condition"] = condition
    return result


def of_output(changed: bool, failed: bool, stdout: list[str], stderr: list[str],
              rc: int | None = None, msg: str | None = None, **extra: Any) -> dict[str, Any]:
    """The result of a task that ran commands (pyinfra's output lines)."""
    result: dict[str, Any] = {
        "changed": changed,
        "failed": failed,
        "stdout": "\n".join(stdout),
        "stdout_lines": list(stdout),
        "stderr": "\n".join(stderr),
        "stderr_lines": list(stderr),
    }
    if rc is not None:
        result["rc"] = rc
    if msg is not None:
        result["msg"] = msg
    result.update(extra)
    return result


def of_loop(items: list[dict[str, Any]], loop_var: str = "item") -> dict[str, Any]:
    """A looped task's registered value: Ansible's `results` list and its summary keys."""
    result: dict[str, Any] = {
        "changed": any(r.get("changed") for r in items),
        "msg": "All items completed",
        "results": items,
        "skipped": bool(items) and all(r.get("skipped") for r in items),
    }
    if any(r.get("failed") for r in items):
        result["failed"] = True
        result["msg"] = "One or more items failed"
    for r in items:
        r.setdefault("ansible_loop_var", loop_var)
    return result
