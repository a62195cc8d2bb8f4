"""Kernel parameters: a sysctl key's running value, put back with `server.sysctl`. The file a
task persists it to is recorded as a path."""

from __future__ import annotations

from shlex import quote
from typing import Any

from pyinfra.operations import server

from orchestrator.undo.kinds.base import HostPlan, Kind, PreImage, Resource, difference

NAME = "sysctl"


def _sysctl(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    found = [Resource(NAME, kwargs["key"])]
    if kwargs.get("persist"):
        found.append(Resource("path", kwargs.get("persist_file") or "/etc/sysctl.conf"))
    return found


OPERATIONS = {server.sysctl: _sysctl}

SHELL = r"""
snap_sysctl() { printf '%s\tsysctl\t%s\n' "$1" "$(sysctl -n -- "$2" 2>/dev/null)"; }
"""


def capture(index: int, key: str, copy_to: str) -> str:
    return f"snap_sysctl {index} {quote(key)}"


def parse(tag: str, fields: list[str], state: dict[str, Any]) -> None:
    state["value"] = fields[0] if fields else None


def summary(image: PreImage) -> str:
    return str(image.state.get("value"))


def restore(plan: HostPlan, image: PreImage) -> None:
    step = plan.step(image)
    if image.state.get("value") is not None:
        plan.add(step, server.sysctl, key=image.key, value=image.state["value"], persist=False)


KIND = Kind(NAME, OPERATIONS, summary, restore, shell=SHELL, capture=capture, tags=(NAME,),
            parse=parse, difference=difference(("value",)))
