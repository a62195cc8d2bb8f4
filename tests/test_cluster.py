"""`orc apply --cluster` on a real local Dask cluster (a scheduler and two workers, each a
process of its own started with `dask`) against the lab's hosts over real SSH.

The same playbook applied with `--cluster` and in process gives the same per-host results and
the same journals on the hosts, and both workers ran a shard. A worker killed mid-wave (SIGKILL,
once its hosts' journals exist) fails its hosts as unreachable, their state unknown; the other
shard's host finishes, and `orc rollback RUN` restores the killed shard's hosts from their
journals."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.cluster.merge import LOST
from orchestrator.rollout.store import RunStore
from orchestrator.rollout.waves import stable_order
from tests.support.dask_cluster import LocalCluster
from tests.support.orc import ORC, run_orc

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PLAY = """\
- name: cluster
  hosts: all
  serial: "100%"
  max_fail_percentage: 0
  rollback: manual
  tasks:
    - name: config directory
      file: {{path: /etc/orc-cluster, state: directory, mode: "0750"}}
    - name: config
      copy:
        dest: /etc/orc-cluster/app.conf
        content: "host {{{{ inventory_hostname }}}} {{{{ ansible_host }}}}\\n"
        mode: "0640"
    - name: line
      lineinfile: {{path: /etc/orc-cluster/extra.conf, line: "cluster=yes", create: true}}
    - name: mark
      set_fact: {{mark: "set in play 1 on {{{{ inventory_hostname }}}}"}}
    - name: wait
      command: sleep {sleep}
      undo: "true"
"""
# a second play reads the fact each host set in the first (carried from play to play)
SECOND = """- name: facts
  hosts: all
  serial: "100%"
  gather_facts: false
  tasks:
    - name: carried
      copy: {dest: /etc/orc-cluster/mark, content: "{{ mark }} {{ ansible_facts.hostname }}\n"}
"""

# each host as it was before each run: the old config, no extra.conf
RESET = ("rm -rf /etc/orc-cluster && mkdir -p /etc/orc-cluster && "
         "echo 'old {host}' > /etc/orc-cluster/app.conf")
JOURNALS = ("cd /var/lib/orc/runs/{run} && for f in $(find . -type f | sort); do "
            "echo \"== $f\"; cat \"$f\"; echo; done")


@pytest.fixture
def cluster(tmp_path: Path):
    started = LocalCluster(tmp_path / "dask")
    started.folder.mkdir()
    try:
        yield started.start(workers=2)
    finally:
        started.stop()


@pytest.fixture
def work(lab, lab_inventory: Path, tmp_path: Path):
    names = [h.name for h in lab.hosts]
    return {"dir": tmp_path, "inventory": lab_inventory, "hosts": names,
            "state": tmp_path / ".orc"}


def _reset(ssh, hosts: list[str]) -> None:
    for host in hosts:
        proc = ssh(host, RESET.format(host=host))
        assert proc.returncode == 0, proc.stderr


def _apply(work, playbook: Path, report: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_orc("apply", str(playbook), "-i", str(work["inventory"]), "--yes", "--ci",
                   "--state-dir", str(work["state"]), "--json", str(report), *extra)


def _journals(ssh, host: str, run: str) -> str:
    """The host's journal files of `run`, run ids and batch names (a clock) made neutral."""
    proc = ssh(host, JOURNALS.format(run=run))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.replace(run, "RUN")
    return re.sub(r"\d{10,}-(cluster|facts)", r"BATCH-\1", text)


def _results(report: dict) -> dict[tuple[str, str], list]:
    return {(wave["play"], host): [host_result["error"], host_result["unreachable"],
                                   [(t["name"], t["status"], t["error"])
                                    for t in host_result["tasks"]]]
            for wave in report["waves"] for host, host_result in wave["apply"]["hosts"].items()}


def test_same_results_and_journals_as_one_controller(work, cluster, ssh):
    playbook = work["dir"] / "site.yaml"
    playbook.write_text(PLAY.format(sleep=1) + SECOND)
    hosts = work["hosts"]
    runs = {}
    for how, extra in (("process", ()), ("cluster", ("--cluster", cluster.address))):
        _reset(ssh, hosts)
        report_path = work["dir"] / f"{how}.json"
        proc = _apply(work, playbook, report_path, *extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads(report_path.read_text())
        runs[how] = (report, {h: _journals(ssh, h, report["run_id"]) for h in hosts})
        for host in hosts:  # the fact set in play 1 and the facts gathered there reached play 2
            mark = ssh(host, "cat /etc/orc-cluster/mark").stdout
            assert mark.startswith(f"set in play 1 on {host} "), mark
    (process, process_journals), (sharded, sharded_journals) = runs["process"], runs["cluster"]
    assert _results(sharded) == _results(process)
    assert all(status == "changed" for (play, _), r in _results(sharded).items()
               if play == "cluster" for _, status, _ in r[2][:3])
    assert sharded_journals == process_journals
    # the controller's index of what each host recorded came from the workers' events
    store = RunStore(work["state"])
    indexed = {how: [(p["host"], p["kind"], p["key"], p["task"], p["summary"])
                     for p in store.preimages(report["run_id"])]
               for how, (report, _) in runs.items()}
    assert indexed["cluster"] == indexed["process"] and indexed["cluster"]
    for host in hosts:  # the journal holds the config as it was before the run
        assert f"old {host}" in sharded_journals[host]
    # each worker ran one contiguous shard of each wave (in the wave's order), and the
    # workers are the cluster's own
    first, second = sorted(cluster.worker_addresses())
    for wave in sharded["waves"]:
        order, half = wave["hosts"], (len(hosts) + 1) // 2
        assert sorted(order) == sorted(hosts)
        assert wave["apply"]["workers"] == ({h: first for h in order[:half]}
                                            | {h: second for h in order[half:]})
    assert process["waves"][0]["apply"]["workers"] == {}


def test_worker_killed_mid_wave_fails_its_hosts_and_rollback_restores_them(work, cluster,
                                                                            ssh):
    playbook = work["dir"] / "site.yaml"
    playbook.write_text(PLAY.format(sleep=40))
    hosts = work["hosts"]
    _reset(ssh, hosts)
    killed_worker = sorted(cluster.worker_addresses())[0]
    # the first shard: the first hosts in the wave's order (rollout.waves), on the first worker
    killed_hosts = stable_order("cluster", hosts)[:(len(hosts) + 1) // 2]
    others = [h for h in hosts if h not in killed_hosts]
    report_path = work["dir"] / "report.json"
    apply = subprocess.Popen(
        [ORC, "apply", str(playbook), "-i", str(work["inventory"]), "--yes", "--ci",
         "--state-dir", str(work["state"]), "--json", str(report_path), "--cluster",
         cluster.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = apply.stdout.readline().split()[-1]  # `run ID`, the first line under --ci
        # its hosts' journals are written and their config changed: the shard is in its sleep
        changed = (f"test -s /var/lib/orc/runs/{run}/*/journal.json && "
                   "grep -q '^host ' /etc/orc-cluster/app.conf")
        deadline = time.monotonic() + 120
        while not all(ssh(h, changed).returncode == 0 for h in killed_hosts):
            assert time.monotonic() < deadline, "the killed shard never changed its hosts"
            time.sleep(0.5)
        cluster.kill_worker(killed_worker)
        out, err = apply.communicate(timeout=300)
    finally:
        if apply.poll() is None:
            apply.kill()
    assert apply.returncode == 1, out + err
    assert "Traceback" not in out + err
    report = json.loads(report_path.read_text())
    (wave,) = report["waves"]
    assert wave["status"] == "failed"
    for host in killed_hosts:
        assert wave["apply"]["hosts"][host]["unreachable"], wave["apply"]["hosts"][host]
        assert wave["apply"]["hosts"][host]["error"] == LOST
    for host in others:  # the other shard went on to the end of the play
        finished = wave["apply"]["hosts"][host]
        assert not finished["unreachable"] and finished["error"] is None, finished
        assert [t["status"] for t in finished["tasks"]][-1] == "changed"
    # what the killed shard's hosts recorded reached the controller while the shard ran (it
    # never returned)
    assert set(killed_hosts) <= {p["host"] for p in RunStore(work["state"]).preimages(run)}
    rollback = run_orc("rollback", run, "--state-dir", str(work["state"]), "--yes")
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    for host in hosts:
        assert ssh(host, "cat /etc/orc-cluster/app.conf").stdout == f"old {host}\n"
        assert ssh(host, "test -e /etc/orc-cluster/extra.conf").returncode == 1


def _shard_processes(cluster: LocalCluster) -> list[int]:
    """The shards' processes the workers run now (`python -m orchestrator.cluster.shard`)."""
    workers = {p.pid for p in cluster.workers}
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent in workers and b"orchestrator.cluster.shard" in command:
            found.append(int(stat.parent.name))
    return found


def test_controller_killed_mid_wave_stops_its_shards(work, cluster, ssh):
    """SIGKILL to `orc apply --cluster` stops the shards on the workers too (as a killed
    controller stops a run in one process), and `orc rollback RUN` restores every host."""
    playbook = work["dir"] / "site.yaml"
    playbook.write_text(PLAY.format(sleep=60))
    hosts = work["hosts"]
    _reset(ssh, hosts)
    apply = subprocess.Popen(
        [ORC, "apply", str(playbook), "-i", str(work["inventory"]), "--yes", "--ci",
         "--state-dir", str(work["state"]), "--cluster", cluster.address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = apply.stdout.readline().split()[-1]
        deadline = time.monotonic() + 120
        while not all(ssh(h, "grep -q '^host ' /etc/orc-cluster/app.conf").returncode == 0
                      for h in hosts):
            assert time.monotonic() < deadline, "the shards never changed their hosts"
            time.sleep(0.5)
        assert len(_shard_processes(cluster)) == 2  # both shards are in their sleep
        apply.kill()
        apply.wait(timeout=30)
    finally:
        if apply.poll() is None:
            apply.kill()
    deadline = time.monotonic() + 60
    while _shard_processes(cluster):
        assert time.monotonic() < deadline, "the shards outlived their controller"
        time.sleep(0.5)
    rollback = run_orc("rollback", run, "--state-dir", str(work["state"]), "--yes")
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    for host in hosts:
        assert ssh(host, "cat /etc/orc-cluster/app.conf").stdout == f"old {host}\n"


def test_resume_keeps_the_cluster(work, cluster, ssh):
    """A paused `--cluster` run resumed with `orc resume RUN` runs its next wave on the
    cluster too (the address is kept with the run's options)."""
    playbook = work["dir"] / "site.yaml"
    playbook.write_text(PLAY.format(sleep=1).replace('serial: "100%"', "serial: 2"))
    _reset(ssh, work["hosts"])
    first = _apply(work, playbook, work["dir"] / "first.json", "--cluster", cluster.address,
                   "--pause-after-wave", "1")
    assert first.returncode == 4, first.stdout + first.stderr
    run = json.loads((work["dir"] / "first.json").read_text())["run_id"]
    resumed = run_orc("resume", run, "--ci", "--state-dir", str(work["state"]), "--json",
                      str(work["dir"] / "resumed.json"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    waves = json.loads((work["dir"] / "resumed.json").read_text())["waves"]
    assert [len(w["hosts"]) for w in waves] == [2, 1]
    for wave in waves:
        assert set(wave["apply"]["workers"]) == set(wave["hosts"])
        assert set(wave["apply"]["workers"].values()) <= set(cluster.worker_addresses())
