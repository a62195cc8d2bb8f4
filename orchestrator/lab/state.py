"""What a lab is made of, kept as JSON beside its hosts so any later `orc lab` call can find it.

A lab is named; everything it owns (bridge, subnet, directories, containers) derives from the
name, so two labs (a user's and the test suite's) live side by side without touching each other.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchestrator.errors import InputError

NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
FIRST_HOST_OCTET = 11

# What a lab's hosts are: "full" boots systemd in systemd-nspawn (about 40 MB a host), "light"
# runs sshd alone in its own namespaces (a few MB a host) for workloads without services.
KINDS = ("full", "light")
# Full hosts: what this machine's memory holds. Light hosts: a Linux bridge takes at most 1024
# ports (BR_MAX_PORTS), and a /22 holds 1,022 addresses from .1 (the bridge) on.
MAX_HOSTS = {"full": 200, "light": 1000}
PREFIXLEN = {"full": 24, "light": 22}


def lab_root() -> Path:
    return Path(os.environ.get("ORC_LAB_ROOT", "/var/lib/orc/lab"))


def cache_root() -> Path:
    return Path(os.environ.get("ORC_CACHE", "/var/cache/orc"))


def check_name(name: str) -> str:
    # The bridge (orc-NAME) and the hosts' veths (vb-NAMEnnnn) must fit Linux's 15 characters.
    if not NAME_RE.match(name):
        raise InputError(
            f"lab name {name!r} is not valid: expected 1-8 lowercase letters or digits, "
            "starting with a letter"
        )
    return name


def check_count(count: int, kind: str = "full") -> int:
    if not 1 <= count <= MAX_HOSTS[kind]:
        what = "" if kind == "full" else f" for {kind} hosts"
        raise InputError(
            f"host count {count} is out of range{what}: expected 1 to {MAX_HOSTS[kind]}"
        )
    return count


@dataclass
class LabHost:
    name: str
    address: str
    pid: int | None = None  # systemd-nspawn (full host) or `unshare` (light host)
    leader: int | None = None  # PID 1 of the host's PID namespace: its systemd, or its sshd
    pidns: str | None = None  # that namespace ("pid:[inode]"), so a reused pid is not mistaken

    @property
    def machine(self) -> str:
        return self.name


@dataclass
class Lab:
    name: str
    subnet: str  # e.g. "10.213.7.0/24" (full) or "10.213.8.0/22" (light)
    hosts: list[LabHost] = field(default_factory=list)
    inventory_path: str | None = None
    proxy_pid: int | None = None
    kind: str = "full"  # one of KINDS; fixed when the lab is made

    @property
    def dir(self) -> Path:
        return lab_root() / self.name

    @property
    def bridge(self) -> str:
        return f"orc-{self.name}"

    @property
    def bridge_address(self) -> str:
        return str(next(ipaddress.ip_network(self.subnet).hosts()))

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    @property
    def light(self) -> bool:
        return self.kind == "light"

    @property
    def key_path(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def proxy_url(self) -> str:
        return f"http://{self.bridge_address}:3142"

    def host_dir(self, host: LabHost) -> Path:
        return self.dir / "hosts" / host.name

    def host_known_hosts_path(self, host: LabHost) -> Path:
        """The host's own line of the lab's known_hosts, when the lab wrote one."""
        return self.host_dir(host) / "known_hosts"

    def host_root(self, host: LabHost) -> Path:
        return self.host_dir(host) / "root"

    def host_name(self, index: int) -> str:
        return f"{self.name}{index}"

    def host_address(self, index: int) -> str:
        network = ipaddress.ip_network(self.subnet)
        return str(network.network_address + FIRST_HOST_OCTET - 1 + index)

    def find(self, name: str) -> LabHost | None:
        return next((h for h in self.hosts if h.name == name), None)

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(self.dir / "state.json")

    @classmethod
    def load(cls, name: str) -> Lab | None:
        path = lab_root() / name / "state.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        hosts = [LabHost(**h) for h in data.pop("hosts", [])]
        return cls(hosts=hosts, **data)
