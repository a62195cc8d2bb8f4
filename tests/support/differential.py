"""The differential harness: one playbook through ansible-playbook and through orc, each on its
own lab host, then what the two hosts hold and what each task reported, side by side.

A case is a directory under tests/conformance/cases/:

    cases/<kind>-<name>/
        site.yaml        the playbook (hosts: all); templates/ and files/ beside it as usual
        case.yaml        compare: [paths on the host]      what must be byte-, mode- and
                                                           owner-equal afterwards
                         extra_vars: ["k=v", "@vars.yaml"] given to both as -e (optional)
                         runs: 2                           apply again: the second run's task
                                                           statuses must match too (default 2)
                         refused: true                     ansible-core fails a task and orc
                                                           refuses the run (optional)

Before each case the compared paths are removed on both hosts, so the hosts are fresh for
what the case looks at. Ansible's per-task statuses come from its built-in `junit` callback
(ansible-core 2.19 has no `json` stdout callback without the ansible.posix collection): with
`fail_on_change` a changed task is a `failure` whose body is the result, a failed one an
`error` (or a `failure` of a failed result), a skipped one `skipped`.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator import lab as lab_api
from orchestrator.engine.results import FAILED, RESCUED
from orchestrator.errors import OrcError
from orchestrator.engine.options import RunOptions
from orchestrator.engine.run import run_playbook
from orchestrator.inventory import load_inventory
from orchestrator.load.extravars import parse_extra_vars
from orchestrator.load.playbook import load_playbook
from tests.support.ansible_collections import collections_path

@functools.cache
def _collections() -> Path | None:
    """ansible.posix and community.general for Ansible's side (fetched once into the cache)."""
    return collections_path()


CASES = Path(__file__).resolve().parent.parent / "conformance" / "cases"
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


@dataclass(frozen=True)
class Case:
    name: str
    directory: Path
    compare: list[str]
    extra_vars: list[str] = field(default_factory=list)
    runs: int = 2
    refused: bool = False

    @property
    def kind(self) -> str:
        return self.name.split("-", 1)[0]

    @property
    def playbook(self) -> Path:
        return self.directory / "site.yaml"


def load_cases(kind: str | None = None) -> list[Case]:
    """Every case under cases/ (of one kind: the name's part before the first '-')."""
    cases = []
    for directory in sorted(p for p in CASES.iterdir() if (p / "case.yaml").is_file()):
        spec = yaml.safe_load((directory / "case.yaml").read_text()) or {}
        case = Case(directory.name, directory, list(spec.get("compare") or []),
                    [str(e) for e in spec.get("extra_vars") or []], int(spec.get("runs", 2)),
                    bool(spec.get("refused", False)))
        if kind is None or case.kind == kind:
            cases.append(case)
    return cases


@dataclass
class Outcome:
    """One tool's run of a case on one host: each task's status in order, or why it stopped."""

    tasks: list[tuple[str, str]]
    refused: str | None = None  # orc: the one-line error of a refused run
    output: str = ""


@dataclass
class PathState:
    kind: str  # file | directory | link | absent
    mode: str = ""
    owner: str = ""
    group: str = ""
    content: bytes | None = None
    target: str | None = None


class Differential:
    """Two lab hosts of one lab, one for each tool, and the lab's inventory."""

    def __init__(self, lab_name: str, inventory: Path, ansible_host: str, orc_host: str,
                 workdir: Path):
        self.lab_name = lab_name
        self.inventory = inventory
        self.ansible_host = ansible_host
        self.orc_host = orc_host
        self.workdir = workdir

    # -- the two tools ---------------------------------------------------------------------

    def start_ansible(self, case: Case) -> Callable[[], Outcome]:
        """Start ansible-playbook on the case (it runs while orc does, on the other host);
        returns the function that waits for it and reads its report."""
        report_dir = self.workdir / f"junit-{case.name}"
        report_dir.mkdir(parents=True, exist_ok=True)
        for old in report_dir.glob("*.xml"):
            old.unlink()
        config = self.workdir / "ansible.cfg"  # none of the machine's or the user's settings
        # pipelining only saves SSH round trips per task (Ansible's own advice for speed): the
        # hosts' results are the same
        collections = _collections()
        config.write_text("[defaults]\n"
                          + (f"collections_path = {collections}\n" if collections else "")
                          + "\n[ssh_connection]\npipelining = True\n")
        env = {**os.environ, "ANSIBLE_CALLBACKS_ENABLED": "junit",
               "JUNIT_OUTPUT_DIR": str(report_dir), "JUNIT_FAIL_ON_CHANGE": "true",
               "JUNIT_HIDE_TASK_ARGUMENTS": "true", "JUNIT_TASK_CLASS": "false",
               "ANSIBLE_CONFIG": str(config), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_RETRY_FILES_ENABLED": "false",
               "ANSIBLE_LOCAL_TEMP": str(self.workdir / "ansible-tmp")}
        argv = [ANSIBLE_PLAYBOOK, "-i", str(self.inventory), "-l", self.ansible_host,
                str(case.playbook)]
        for extra in case.extra_vars:
            argv += ["-e", extra]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, cwd=case.directory)

        def finish() -> Outcome:
            output, _ = proc.communicate(timeout=600)
            reports = sorted(report_dir.glob("*.xml"))
            tasks = parse_junit(reports[0], self.ansible_host) if reports else []
            return Outcome(tasks, None, output)

        return finish

    def run_ansible(self, case: Case) -> Outcome:
        return self.start_ansible(case)()

    def run_orc(self, case: Case) -> Outcome:
        cwd = Path.cwd()
        os.chdir(case.directory)  # -e @file is read from where the command runs, as a CLI
        try:
            book = load_playbook(case.playbook)
            inventory = load_inventory([str(self.inventory)],
                                       playbook_dir=case.playbook.parent)
            options = RunOptions(parse_extra_vars(case.extra_vars), limit=self.orc_host)
            run = run_playbook(book, inventory, options)
        except OrcError as err:
            return Outcome([], str(err))
        finally:
            os.chdir(cwd)
        tasks: list[tuple[str, str]] = []
        keys: list[tuple[str, str]] = []
        for play in run.plays:
            host = play.hosts.get(self.orc_host)
            for task in host.tasks if host else []:
                key = (task.where, task.name)
                # Ansible names a role's task "role : task"
                name = f"{task.role} : {task.name}" if task.role else task.name
                if keys and keys[-1] == key:  # loop items: one task, as Ansible reports it
                    tasks[-1] = (name, _loop_status(tasks[-1][1], task.status))
                    continue
                if task.handler and key in keys:
                    # the junit callback keeps one entry per task: a handler run again at a
                    # later flush is one entry, where it first ran
                    continue
                keys.append(key)
                # a failure a rescue handled is a failed task in Ansible's report
                tasks.append((name, FAILED if task.status == RESCUED else task.status))
        return Outcome(tasks)

    # -- the hosts ---------------------------------------------------------------------------

    def reset(self, case: Case) -> None:
        """Remove what the case compares on both hosts, so each starts as a fresh host."""
        if not case.compare:
            return
        command = "rm -rf -- " + " ".join(shlex.quote(p) for p in case.compare)
        results = lab_api.execute(command, self.lab_name, [self.ansible_host, self.orc_host])
        for host, result in results.items():
            assert result.ok, f"reset of {host}: {result.stderr or result.error}"

    def state(self, host: str, paths: list[str]) -> dict[str, PathState]:
        """Each path's type, mode, owner, group (names, or numbers the host has no name for),
        bytes (files) and target (links) on `host`, and the same for everything under a
        directory."""
        script = (
            "import base64,grp,json,os,pwd,stat,sys\n"
            "out={}\n"
            "def named(get,number):\n"  # an id the host has no name for: its number
            "  try: return get(number)[0]\n"
            "  except KeyError: return str(number)\n"
            "def one(p):\n"
            "  try: st=os.lstat(p)\n"
            "  except FileNotFoundError: out[p]={'kind':'absent'}; return\n"
            "  kind='link' if stat.S_ISLNK(st.st_mode) else 'directory' "
            "if stat.S_ISDIR(st.st_mode) else 'file'\n"
            "  d={'kind':kind,'mode':format(stat.S_IMODE(st.st_mode),'04o'),"
            "'owner':named(pwd.getpwuid,st.st_uid),'group':named(grp.getgrgid,st.st_gid)}\n"
            "  if kind=='file': d['content']=base64.b64encode(open(p,'rb').read()).decode()\n"
            "  if kind=='link': d['target']=os.readlink(p)\n"
            "  out[p]=d\n"
            "  if kind=='directory':\n"
            "    for name in sorted(os.listdir(p)): one(os.path.join(p,name))\n"
            "for p in sys.argv[1:]: one(p)\n"
            "print(json.dumps(out))\n"
        )
        command = "python3 -c " + shlex.quote(script) + " " + " ".join(
            shlex.quote(p) for p in paths)
        result = lab_api.execute(command, self.lab_name, [host])[host]
        assert result.ok, f"reading {paths} on {host}: {result.stderr or result.error}"
        states = {}
        for path, data in json.loads(result.stdout).items():
            content = data.pop("content", None)
            states[path] = PathState(**data, content=None if content is None
                                     else base64.b64decode(content))
        return states

    # -- one case ----------------------------------------------------------------------------

    def check(self, case: Case) -> None:
        """Run `case` through both tools (twice unless it says otherwise) and assert that the
        hosts hold the same and every task reported the same, naming the first difference.
        What the case compares is removed again afterwards: the hosts are the session's, and a
        case's leftovers (an apt source pointing nowhere) must not reach the tests after it."""
        self.reset(case)
        try:
            self._check(case)
        finally:
            self.reset(case)

    def _check(self, case: Case) -> None:
        for run in range(1, case.runs + 1):
            finish_ansible = self.start_ansible(case)
            orc = self.run_orc(case)
            ansible = finish_ansible()
            if case.refused:
                failed = [name for name, status in ansible.tasks if status == "failed"]
                assert failed, f"{case.name}: ansible-playbook did not fail a task:\n" \
                               f"{ansible.output[-3000:]}"
                assert orc.refused, f"{case.name}: orc ran what ansible-core refuses: " \
                                    f"{orc.tasks}"
                return
            assert orc.refused is None, f"{case.name} (run {run}): orc refused: {orc.refused}"
            assert ansible.tasks, f"{case.name}: no report from ansible-playbook:\n" \
                                  f"{ansible.output[-3000:]}"
            assert orc.tasks == ansible.tasks, (
                f"{case.name} (run {run}): task statuses differ\n"
                f"  ansible: {ansible.tasks}\n  orc:     {orc.tasks}")
            if case.compare:
                theirs = self.state(self.ansible_host, case.compare)
                ours = self.state(self.orc_host, case.compare)
                assert sorted(ours) == sorted(theirs), (
                    f"{case.name} (run {run}): different paths\n  ansible: {sorted(theirs)}"
                    f"\n  orc:     {sorted(ours)}")
                for path in theirs:
                    assert ours[path] == theirs[path], (
                        f"{case.name} (run {run}): {path} differs\n"
                        f"  ansible: {theirs[path]}\n  orc:     {ours[path]}")


def _loop_status(so_far: str, item: str) -> str:
    """A looped task's status from its items', as Ansible counts them: failed over changed
    over ok; skipped only when every item was."""
    order = ["failed", "changed", "ok", "skipped"]
    return min(so_far, item, key=order.index)


def parse_junit(report: Path, host: str) -> list[tuple[str, str]]:
    """(task name, status) for `host`, in order, from ansible's junit callback report (run with
    fail_on_change, task class off and arguments hidden)."""
    tasks = []
    prefix = f"[{host}] "
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name") or ""
        if not name.startswith(prefix):
            continue
        # "[host] play name: task name"
        task = name[len(prefix):].split(": ", 1)[-1]
        if task == "Gathering Facts" and _junit_status(case) == "ok":
            continue  # the play's implicit fact gathering: orc gathers too, but lists no task
        tasks.append((task, _junit_status(case)))
    return tasks


def _junit_status(case: ET.Element) -> str:
    if case.find("skipped") is not None:
        return "skipped"
    if case.find("error") is not None:
        return "failed"
    failure = case.find("failure")
    if failure is not None:
        result = _json_or_none(failure.text or "")
        if isinstance(result, dict) and result.get("changed") and not result.get("failed"):
            return "changed"
        return "failed"
    return "ok"


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
