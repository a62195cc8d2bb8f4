"""apt-get's whole-system actions (upgrade, dist-upgrade, autoremove, autoclean) and a .deb's
install, run only when apt-get's own simulation (`apt-get -s`) says they would change
something, so a second run reports ok as Ansible's apt does (`ansible-doc apt`: upgrade,
autoremove, autoclean, deb)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyinfra import host
from pyinfra.api import FactBase, operation
from pyinfra.operations import apt

# the lines `apt-get -s <action>` prints for each thing it would do
_ACTIONS = {"upgrade": "Inst", "dist-upgrade": "Inst", "autoremove": "Remv", "autoclean": "Del"}
NONINTERACTIVE = "DEBIAN_FRONTEND=noninteractive"


class AptSimulation(FactBase):
    """How many packages (or cached files) `apt-get -s <action>` would touch."""

    def command(self, action: str, extra: str = "") -> str:
        word = _ACTIONS[action]
        return (f"{NONINTERACTIVE} apt-get -s -q {extra} {action} 2>/dev/null "
                f"| grep -c '^{word} ' || true")

    def process(self, output: list[str]) -> int:
        return int(output[0]) if output and output[0].strip().isdigit() else 0


@operation()
def action(action: str, extra: str = "") -> Iterator[Any]:
    """`apt-get -y <action>`, when its simulation would do anything. `extra`: apt-get options
    (`--with-new-pkgs`, `--auto-remove`)."""
    if host.get_fact(AptSimulation, action=action, extra=extra) == 0:
        host.noop(f"apt-get {action}: nothing to do")
        return
    yield (f"{NONINTERACTIVE} apt-get -y -o Dpkg::Options::=--force-confdef "
           f"-o Dpkg::Options::=--force-confold {extra} {action}")


@operation()
def deb(src: str, package: str | None = None) -> Iterator[Any]:
    """pyinfra's `apt.deb` (a path on the host or a URL it downloads); `package` is the name
    the file holds when it is known in advance, which the journal records."""
    yield from apt.deb._inner(src=src)
