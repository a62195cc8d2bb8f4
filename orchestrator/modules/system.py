"""System modules: service/systemd, user, group, hostname, sysctl, cron -> pyinfra `server.*`,
`systemd.service`, `crontab.crontab`."""

from __future__ import annotations

import shlex
from typing import Any

from pyinfra import host
from pyinfra.api import FactBase, StringCommand, operation
from pyinfra.facts.files import File, Link
from pyinfra.operations import crontab, files, server, systemd

from orchestrator.modules.base import REQUIRED, HostContext, Module, OpCall, as_list, present


class UnitFileState(FactBase):
    """A systemd unit's UnitFileState (`enabled`, `disabled`, `static`, `masked`...; "" for a
    unit systemd does not know)."""

    def command(self, unit: str) -> str:
        return f"systemctl show --property=UnitFileState --value -- {shlex.quote(unit)}"

    def process(self, output: list[str]) -> str:
        return output[0].strip() if output else ""


@operation()
def unit_masked(unit: str, masked: bool = True):
    """Mask (`systemctl mask`: linked to /dev/null, impossible to start) or unmask a unit,
    when it is not so already (Ansible's systemd `masked`)."""
    is_masked = host.get_fact(UnitFileState, unit=unit) in ("masked", "masked-runtime")
    if is_masked != masked:
        yield StringCommand("systemctl", "mask" if masked else "unmask", "--", shlex.quote(unit))


def _service(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    state = args["state"]
    masked = args.get("masked")
    if state is None and args["enabled"] is None and not args["daemon_reload"] \
            and masked is None:
        raise ValueError(f"{'systemd' if 'masked' in args else 'service'} needs 'state', "
                         f"'enabled', 'masked' or 'daemon_reload'")
    # Ansible's order: daemon-reload, mask/unmask, then enabled, then state
    calls = [] if masked is None else [OpCall(unit_masked, {"unit": args["name"],
                                                            "masked": masked})]
    if not args["name"]:
        if state is not None or args["enabled"] is not None or masked is not None:
            raise ValueError("systemd needs 'name' with 'state', 'enabled' or 'masked'")
        # `systemd: daemon_reload: true` alone: reload the units, touch no service
        return [_RELOAD]
    if args["daemon_reload"]:
        calls.insert(0, _RELOAD)
    if state is None and args["enabled"] is None:
        return calls
    return calls + [OpCall(systemd.service, {
        "service": args["name"],
        # without a state, leave running as it is (pyinfra's running=None does not touch it)
        "running": None if state is None else state != "stopped",
        "restarted": state == "restarted",
        "reloaded": state == "reloaded",
        "enabled": args["enabled"],
    })]


# systemd's daemon_reload runs every time it is asked for and is never the task's change
_RELOAD = OpCall(systemd.daemon_reload, {}, counts=False)


def _user(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    return [OpCall(server.user, {
        "user": args["name"],
        "present": present(args),
        "uid": args["uid"],
        "group": args["group"],
        "groups": as_list(args["groups"]) or None,
        "append": bool(args["append"]),
        "home": args["home"],
        "shell": args["shell"],
        "system": bool(args["system"]),
        "create_home": bool(args["create_home"]),
        "comment": args["comment"],
        "password": args["password"],
    })]


def _group(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    return [OpCall(server.group, {
        "group": args["name"], "present": present(args), "gid": args["gid"],
        "system": bool(args["system"]),
    })]


def _hostname(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    return [OpCall(server.hostname, {"hostname": args["name"]})]


def _timezone(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    """community.general.timezone on Debian: /etc/localtime a link into /usr/share/zoneinfo,
    relative, as `timedatectl set-timezone` makes it. /etc/timezone is left as it is, as
    Ansible's module leaves it on a host with systemd (it only calls timedatectl)."""
    if args["hwclock"] is not None:
        raise ValueError("timezone: hwclock is not supported (a container has no RTC to set)")
    name = str(args["name"] or "")
    if not name:
        raise ValueError("timezone needs 'name'")
    zone = f"/usr/share/zoneinfo/{name}"
    if ".." in name.split("/") or not (ctx.host.get_fact(File, path=zone)
                                       or ctx.host.get_fact(Link, path=zone)):
        raise ValueError(f"timezone: {name!r} is not a known time zone ({zone} not found)")
    return [OpCall(files.link, {"path": "/etc/localtime", "target": f"..{zone}",
                                "force": True})]


def _sysctl(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    if not present(args):
        raise ValueError("sysctl state=absent is not supported: set the value you want instead")
    return [OpCall(server.sysctl, {
        "key": args["name"], "value": args["value"], "persist": bool(args["sysctl_set"]),
        "persist_file": args["sysctl_file"],
    })]


def _cron(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    if present(args) and not args["job"]:
        raise ValueError("cron needs 'job' when state=present")
    return [OpCall(crontab.crontab, {
        "command": args["job"] or "",
        "present": present(args),
        "user": args["user"],
        "cron_name": args["name"],
        "minute": args["minute"],
        "hour": args["hour"],
        "day_of_month": args["day"],
        "month": args["month"],
        "day_of_week": args["weekday"],
        "special_time": f"@{args['special_time']}" if args["special_time"] else None,
    })]


SERVICE_ARGS = {"name": REQUIRED, "state": None, "enabled": None, "daemon_reload": False}
SERVICE_STATES = {"state": ("started", "stopped", "restarted", "reloaded")}
SERVICE_TYPES = {"name": "str", "state": "str", "enabled": "bool", "daemon_reload": "bool"}

MODULES = [
    Module("service", SERVICE_ARGS, _service, choices=SERVICE_STATES, types=SERVICE_TYPES),
    *(Module(name, {**SERVICE_ARGS, "name": None, "masked": None}, _service,
             aliases={"unit": "name", "service": "name", "daemon-reload": "daemon_reload"},
             choices=SERVICE_STATES, types={**SERVICE_TYPES, "masked": "bool"})
      for name in ("systemd", "systemd_service")),
    Module("user", {"name": REQUIRED, "state": "present", "uid": None, "group": None,
                    "groups": None, "append": False, "home": None, "shell": None,
                    "system": False, "create_home": True, "comment": None, "password": None},
           _user, choices={"state": ("present", "absent")},
           types={"name": "str", "state": "str", "uid": "int", "group": "str", "groups": "list",
                  "append": "bool", "home": "path", "shell": "path", "system": "bool",
                  "create_home": "bool", "comment": "str", "password": "str"}),
    Module("group", {"name": REQUIRED, "state": "present", "gid": None, "system": False},
           _group, choices={"state": ("present", "absent")},
           types={"name": "str", "state": "str", "gid": "int", "system": "bool"}),
    Module("hostname", {"name": REQUIRED}, _hostname, types={"name": "str"}),
    Module("timezone", {"name": None, "hwclock": None}, _timezone,
           choices={"hwclock": ("local", "UTC")}, types={"name": "str", "hwclock": "str"}),
    Module("sysctl", {"name": REQUIRED, "value": REQUIRED, "state": "present",
                      "sysctl_set": True, "sysctl_file": "/etc/sysctl.conf", "reload": True},
           _sysctl, aliases={"key": "name", "val": "value"},
           choices={"state": ("present",)},
           types={"name": "str", "value": "str", "state": "str", "sysctl_set": "bool",
                  "sysctl_file": "path", "reload": "bool"}),
    Module("cron", {"name": None, "job": None, "state": "present", "user": None,
                    "minute": "*", "hour": "*", "day": "*", "month": "*", "weekday": "*",
                    "special_time": None}, _cron,
           choices={"state": ("present", "absent")},
           types={"name": "str", "job": "str", "state": "str", "user": "str", "minute": "str",
                  "hour": "str", "day": "str", "month": "str", "weekday": "str",
                  "special_time": "str"}),
]
