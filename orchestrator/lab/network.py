"""The lab's private bridge and subnet (a /24 for full labs, a /22 for light ones).

Hosts get a static address on the bridge and no gateway: the only things they can reach are each
other and the apt proxy on the bridge address. Nothing is routed or NATed anywhere else.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from pathlib import Path

from orchestrator.errors import LabError
from orchestrator.lab.system import run

# Candidate subnets live in 10.213.0.0/16; the lab name picks a starting point so a lab keeps
# its subnet across machines unless something else already uses it.
POOL = ipaddress.ip_network("10.213.0.0/16")


def used_networks() -> list[ipaddress.IPv4Network]:
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]) or "[]")
    nets = []
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("", "default") or ":" in dst:
            continue
        try:
            nets.append(ipaddress.ip_network(dst, strict=False))
        except ValueError:
            continue
    return nets


def pick_subnet(name: str, taken: list[str], prefixlen: int = 24) -> str:
    """A subnet of `prefixlen` bits in POOL overlapping no route of this machine and no
    subnet in `taken`; LabError when none is left."""
    used = used_networks() + [ipaddress.ip_network(s) for s in taken]
    subnets = list(POOL.subnets(new_prefix=prefixlen))
    start = int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(subnets)
    for offset in range(len(subnets)):
        candidate = subnets[(start + offset) % len(subnets)]
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise LabError(f"no free /{prefixlen} left in {POOL} for lab {name!r}")


def bridge_exists(bridge: str) -> bool:
    return Path("/sys/class/net", bridge).exists()


def ensure_bridge(bridge: str, address: str, prefixlen: int) -> None:
    if not bridge_exists(bridge):
        run(["ip", "link", "add", "name", bridge, "type", "bridge"])
    current = json.loads(run(["ip", "-j", "-4", "addr", "show", "dev", bridge]) or "[]")
    have = {a["local"] for link in current for a in link.get("addr_info", [])}
    if address not in have:
        run(["ip", "addr", "add", f"{address}/{prefixlen}", "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])


def remove_link(name: str) -> None:
    if bridge_exists(name):
        run(["ip", "link", "del", name], check=False)
