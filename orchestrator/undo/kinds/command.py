"""Commands: what a `command` or `shell` task changes is not known, so nothing is captured; its
task's `undo:` command is recorded and run by a rollback. A command without one is reported
irreversible, never skipped silently."""

from __future__ import annotations

from typing import Any

from pyinfra.operations import server

from orchestrator.undo.kinds.base import HostPlan, Kind, PreImage, Resource

NAME = "command"


def _shell(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return [Resource(NAME, " && ".join(kwargs["commands"]), {"undo": undo})]


OPERATIONS = {server.shell: _shell}


def summary(image: PreImage) -> str:
    return f"undo: {image.extra['undo']}" if image.extra.get("undo") else "irreversible"


def restore(plan: HostPlan, image: PreImage) -> None:
    undo = image.extra.get("undo")
    if not undo:
        plan.outcome(image, "irreversible", "a command without `undo:`")
        return
    plan.add(plan.step(image), server.shell, commands=[undo])


KIND = Kind(NAME, OPERATIONS, summary, restore, restorable=False)
