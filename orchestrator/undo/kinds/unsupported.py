"""What orc does not record: an operation no kind knows, or a change a kind cannot name in
advance. Its record says why, and a rollback lists it as not recorded, never silently."""

from __future__ import annotations

from typing import Any

from pyinfra.operations import pip, server

from orchestrator.undo.kinds.base import HostPlan, Kind, PreImage, Resource

NAME = "unsupported"
# operations known not to be recorded, and why (any other unknown operation: "<name> is not
# recorded")
WHY = {pip.packages: "pip packages are not recorded",
       server.hostname: "hostname is not recorded"}


def of(op: Any) -> list[Resource]:
    """The record of an operation no kind knows."""
    name = getattr(op, "__name__", str(op))
    return [Resource(NAME, name, {"why": WHY.get(op, f"{name} is not recorded")})]


def summary(image: PreImage) -> str:
    return image.extra.get("why", "")


def restore(plan: HostPlan, image: PreImage) -> None:
    plan.outcome(image, "not recorded", image.extra.get("why", ""))


KIND = Kind(NAME, {}, summary, restore, restorable=False)
