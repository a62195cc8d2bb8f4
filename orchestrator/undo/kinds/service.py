"""systemd services: whether a unit is active and enabled, and whether it existed at all.

A unit the run created is stopped and taken off boot with the files. A unit that existed is put
back to running and enabled as it was in a second pyinfra State, once its files are back (and
units are reloaded when a unit file was restored); the handlers the restored tasks notify run
then too, except a restart of a service that will not be running. A service's running state is
not compared for drift: units stop and fail on their own (that is often why one rolls back).
"""

from __future__ import annotations

from shlex import quote
from typing import Any

from pyinfra.facts.systemd import SystemdStatus
from pyinfra.operations import server, systemd

from orchestrator.undo.kinds.base import HostPlan, Kind, PreImage, Resource, difference

NAME = "service"
UNIT_DIRS = ("/etc/systemd/", "/lib/systemd/")


def _unit(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    name = kwargs["service"]
    return [Resource(NAME, name if "." in name else f"{name}.service")]


def _reload(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return []  # rereads unit files: the state it reads is what the journal restores


OPERATIONS = {systemd.service: _unit, systemd.daemon_reload: _reload}

SHELL = r"""
snap_service() {
  printf '%s\tservice\t%s\t%s\t%s\n' "$1" "$(systemctl is-active -- "$2" 2>/dev/null)" \
    "$(systemctl is-enabled -- "$2" 2>/dev/null)" "$(systemctl show -p LoadState --value -- "$2" 2>/dev/null)"
}
"""


def capture(index: int, key: str, copy_to: str) -> str:
    return f"snap_service {index} {quote(key)}"


def parse(tag: str, fields: list[str], state: dict[str, Any]) -> None:
    active, enabled, load = (fields + ["", "", ""])[:3]
    state.update(active=active, enabled=enabled, load=load)


def summary(image: PreImage) -> str:
    return f"{image.state.get('active')}, {image.state.get('enabled') or 'no unit file'}"


def existed(image: PreImage) -> bool:
    return image.state.get("load") == "loaded"


def restore(plan: HostPlan, image: PreImage) -> None:
    if existed(image):
        return  # `settle`, once its files are back
    # the unit did not exist: stop it and take it off boot
    plan.add(plan.step(image), systemd.service, service=image.key, running=False, enabled=False)


def after(plan: HostPlan) -> None:
    """Reload units when a restored path is a unit file."""
    if any(s.image.kind == "path" and s.image.key.startswith(UNIT_DIRS) and s.calls
           for s in plan.body):
        step = plan.step(PreImage(-1, NAME, "daemon-reload", "systemd units", "", False))
        plan.add(step, systemd.daemon_reload)


def settle(plan: HostPlan, images: list[PreImage]) -> None:
    """Services back to running and enabled as they were; a unit that failed meanwhile is
    reset first. Notes which units will run, for `handler_runs`."""
    wanted = dict(plan.reads.fact(SystemdStatus))
    for image in images:
        step = plan.step(image)
        active = image.state.get("active") == "active"
        wanted[image.key] = active
        failed, _ = plan.reads.shell(f"systemctl is-failed --quiet {image.key}")
        if active and failed:
            plan.add(step, server.shell, commands=[f"systemctl reset-failed {image.key}"])
        enabled = {"enabled": True, "disabled": False}.get(image.state.get("enabled"))
        plan.add(step, systemd.service, service=image.key, running=active, enabled=enabled)
    plan.memo[NAME] = wanted


def handler_runs(plan: HostPlan, handler: dict[str, Any]) -> bool:
    """Whether a handler runs after a rollback: not a restart of a service that will not be
    running (`settle` ran first)."""
    if handler["module"] not in ("service", "systemd"):
        return True
    name = handler["args"].get("name")
    return bool(plan.memo.get(NAME, {}).get(name if "." in name else f"{name}.service"))


KIND = Kind(NAME, OPERATIONS, summary, restore, shell=SHELL, capture=capture, tags=(NAME,),
            parse=parse, difference=difference(("enabled",)), after=after, later=existed,
            settle=settle)
