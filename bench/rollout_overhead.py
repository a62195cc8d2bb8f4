"""Orchestration overhead per wave: what a rollout costs beyond applying its waves.

Rolls a one-task playbook (no health checks, no bake) out to lab hosts one host per wave, with
the apply of each wave timed from inside (`engine.run.run_play`). The rest of each wave's wall time
(wave planning, the run index, the host locks over SSH, the reports) is the overhead the issue
bounds at 0.5 s.

    .venv/bin/python bench/rollout_overhead.py [--hosts 5] [--keep]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gevent import monkey

monkey.patch_all()  # as the `orc` executable does: hosts are handled in parallel

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.engine import run as engine_run  # noqa: E402
from orchestrator.rollout import run as rollout  # noqa: E402
from orchestrator import lab as lab_api
from orchestrator.engine.options import RunOptions  # noqa: E402
from orchestrator.inventory import load_inventory  # noqa: E402
from orchestrator.load.playbook import load_playbook  # noqa: E402
from orchestrator.rollout.store import RunStore  # noqa: E402

LAB = "overhead"
PLAYBOOK = """\
- name: overhead
  hosts: all
  serial: 1
  tasks:
    - name: one file
      copy:
        content: "{{ inventory_hostname }}\\n"
        dest: /tmp/orc-overhead
        mode: "0644"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="orc-overhead-"))
    inventory_path = work / "lab.yaml"
    (work / "site.yaml").write_text(PLAYBOOK)
    lab_api.up(args.hosts, LAB, inventory_path)
    try:
        applied: list[float] = []
        original = engine_run.run_play

        def timed_run_play(*a, **kw):
            start = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                applied.append(time.perf_counter() - start)

        rollout.run_play = timed_run_play
        book = load_playbook(work / "site.yaml")
        inventory = load_inventory([inventory_path])
        rows = []
        for attempt in ("first", "no-op"):
            applied.clear()
            store = RunStore(work / ".orc")
            hosts = inventory.select("all")
            start = time.perf_counter()
            run = store.start(str(work / "site.yaml"), [str(inventory_path)], {}, hosts)
            report = rollout.run_rollout(book, inventory, RunOptions(), store, run)
            total = time.perf_counter() - start
            assert report.status == "succeeded", report.status
            waves = len(report.waves)
            overhead = [(w.finished - w.started) - a for w, a in zip(report.waves, applied)]
            between = (total - sum(w.finished - w.started for w in report.waves)) / waves
            rows.append({
                "run": attempt, "waves": waves, "total_s": round(total, 3),
                "apply_s_mean": round(statistics.mean(applied), 3),
                "overhead_in_wave_s_mean": round(statistics.mean(overhead), 3),
                "overhead_in_wave_s_max": round(max(overhead), 3),
                "overhead_between_waves_s": round(between, 3),
                "overhead_per_wave_s": round(statistics.mean(overhead) + between, 3),
            })
        print(f"{'run':6} {'waves':>5} {'total':>7} {'apply':>7} {'in-wave':>8} {'between':>8}"
              f" {'per wave':>9}")
        for r in rows:
            print(f"{r['run']:6} {r['waves']:>5} {r['total_s']:>7.3f} {r['apply_s_mean']:>7.3f}"
                  f" {r['overhead_in_wave_s_mean']:>8.3f} {r['overhead_between_waves_s']:>8.3f}"
                  f" {r['overhead_per_wave_s']:>9.3f}")
        print("target: overhead per wave under 0.5 s")
        (REPO / "bench" / "results").mkdir(exist_ok=True)
        (REPO / "bench" / "results" / "rollout_overhead.json").write_text(
            json.dumps(rows, indent=2) + "\n")
    finally:
        if not args.keep:
            lab_api.down(LAB)


if __name__ == "__main__":
    main()
