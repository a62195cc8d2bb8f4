"""Benchmark: loading a 10,000-host inventory with orc versus `ansible-inventory --list`.

Writes, in a temporary directory, a YAML inventory of 10,000 hosts in 200 groups (20 parent
groups of 9 child groups each, hosts spread over the 180 children, variables at every level,
plus group_vars and host_vars files), then times

  * orc's loader in-process: `load_inventory()` and every host's merged variables, and
  * both command lines end to end: `orc inventory --list` and `ansible-inventory --list`,

checks that the two print the same JSON, and reports the ratios. Run it with the venv's Python:

    .venv/bin/python bench/inventory_load.py [--hosts 10000] [--groups 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from orchestrator.inventory import load_inventory

BIN = Path(sys.executable).parent
CHILDREN_PER_PARENT = 9


def write_inventory(root: Path, hosts: int, groups: int) -> Path:
    """The benchmark inventory: returns the path of its main file."""
    parents = groups // (CHILDREN_PER_PARENT + 1)
    leaves = [f"app{i:03d}" for i in range(groups - parents)]
    tree: dict = {}
    for p in range(parents):
        children = leaves[p * CHILDREN_PER_PARENT:(p + 1) * CHILDREN_PER_PARENT]
        tree[f"region{p:02d}"] = {
            "vars": {"region": f"r{p}", "tier": "parent", "ansible_group_priority": p % 3 + 1},
            "children": {name: {"vars": {"tier": name, "port": 8000 + i}, "hosts": {}}
                         for i, name in enumerate(children)},
        }
    leaf_groups = [child for parent in tree.values() for child in parent["children"].values()]
    for n in range(hosts):
        leaf_groups[n % len(leaf_groups)]["hosts"][f"host{n:05d}.example.com"] = {
            "ansible_host": f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
            "rack": n % 40,
        }
    data = {"all": {"vars": {"ansible_user": "deploy", "ntp": "ntp.example.com"},
                    "children": tree}}
    main = root / "hosts.yml"
    main.write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "group_vars").mkdir()
    (root / "host_vars").mkdir()
    (root / "group_vars" / "all.yml").write_text("dns: [10.0.0.53, 10.0.1.53]\n")
    for i, name in enumerate(leaves[::4]):
        (root / "group_vars" / f"{name}.yml").write_text(f"from_file: {name}\nweight: {i}\n")
    for n in range(0, hosts, 100):
        (root / "host_vars" / f"host{n:05d}.example.com.yml").write_text("special: true\n")
    return main


def best_of(runs: int, action) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(command: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(cwd / "ansible.cfg")  # an empty one: no local settings
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="orc runs (best is kept)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="orc-bench-") as tmp:
        root = Path(tmp)
        (root / "ansible.cfg").write_text("")
        source = write_inventory(root, args.hosts, args.groups)
        inventory = load_inventory([source])
        print(f"inventory: {len(inventory.hosts)} hosts, {len(inventory.groups) - 2} groups "
              f"(+ all, ungrouped) in {source}")

        def orc_loader():
            loaded = load_inventory([source])
            return [loaded.host_vars(name) for name in loaded.hosts]

        loader_time, _ = best_of(args.runs, orc_loader)
        orc_time, orc_out = best_of(args.runs, lambda: run(
            [str(BIN / "orc"), "inventory", "-i", str(source), "--list"], root))
        ansible_time, ansible_out = best_of(1, lambda: run(
            [str(BIN / "ansible-inventory"), "-i", str(source), "--list"], root))

        same = "identical" if orc_out == ansible_out else "DIFFERENT"
        print(f"orc loader (in-process, all merged vars): {loader_time:7.2f} s")
        print(f"orc inventory --list:                     {orc_time:7.2f} s")
        print(f"ansible-inventory --list:                 {ansible_time:7.2f} s")
        print(f"outputs: {same}")
        print(f"ratio orc loader / ansible-inventory:     {loader_time / ansible_time:7.3f}")
        print(f"ratio orc CLI / ansible-inventory CLI:    {orc_time / ansible_time:7.3f}")
        if same != "identical":
            sys.exit(1)


if __name__ == "__main__":
    main()
