"""`orc apply` and `orc plan` on real lab hosts over SSH: convergence, idempotence, handlers,
plans with diffs that change nothing, and a role that uses every supported module."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import threading
from pathlib import Path

import paramiko
import pytest
import yaml
from pyinfra.connectors.ssh import SSHConnector

from orchestrator.engine import run as engine_run
from orchestrator.engine.factshell import FactShell
from orchestrator.engine.results import CHANGED, OK, SKIPPED
from orchestrator.engine.options import RunOptions
from orchestrator.engine.run import run_playbook
from orchestrator.inventory import load_inventory
from orchestrator.lab import Lab
from orchestrator.load.playbook import load_playbook
from orchestrator.rollout.run import roll_out, start_run
from orchestrator.rollout.store import RunStore
from orchestrator.secrets import masking
from tests.support.orc import CURL, run_orc

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site.yaml"
EVERYTHING = REPO / "tests" / "data" / "everything" / "everything.yaml"


def _apply(inventory_path: Path, playbook: Path = SITE, **options):
    inventory = load_inventory([inventory_path], playbook_dir=playbook.parent)
    return run_playbook(load_playbook(playbook), inventory, RunOptions(**options))


def _task(run, host: str, name: str):
    return [t for t in run.plays[-1].hosts[host].tasks if t.name == name]


@pytest.fixture(scope="module", autouse=True)
def _example_estate(example_estate_env):
    """Every test here may apply the example estate."""


@pytest.fixture(scope="module")
def estate(lab: Lab, lab_inventory: Path):
    """The example estate applied twice to the session's lab."""
    first = _apply(lab_inventory)
    second = _apply(lab_inventory)
    return first, second


def test_example_estate_converges_then_changes_nothing(estate, lab: Lab, ssh) -> None:
    first, second = estate
    assert not first.failed, [(h.host, h.error, [t for t in h.tasks if t.error])
                              for h in first.plays[0].hosts.values()]
    for host in lab.hosts[:3]:
        assert first.plays[0].hosts[host.name].changed > 10
        assert second.plays[0].hosts[host.name].changed == 0
        assert not second.plays[0].hosts[host.name].failed
    for host in lab.hosts[:3]:
        page = ssh(host.name, f"{CURL} http://localhost/")
        assert json.loads(page.stdout) == {
            "host": host.name, "version": "1.0.0", "message": "hello from the lab",
        }
        health = ssh(host.name, f"{CURL} -o /dev/null -w '%{{http_code}}' http://localhost/healthz")
        assert health.stdout == "200"
        assert ssh(host.name, "systemctl is-enabled app nginx").stdout.split() == ["enabled"] * 2
        assert ssh(host.name, "id -nG deploy").stdout.strip() == "ops"


def test_plan_shows_file_diffs_exits_2_and_changes_nothing(estate, lab: Lab, lab_inventory,
                                                          ssh) -> None:
    host = lab.hosts[0].name
    proc = run_orc("plan", str(SITE), "-i", str(lab_inventory), "--limit", host,
                   "-e", "app_message='planned change'")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert '-  "message": "hello from the lab",' in proc.stdout
    assert '+  "message": "planned change",' in proc.stdout
    assert "restart app" in proc.stdout  # the handler the change would trigger
    token = "61d7c1bb1570085251698bf5dec96147d639dcbb"  # secrets/lab.yaml's app.token
    assert token not in proc.stdout and '"token": "********"' in proc.stdout
    on_host = ssh(host, "cat /etc/app/config.json").stdout
    assert "hello from the lab" in on_host and "planned change" not in on_host

    unchanged = run_orc("plan", str(SITE), "-i", str(lab_inventory), "--limit", host)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr


def test_handler_runs_once_and_only_where_its_task_changed(estate, lab: Lab, lab_inventory,
                                                           ssh) -> None:
    hosts = [h.name for h in lab.hosts[:3]]
    pid = "systemctl show -p MainPID --value app"
    before = {h: ssh(h, pid).stdout.strip() for h in hosts}

    run = _apply(lab_inventory, extra_vars={"app_message": "second release"}, limit=hosts[0])
    [handler] = _task(run, hosts[0], "restart app")
    assert handler.handler and handler.status == CHANGED
    assert len(_task(run, hosts[0], "application config")) == 1
    after = {h: ssh(h, pid).stdout.strip() for h in hosts}
    assert after[hosts[0]] != before[hosts[0]]  # restarted
    assert {h: after[h] for h in hosts[1:]} == {h: before[h] for h in hosts[1:]}
    assert "second release" in ssh(hosts[0], f"{CURL} http://localhost/").stdout

    again = _apply(lab_inventory, extra_vars={"app_message": "second release"}, limit=hosts[0])
    assert _task(again, hosts[0], "restart app") == []  # not notified: not run, not listed
    assert ssh(hosts[0], pid).stdout.strip() == after[hosts[0]]

    back = _apply(lab_inventory, limit=hosts[0])  # back to the example's own message
    assert not back.failed and _task(back, hosts[0], "restart app")[0].status == CHANGED


def test_hosts_where_nothing_would_change_run_no_operation(estate, lab: Lab, lab_inventory,
                                                           ssh, monkeypatch) -> None:
    """A converged host's operations are not run again after their predictions (they would
    only read the same facts twice); it reports what a full run reports."""
    edited, *settled = [h.name for h in lab.hosts[:3]]
    running: list[list[str]] = []
    real_run = engine_run.segment.run

    ran: list[dict[str, list[str]]] = []  # each run's operations by host, to say why

    def spy(state, new, *args, **kwargs):
        running.append(sorted(h.name for h in new))
        ran.append({h.name: [", ".join(sorted(state.get_op_meta(op).names)) for op in ops]
                    for h, ops in new.items()})
        return real_run(state, new, *args, **kwargs)

    monkeypatch.setattr(engine_run.segment, "run", spy)
    ssh(edited, "echo 'hand edit' >> /etc/motd")
    run = _apply(lab_inventory)
    assert running == [[edited]], (ran, [(t.name, t.status) for t in
                                         run.plays[0].hosts[edited].tasks])
    hosts = run.plays[0].hosts
    assert [t.name for t in hosts[edited].tasks if t.status == CHANGED] == ["message of the day"]
    assert "hand edit" not in ssh(edited, "cat /etc/motd").stdout

    running.clear()
    quiet = _apply(lab_inventory)
    assert running == []  # no host had anything to do: no operation is ever run
    monkeypatch.setattr(engine_run, "settle", lambda records, session: set())
    full = _apply(lab_inventory)  # every host runs its operations, as before settling
    assert running == [sorted(full.plays[0].hosts)]
    for name in (edited, *settled):
        statuses = [(t.name, t.item, t.status, t.error) for t in quiet.plays[0].hosts[name].tasks]
        assert statuses == [(t.name, t.item, t.status, t.error)
                            for t in full.plays[0].hosts[name].tasks]
        assert {status for _, _, status, _ in statuses} <= {OK, SKIPPED}
        assert not quiet.plays[0].hosts[name].failed and not quiet.plays[0].hosts[name].error
        assert not [t for t in quiet.plays[0].hosts[name].tasks if t.handler]  # none notified


def test_each_fact_is_read_once_while_operations_are_added(estate, lab: Lab, lab_inventory,
                                                           monkeypatch) -> None:
    """Nothing runs while operations are added, so one read of a fact stands for all; the
    predictions (and the plan's diffs) are the same as when every operation reads its own."""
    host = lab.hosts[0].name
    commands: list[str] = []  # what the host ran: through pyinfra's connector or its fact shell
    real_run, real_read = SSHConnector.run_shell_command, FactShell.read

    def spy(self, command, *args, **kwargs):
        if self.host.name == host:
            commands.append(str(command))
        return real_run(self, command, *args, **kwargs)

    def spy_read(self, command, kwargs):
        answer = real_read(self, command, kwargs)
        if answer is not None and self.host.name == host:
            commands.append(str(command))
        return answer

    monkeypatch.setattr(SSHConnector, "run_shell_command", spy)
    monkeypatch.setattr(FactShell, "read", spy_read)
    options = {"limit": host, "dry_run": True, "extra_vars": {"app_message": "read once"}}
    cached = _apply(lab_inventory, **options)
    assert commands and len(commands) == len(set(commands)), sorted(
        c for c in commands if commands.count(c) > 1)
    read_once = len(commands)
    commands.clear()
    monkeypatch.setattr(engine_run, "facts_read_once",
                        lambda host, **_: contextlib.nullcontext())
    uncached = _apply(lab_inventory, **options)
    assert len(commands) > read_once

    def outcome(run):
        return [(t.name, t.item, t.status, t.diff) for t in run.plays[0].hosts[host].tasks]

    assert outcome(cached) == outcome(uncached)
    assert ("application config", None, CHANGED) in [o[:3] for o in outcome(cached)]


def test_a_plays_next_run_reads_its_facts_together_on_every_host(
        estate, lab: Lab, lab_inventory, monkeypatch, tmp_path: Path) -> None:
    """With no record of a play, its first host reads facts one command at a time and the
    others read those together; the next run (its reads kept in the state dir) reads them
    together on every host from the start, with the same outcome."""
    names = [h.name for h in lab.hosts[:3]]
    commands: dict[str, int] = {}  # what each host ran: pyinfra's commands and shell reads
    outside: dict[str, int] = {}  # the commands that did not go through the fact shell
    real_run, real_read = SSHConnector.run_shell_command, FactShell.read

    def spy(self, command, *args, **kwargs):
        commands[self.host.name] = commands.get(self.host.name, 0) + 1
        outside[self.host.name] = outside.get(self.host.name, 0) + 1
        return real_run(self, command, *args, **kwargs)

    def spy_read(self, command, kwargs):
        answer = real_read(self, command, kwargs)
        if answer is not None:
            commands[self.host.name] = commands.get(self.host.name, 0) + 1
        return answer

    monkeypatch.setattr(SSHConnector, "run_shell_command", spy)
    monkeypatch.setattr(FactShell, "read", spy_read)
    options = {"limit": ",".join(names), "state_dir": str(tmp_path / "state")}
    first = _apply(lab_inventory, **options)
    alone = dict(commands)
    commands.clear()
    outside.clear()
    second = _apply(lab_inventory, **options)
    assert outside == {}, outside  # a no-op only reads facts: all of them through the shell
    pilot, *others = [n for n in first.plays[0].hosts]
    assert alone[pilot] > 3 * max(alone[n] for n in others), alone
    assert max(commands.values()) <= max(alone[n] for n in others), (alone, commands)

    def outcome(run):
        return {name: [(t.name, t.item, t.status) for t in host.tasks]
                for name, host in run.plays[0].hosts.items()}

    assert outcome(first) == outcome(second)
    assert not any(t.status == CHANGED for h in second.plays[0].hosts.values() for t in h.tasks)
    kept = list((tmp_path / "state" / "facts").iterdir())
    assert len(kept) == len(load_playbook(SITE).plays)
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in kept)
    secrets = masking.known()
    assert secrets and not any(s in f.read_text() for f in kept for s in secrets)


def test_a_rollout_reaches_each_host_over_one_ssh_connection(
        estate, lab: Lab, lab_inventory, monkeypatch, tmp_path: Path, ssh) -> None:
    """The connection that takes a host's lock also runs its tasks, health checks and the
    lock's release: one SSH handshake per host for a whole rollout."""
    names = [h.name for h in lab.hosts[:3]]
    addresses = {h.address: h.name for h in lab.hosts}
    connects: dict[str, int] = {}
    real_connect = paramiko.SSHClient.connect

    def spy(self, hostname, *args, **kwargs):
        connects[addresses.get(hostname, hostname)] = connects.get(
            addresses.get(hostname, hostname), 0) + 1
        return real_connect(self, hostname, *args, **kwargs)

    monkeypatch.setattr(paramiko.SSHClient, "connect", spy)
    book = load_playbook(SITE)
    inventory = load_inventory([lab_inventory], playbook_dir=SITE.parent)
    # the estate as it is (later tests expect it unchanged): locks, reads, health, release
    options = RunOptions(limit=",".join(names))
    report = roll_out(start_run(book, inventory, options, RunStore(tmp_path / "state")))
    assert report.status == "succeeded", report.to_dict()
    # every wave ran its `command:` check on each host, before and during the bake
    assert len(report.waves) == 3
    assert all(len({r.check for r in results}) == 2
               for w in report.waves for results in w.health.values())
    assert connects == {name: 1 for name in names}
    assert all(w.apply and sorted(w.apply.hosts) == sorted(w.hosts) for w in report.waves)
    assert ssh(names[0], "test -e /var/lib/orc/rollout.lock").returncode != 0  # released


def test_plan_after_a_manual_edit_shows_only_that_hosts_diff(estate, lab: Lab, lab_inventory,
                                                              ssh, tmp_path: Path) -> None:
    edited, *others = [h.name for h in lab.hosts[:3]]
    ssh(edited, "echo 'hand edit' >> /etc/motd")
    report = tmp_path / "plan.json"
    proc = run_orc("plan", str(SITE), "-i", str(lab_inventory), "--json", str(report))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    hosts = json.loads(report.read_text())["plays"][0]["hosts"]
    changing = {name: [t for t in h["tasks"] if t["status"] == "changed"]
                for name, h in hosts.items() if name in (edited, *others)}
    assert [t["name"] for t in changing[edited]] == ["message of the day"]
    assert changing[edited][0]["diff"].count("\n-hand edit\n") == 1
    assert all(changing[name] == [] for name in others)

    _apply(lab_inventory, limit=edited)
    after = run_orc("plan", str(SITE), "-i", str(lab_inventory), "--limit", edited)
    assert after.returncode == 0, after.stdout


def test_tags_when_and_extra_vars_select_tasks(lab: Lab, lab_inventory: Path, tmp_path: Path,
                                               ssh) -> None:
    book = tmp_path / "tags.yaml"
    book.write_text(
        "- hosts: all\n"
        "  vars: {flavour: plain}\n"
        "  tasks:\n"
        "    - copy: {content: \"a\\n\", dest: /tmp/tag-a, mode: '0644'}\n"
        "      tags: [a]\n"
        "    - copy: {content: \"b {{ flavour }}\\n\", dest: /tmp/tag-b, mode: '0644'}\n"
        "      tags: [b]\n"
        "    - copy: {content: \"always\\n\", dest: /tmp/tag-always, mode: '0644'}\n"
        "      tags: [always]\n"
        "    - copy: {content: \"when\\n\", dest: /tmp/tag-when, mode: '0644'}\n"
        "      when: flavour == 'special'\n"
    )
    host = lab.hosts[0].name
    ssh(host, "rm -f /tmp/tag-*")
    run = _apply(lab_inventory, book, tags=frozenset({"b"}), limit=host,
                 extra_vars={"flavour": "special"})
    assert not run.failed
    present = ssh(host, "ls /tmp | grep ^tag- | sort").stdout.split()
    assert present == ["tag-always", "tag-b"]  # untagged `when` task is not selected by --tags
    assert ssh(host, "cat /tmp/tag-b").stdout == "b special\n"
    _apply(lab_inventory, book, skip_tags=frozenset({"b"}), limit=host,
           extra_vars={"flavour": "special"})
    present = ssh(host, "ls /tmp | grep ^tag- | sort").stdout.split()
    assert present == ["tag-a", "tag-always", "tag-b", "tag-when"]


def test_facts_reach_templates_and_conditions(lab: Lab, lab_inventory: Path, tmp_path: Path,
                                              ssh) -> None:
    book = tmp_path / "facts.yaml"
    book.write_text(
        "- hosts: all\n"
        "  tasks:\n"
        "    - copy:\n"
        "        content: \"{{ facts.os.name }} {{ facts.os.major }} {{ facts.hostname }}\\n\"\n"
        "        dest: /tmp/orc-facts\n"
        "        mode: '0644'\n"
        "      when: facts.arch == 'x86_64' or facts.arch == 'aarch64'\n"
        "    - copy: {content: \"never\\n\", dest: /tmp/orc-facts-never, mode: '0644'}\n"
        "      when: facts.os.name != 'Debian'\n"
    )
    host = lab.hosts[0].name
    run = _apply(lab_inventory, book, limit=host)
    assert not run.failed
    assert ssh(host, "cat /tmp/orc-facts").stdout == f"Debian 12 {host}\n"
    assert ssh(host, "test -e /tmp/orc-facts-never").returncode == 1


def test_an_undefined_variable_is_one_line_and_touches_no_host(lab: Lab, lab_inventory: Path,
                                                              tmp_path: Path, ssh) -> None:
    book = tmp_path / "undefined.yaml"
    book.write_text("- hosts: all\n  tasks:\n"
                    "    - copy: {content: ok, dest: /tmp/orc-first, mode: '0644'}\n"
                    "    - copy: {content: \"{{ nope }}\", dest: /tmp/orc-undefined, mode: '0644'}\n")
    ssh(lab.hosts[0].name, "rm -f /tmp/orc-first")
    proc = run_orc("apply", str(book), "-i", str(lab_inventory), "--yes", "--ci",
                   "--state-dir", str(tmp_path / ".orc"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: {book}:4: undefined variable: 'nope' is undefined"
    assert ssh(lab.hosts[0].name, "test -e /tmp/orc-first").returncode == 1  # nothing ran
    runs = json.loads(run_orc("runs", "--json", "--state-dir", str(tmp_path / ".orc")).stdout)
    assert [r["status"] for r in runs] == ["failed"]


def test_a_python_role_runs_its_deploy_functions_idempotently(lab: Lab, lab_inventory: Path,
                                                             ssh) -> None:
    book = REPO / "tests" / "data" / "pyrole" / "site.yaml"
    host = lab.hosts[0].name
    first = _apply(lab_inventory, book, limit=host)
    second = _apply(lab_inventory, book, limit=host)
    assert not first.failed and not second.failed
    tasks = {t.name: t.status for t in first.plays[0].hosts[host].tasks}
    assert tasks == {"motd from Python | py-group": "changed",
                     "motd from Python | python motd": "changed"}
    assert second.plays[0].hosts[host].changed == 0
    assert ssh(host, "cat /etc/motd.d/orc-python").stdout == f"{host}: hello from deploy.py\n"
    assert ssh(host, "getent group pyrole").returncode == 0


def test_become_from_the_inventory_applies_and_journals_as_root(lab: Lab, lab_inventory: Path,
                                                                tmp_path: Path, ssh) -> None:
    host = lab.hosts[0]
    ssh(host.name, "id opsu >/dev/null 2>&1 || useradd -m -s /bin/bash opsu; "
                   "install -d -o opsu -m 700 /home/opsu/.ssh; "
                   "install -o opsu -m 600 /root/.ssh/authorized_keys /home/opsu/.ssh/; "
                   "echo 'opsu ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/opsu; rm -f /etc/orc-become")
    data = yaml.safe_load(lab_inventory.read_text())
    data["all"]["vars"].update({"ansible_user": "opsu", "ansible_become": True})
    inventory = tmp_path / "become.yaml"
    inventory.write_text(yaml.safe_dump(data))
    book = tmp_path / "become-site.yaml"
    book.write_text("- hosts: all\n  tasks:\n"
                    "    - copy: {content: \"as root\\n\", dest: /etc/orc-become, mode: '0640'}\n")
    proc = run_orc("apply", str(book), "-i", str(inventory), "--limit", host.name, "--yes",
                   "--ci", "--state-dir", str(tmp_path / ".orc"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ssh(host.name, "stat -c '%U %a' /etc/orc-become").stdout.strip() == "root 640"
    assert ssh(host.name, "ls /var/lib/orc/runs").stdout.strip() != ""


@pytest.fixture
def download_server(lab: Lab, tmp_path: Path):
    """An HTTP server on the lab bridge: the only address lab hosts can fetch from."""
    (tmp_path / "payload.txt").write_text("downloaded payload\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer((lab.bridge_address, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{lab.bridge_address}:{server.server_port}/payload.txt"
    finally:
        server.shutdown()


def test_role_using_every_module_converges_then_is_idempotent(lab: Lab, lab_inventory: Path,
                                                              download_server: str, ssh,
                                                              tmp_path: Path) -> None:
    hosts = [h.name for h in lab.hosts[:2]]
    args = ["apply", str(EVERYTHING), "-i", str(lab_inventory), "--yes", "--limit",
            ",".join(hosts), "-e", f"download_url={download_server}"]
    try:
        reports = []
        for attempt in ("first", "second"):
            report = tmp_path / f"{attempt}.json"
            proc = run_orc(*args, "--json", str(report))
            assert proc.returncode == 0, proc.stdout + proc.stderr
            reports.append(json.loads(report.read_text()))
        first, second = (r["waves"][0]["apply"]["hosts"] for r in reports)
        assert [r["status"] for r in reports] == ["succeeded", "succeeded"]
        for host in hosts:
            changed_first = {t["name"] for t in first[host]["tasks"] if t["status"] == "changed"}
            assert {"checkout", "python package in a virtualenv", "hourly job",
                    "download from the controller", "a managed block",
                    "any pyinfra operation directly", "config changed"} <= changed_first
            assert [t["name"] for t in second[host]["tasks"] if t["status"] == "changed"] == []
            statuses = {t["name"]: t["status"] for t in first[host]["tasks"]}
            assert statuses["skipped by its condition"] == "skipped"
            assert statuses["a read-only probe never counts as a change"] == "ok"

            files = ssh(host, "cat /srv/everything/static.txt /srv/everything/settings.conf "
                              "/srv/everything/block.conf /srv/everything/downloaded.txt")
            assert files.stdout == (
                "the color of the sky\nanother color line\n"
                "workers=4\nthreads=2\n"
                "# BEGIN ANSIBLE MANAGED BLOCK\nalpha=1\nbeta=2\n# END ANSIBLE MANAGED BLOCK\n"
                "gamma=3\n"
                "downloaded payload\n"
            )
            facts = ssh(host, "readlink /srv/everything/current; "
                              "stat -c '%a %U' /srv/everything/inline.txt; "
                              "crontab -l | grep -c '^17 \\* \\* \\* \\* /usr/bin/true$'; "
                              "sysctl -n net.ipv4.tcp_keepalive_time; hostname; "
                              "/srv/everything/venv/bin/python -c 'import six; print(six.__version__)'; "
                              "git -C /srv/checkout rev-parse --abbrev-ref HEAD; "
                              "systemctl is-active everything cron; id -u everything; "
                              "test -e /srv/everything/never && echo never-skipped || echo skipped")
            assert facts.stdout.split("\n") == [
                "/srv/everything/conf.d", "640 everything", "1", "600", f"{host}-orc",
                "1.16.0", "main", "active", "active", "4321", "skipped", "",
            ]
    finally:
        for host in hosts:  # the lab's own tests expect each host to keep its name
            ssh(host, f"hostname {host} && echo {host} > /etc/hostname")
