"""Benchmark: one ad-hoc command on 30 lab hosts, `orc run` against `ansible -m command`.

On the same lab and inventory, each run timed from process start to exit:

  * orc:            `orc run all -i INVENTORY -f HOSTS -- true`
  * ansible (cold): `ansible all -i INVENTORY -m command -a true -f HOSTS`, pipelining on, a
                    fresh OpenSSH control path per run, so every run opens new connections as
                    orc does;
  * ansible (warm): the same with one control path for all runs, so after the first run
                    Ansible reuses the SSH connections its ControlPersist keeps open (its
                    default, and how it runs when the same command is repeated within 60 s).

Runs are interleaved (orc, cold, warm, orc, ...) so a busy moment of the machine hits all three,
and each waits until the CPU is quiet. Every run must succeed on every host. Prints each run,
the medians and the ratios ansible/orc (above 1: orc is faster).

    .venv/bin/python bench/adhoc_run.py [--hosts 30] [--runs 5] [--lab orcbench]

Runs as root (it starts lab hosts); the lab is always taken down at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orchestrator import lab as orc_lab

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(BENCH))
# the shared measuring helpers of the apply benchmark: lab, quiet CPU, wall time and RSS
from apply import ansible_cfg, fresh_lab, timed, versions, wait_quiet  # noqa: E402

TOOLS = ("orc", "ansible-cold", "ansible-warm")


@dataclass
class Run:
    tool: str
    seconds: float
    max_rss_mb: float
    tree_rss_mb: float
    ok_hosts: int
    exit_code: int
    log: str


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=30, help="lab hosts to start")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool")
    parser.add_argument("--lab", default="orcbench", help="name of the lab this benchmark owns")
    parser.add_argument("--max-busy", type=float, default=0.3,
                        help="wait (up to 3 min) until the machine's CPU use is below this")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: the benchmark starts lab hosts")

    work = Path(tempfile.mkdtemp(prefix="orc-bench-adhoc-"))
    inventory = work / "lab.yaml"
    runs: list[Run] = []
    try:
        print(f"starting {args.hosts} lab hosts ({args.lab})", flush=True)
        fresh_lab(args.lab, args.hosts, inventory)
        warm_cfg = ansible_cfg(args.hosts, work / "ansible-warm", None)
        for tool in TOOLS:  # one untimed run each: page cache, and Ansible's warm masters
            measure(tool, args.hosts, inventory, work, warm_cfg, "warmup")
        for index in range(args.runs):
            for tool in TOOLS:
                wait_quiet(args.max_busy)
                run = measure(tool, args.hosts, inventory, work, warm_cfg, str(index))
                print(f"  {tool:13} {run.seconds:6.2f} s  ok {run.ok_hosts}/{args.hosts}  "
                      f"exit {run.exit_code}  peak RSS {run.tree_rss_mb:.0f} MB", flush=True)
                runs.append(run)
    finally:
        orc_lab.down(args.lab)

    medians = {tool: statistics.median(r.seconds for r in runs if r.tool == tool)
               for tool in TOOLS}
    print()
    for tool in TOOLS:
        rss = max(r.tree_rss_mb for r in runs if r.tool == tool)
        print(f"{tool:13} median {medians[tool]:6.2f} s   peak RSS {rss:.0f} MB")
    print()
    for tool in TOOLS[1:]:
        print(f"{args.hosts} hosts, `true`: {tool}/orc = {medians[tool] / medians['orc']:.2f}")
    print(f"\nversions: {versions()}   logs: {work}")
    failed = [r for r in runs if r.exit_code != 0 or r.ok_hosts != args.hosts]
    for r in failed:
        print(f"warning: {r.tool}: exit {r.exit_code}, {r.ok_hosts}/{args.hosts} hosts ok; "
              f"see {r.log}", file=sys.stderr)
    return 1 if failed else 0


def measure(tool: str, hosts: int, inventory: Path, work: Path, warm_cfg: Path, tag: str) -> Run:
    stem = work / f"{tool}-{tag}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    if tool == "orc":
        command = [str(BIN / "orc"), "run", "all", "-i", str(inventory), "-f", str(hosts),
                   "--json", "--", "true"]
    else:
        env["ANSIBLE_CONFIG"] = str(
            warm_cfg if tool == "ansible-warm" else ansible_cfg(hosts, stem, None))
        command = [str(BIN / "ansible"), "all", "-i", str(inventory), "-m", "command",
                   "-a", "true", "-f", str(hosts)]
    m = timed(command, REPO, env, stem.with_suffix(".log"))
    return Run(tool, ok_hosts=ok_hosts(tool, Path(m["log"])), **m)


def ok_hosts(tool: str, log: Path) -> int:
    text = log.read_text(errors="replace")
    if tool == "orc":
        try:
            return json.loads(text)["counts"]["ok"]
        except (ValueError, KeyError):
            return 0
    # ansible's ad-hoc output: "NAME | CHANGED | rc=0 >>" per host that ran the command
    return sum(" | CHANGED | rc=0" in line for line in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
