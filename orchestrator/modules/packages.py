"""Package modules: apt, package, pip -> pyinfra `apt.packages`, `apt.deb`, `pip.packages`, and
apt-get's upgrade/autoremove/autoclean (orchestrator/modules/aptget.py)."""

from __future__ import annotations

import shlex
from typing import Any

from pyinfra.facts.deb import DebPackage
from pyinfra.operations import apt, pip

from orchestrator.modules import aptget

from orchestrator.modules.base import HostContext, Module, OpCall, as_list

STATES = ("present", "installed", "absent", "removed", "latest")
UPGRADES = ("dist", "full", "no", "safe", "yes")


def _apt(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    """Ansible's apt runs, in this order: the cache update, the .deb or the named packages,
    the upgrade, autoremove and autoclean (`ansible-doc apt`)."""
    state = args["state"] or "present"
    names = as_list(args["name"])
    upgrade = args["upgrade"] if args["upgrade"] not in (None, False, "no") else None
    if names and args["deb"]:
        raise ValueError("apt: 'name' and 'deb' are mutually exclusive")
    if not (names or args["deb"] or args["update_cache"] or upgrade or args["autoremove"]
            or args["autoclean"]):
        raise ValueError("apt needs 'name', 'deb', 'upgrade', 'autoremove', 'autoclean' "
                         "or update_cache: true")
    extra = []
    if args["default_release"]:  # Ansible passes it as apt-get's -t (--target-release)
        extra.append(f"-t {shlex.quote(str(args['default_release']))}")
    if args["only_upgrade"]:  # installed packages are upgraded, others are not installed
        extra.append("--only-upgrade")
    uninstall = "--auto-remove" if args["autoremove"] and state in ("absent", "removed") else None
    calls = []
    if names or args["update_cache"]:
        calls.append(OpCall(apt.packages, {
            "packages": names or None,
            "present": state not in ("absent", "removed"),
            "latest": state == "latest",
            "update": bool(args["update_cache"]),
            "cache_time": args["cache_valid_time"],
            "purge": bool(args["purge"]),
            # unset: apt's own configuration decides, as in Ansible (normally: install them)
            "no_recommends": args["install_recommends"] is False,
            "extra_install_args": " ".join(extra) or None,
            "extra_uninstall_args": uninstall,
        }))
    if args["deb"]:
        src = str(args["deb"])
        info = None if "://" in src else ctx.host.get_fact(DebPackage, package=src)
        calls.append(OpCall(aptget.deb, {"src": src,
                                         "package": info.get("name") if info else None}))
    if upgrade:
        # Ansible: dist/full are dist-upgrade; yes/safe upgrade, installing new dependencies
        if upgrade in ("dist", "full"):
            calls.append(OpCall(aptget.action, {"action": "dist-upgrade"}))
        else:
            calls.append(OpCall(aptget.action, {"action": "upgrade",
                                                "extra": "--with-new-pkgs"}))
    if args["autoremove"] and state not in ("absent", "removed"):
        calls.append(OpCall(aptget.action, {"action": "autoremove",
                                            "extra": "--purge" if args["purge"] else ""}))
    if args["autoclean"]:
        calls.append(OpCall(aptget.action, {"action": "autoclean"}))
    return calls


def _pip(args: dict[str, Any], ctx: HostContext) -> list[OpCall]:
    state = args["state"] or "present"
    names = as_list(args["name"])
    if args["version"] and len(names) == 1:
        names = [f"{names[0]}=={args['version']}"]
    venv_kwargs: dict[str, Any] = {}
    if args["virtualenv_command"]:
        command = str(args["virtualenv_command"])
        # Ansible spells the stdlib module as "python3 -m venv"; pyinfra as venv=True
        venv_kwargs = ({"venv": True, "python": command.split()[0]} if "-m venv" in command
                       else {"python": args["virtualenv_python"]})
    return [OpCall(pip.packages, {
        "packages": names or None,
        "present": state not in ("absent", "removed"),
        "latest": state == "latest",
        "requirements": args["requirements"],
        "virtualenv": args["virtualenv"],
        "virtualenv_kwargs": venv_kwargs or None,
        "pip": args["executable"] or "pip3",
        "extra_install_args": args["extra_args"],
    })]


APT_ARGS = {"name": None, "state": "present", "update_cache": False, "cache_valid_time": None,
            "purge": False, "install_recommends": None, "default_release": None, "deb": None,
            "autoremove": False, "autoclean": False, "upgrade": "no", "only_upgrade": False}
APT_TYPES = {"name": "list", "state": "str", "update_cache": "bool", "cache_valid_time": "int",
             "purge": "bool", "install_recommends": "bool", "default_release": "str",
             "deb": "path", "autoremove": "bool", "autoclean": "bool", "upgrade": "str",
             "only_upgrade": "bool"}

MODULES = [
    Module("apt", APT_ARGS, _apt, aliases={"pkg": "name", "package": "name",
                                           "update-cache": "update_cache",
                                           "default-release": "default_release",
                                           "install-recommends": "install_recommends"},
           choices={"state": STATES, "upgrade": UPGRADES}, types=APT_TYPES),
    # `package` is apt here: its arguments are apt's, with apt's types
    Module("package", APT_ARGS, _apt, aliases={"pkg": "name"}, choices={"state": STATES},
           types=APT_TYPES),
    Module("pip", {"name": None, "version": None, "state": "present", "requirements": None,
                   "virtualenv": None, "virtualenv_command": None, "virtualenv_python": None,
                   "executable": None, "extra_args": None}, _pip,
           choices={"state": STATES},
           types={"name": "list", "version": "str", "state": "str", "requirements": "str",
                  "virtualenv": "path", "virtualenv_command": "path",
                  "virtualenv_python": "str", "executable": "path", "extra_args": "str"}),
]
