"""Debian packages: the installed version of each package a task names, or its absence, and
the host's installed set with its user and group names before the run.

A rollback purges what the run installed, with the dependencies apt pulled in for it (marked
automatic) and the system accounts their maintainer scripts made (`account.created_by_packages`);
a package whose version changed gets that version back while apt can still fetch it.
"""

from __future__ import annotations

from shlex import quote
from typing import Any

from pyinfra.operations import apt

from orchestrator.modules import aptget
from orchestrator.undo.kinds import account
from orchestrator.undo.kinds.base import HostPlan, Kind, PreImage, Resource, difference

NAME = "package"


def _packages(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return [Resource(NAME, str(p).split("=")[0]) for p in kwargs.get("packages") or []]


def _deb(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    if kwargs.get("package"):
        return [Resource(NAME, kwargs["package"])]
    return [Resource("unsupported", kwargs["src"], {
        "why": "a .deb fetched from a URL names its package only once downloaded"})]


def _apt_get(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return [Resource("unsupported", f"apt-get {kwargs['action']}", {
        "why": f"the packages apt-get {kwargs['action']} changes are not named in advance"})]


OPERATIONS = {apt.packages: _packages, aptget.deb: _deb, aptget.action: _apt_get}

SHELL = r"""
snap_package() {
  printf '%s\tpackage\t%s\n' "$1" "$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' -- "$2" 2>/dev/null)"
}
snap_packages() {
  printf 'packages\t%s\n' "$(dpkg-query -W -f='${Package} ' 2>/dev/null)"
  printf 'accounts\t%s\t%s\n' "$(cut -d: -f1 /etc/passwd | tr '\n' ' ')" "$(cut -d: -f1 /etc/group | tr '\n' ' ')"
}
"""
# the line that captures the installed set before the run, when a package is recorded
CAPTURE_INSTALLED = "snap_packages"


def capture(index: int, key: str, copy_to: str) -> str:
    return f"snap_package {index} {quote(key)}"


def parse(tag: str, fields: list[str], state: dict[str, Any]) -> None:
    status, _, version = (fields[0] if fields else "").partition("|")
    state["version"] = version if status.startswith("ii") else None


def parse_installed(fields: list[str], found: dict[str, list[str]] | None
                    ) -> dict[str, list[str]] | None:
    """Read a `packages` or `accounts` line of the capture into `found`: installed package
    names, then the user and group names (an `accounts` line counts only after `packages`)."""
    if fields[0] == "packages":
        return {"installed": fields[1].split() if len(fields) > 1 else []}
    if found is not None:
        found["users"], found["groups"] = fields[1].split(), fields[2].split()
    return found


def summary(image: PreImage) -> str:
    return image.state.get("version") or "not installed"


def installed_before(plan: HostPlan) -> dict[str, set[str]] | None:
    """The host's installed set and account names before the run: the first batch's."""
    first = next((b.packages for b in plan.batches if b.packages is not None), None)
    return {k: set(v) for k, v in first.items()} if first is not None else None


def _now_installed(plan: HostPlan) -> tuple[set[str], set[str]]:
    """Installed packages, and those apt marked automatic (read from its state file: `apt-mark
    showauto` takes seconds)."""
    _, lines = plan.reads.shell(
        "dpkg-query -W -f='${db:Status-Abbrev}${Package}\\n'; echo @@auto; "
        "awk '/^Package:/{p=$2} /^Auto-Installed: 1/{print p}' /var/lib/apt/extended_states")
    listed, _, auto = "\n".join(lines).partition("@@auto")
    installed = {line[3:].strip() for line in listed.splitlines() if line.startswith("ii")}
    return installed, set(auto.split())


def restore(plan: HostPlan, image: PreImage) -> None:
    """All of the run's packages at once, at the newest one's place: one purge, one install."""
    if plan.memo.get(NAME):
        return
    plan.memo[NAME] = True
    step = plan.step(image)
    images = [i for i in plan.images if i.kind == NAME]
    before = installed_before(plan)
    installed, auto = _now_installed(plan)
    new = {i.key for i in images if not i.state.get("version") and i.key in installed}
    if before is not None:
        new |= {p for p in installed - before["installed"] if p in auto}
    if new:
        plan.add(step, apt.packages, packages=sorted(new), present=False, purge=True)
    versions = [f"{i.key}={i.state['version']}" for i in images if i.state.get("version")]
    if versions:
        plan.add(step, apt.packages, packages=versions, present=True,
                 extra_install_args="--allow-downgrades")
    if new and before is not None:
        account.created_by_packages(plan, before)


KIND = Kind(NAME, OPERATIONS, summary, restore, shell=SHELL, capture=capture,
            tags=(NAME,), parse=parse, difference=difference(("version",)))
