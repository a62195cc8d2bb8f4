"""Plans and run summaries for people: at a terminal, or piped to a log, a file or a CI job summary.

Written to a pipe or a file, nothing is wrapped or cut: rich would otherwise lay everything out
for 80 columns (its default when stdout is no terminal), cutting a diff line mid-word. Diffs are
printed verbatim, a line of the file a line of output, whatever the width.

A fleet's plan is grouped: hosts whose changes are the same tasks share one block, a task whose
diff is the same on several hosts prints it once under their folded names (`web[01:40]`), and a
line says how many hosts change how. `per_host` prints every host instead.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.engine.results import (
    CHANGED,
    FAILED,
    NOT_RUN,
    OK,
    RESCUED,
    SKIPPED,
    UNKNOWN,
    UNREACHABLE,
    HostResult,
    PlayResult,
    RunResult,
    TaskResult,
)
from orchestrator.events import Event, RunReported
from orchestrator.report.hosts import count, fold_hosts
from orchestrator.rollout.store import PAUSED

COLOURS = {OK: "green", CHANGED: "yellow", FAILED: "red", UNREACHABLE: "red", SKIPPED: "cyan",
           RESCUED: "magenta", UNKNOWN: "blue",
           "unhealthy": "red", "halted": "red", "rolled-back": "magenta", "paused": "blue",
           "succeeded": "green"}
# wide enough for any line a plan holds; rich then lays nothing out for a narrower screen
UNWRAPPED = 1 << 16


def make_console(stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A rich Console that wraps for a terminal and never wraps or cuts for a pipe or a file."""
    stream = file or (sys.stderr if stderr else sys.stdout)
    terminal = hasattr(stream, "isatty") and stream.isatty()
    if terminal:
        return Console(file=file, stderr=stderr)
    return PipeConsole(file=file, stderr=stderr, width=UNWRAPPED, soft_wrap=True)


class PipeConsole(Console):
    """A console for a pipe or a file: as wide as any line, so nothing is wrapped or cut; the
    two things rich lays out to the full width (a log line's grid, a rule) are kept short."""

    def log(self, *objects: Any, **kwargs: Any) -> None:
        self.print(time.strftime("[%H:%M:%S]"), *objects)

    def rule(self, title: Any = "", *args: Any, **kwargs: Any) -> None:
        self.print(Text.assemble("── ", title if isinstance(title, Text)
                                 else Text.from_markup(str(title)), " ──"))


# the tasks a plan or a report lists under a host: what changes, what fails, what a plan
# cannot know before an apply
_SHOWN = (CHANGED, FAILED, UNKNOWN)


def task_label(task: TaskResult) -> str:
    label = task.name + (f" ({task.item})" if task.item is not None else "")
    return f"handler: {label}" if task.handler else label


def recap(host: HostResult) -> Counter:
    """A host's task counts as Ansible's PLAY RECAP counts them: a looped task is one task
    (changed if any item changed, failed if any failed); `ok` counts every task that succeeded,
    changed ones included; skipped counts tasks skipped by a condition, a tag or no notify."""
    counts: Counter = Counter()
    for statuses in _tasks(host.tasks):
        if RESCUED in statuses:
            counts[RESCUED] += 1  # Ansible's recap: rescued, not failed
        elif UNKNOWN in statuses:
            counts[UNKNOWN] += 1
        elif FAILED in statuses:
            counts[FAILED] += 1
        elif CHANGED in statuses:
            counts[OK] += 1
            counts[CHANGED] += 1
        elif OK in statuses:
            counts[OK] += 1
        elif all(s == SKIPPED for s in statuses):
            counts[SKIPPED] += 1
    return counts


def _tasks(results: list[TaskResult]) -> list[list[str]]:
    """The statuses of each task: the items of one loop (consecutive results of one task with
    an item) are one task."""
    tasks: list[list[str]] = []
    last: tuple | None = None
    for result in results:
        key = (result.where, result.name, result.handler)
        if result.item is not None and key == last and tasks:
            tasks[-1].append(result.status)
        else:
            tasks.append([result.status])
        last = key if result.item is not None else None
    return tasks


def changed_tasks(host: HostResult) -> int:
    """How many tasks changed (or would change) on a host, a loop counting once."""
    return recap(host)[CHANGED]


def diff_text(diff: str) -> Text:
    """A unified diff, verbatim, coloured by line on a terminal."""
    text = Text(no_wrap=True, overflow="ignore")
    for line in diff.splitlines(keepends=True):
        style = ("bold" if line.startswith(("+++", "---")) else "green" if line.startswith("+")
                 else "red" if line.startswith("-") else "cyan" if line.startswith("@@") else "")
        text.append(line, style=style)
    text.rstrip()
    return text


# --- plans --------------------------------------------------------------------------------


@dataclass
class TaskChange:
    """One task that changes (or fails) on a group of hosts, and its diff(s) per host set."""

    task: TaskResult
    diffs: dict[str, list[str]] = field(default_factory=dict)  # diff, host names as HOST -> hosts
    samples: dict[str, str] = field(default_factory=dict)  # the same key -> its first host's diff
    errors: dict[str, list[str]] = field(default_factory=dict)  # error text -> hosts


@dataclass
class HostGroup:
    """Hosts whose plan is the same list of tasks: what a grouped plan prints once."""

    hosts: list[str]
    status: str  # changed | ok | failed | unreachable
    tasks: list[TaskChange] = field(default_factory=list)
    error: str | None = None  # why the hosts failed or were unreachable, when it is theirs
    changed: int = 0  # tasks (a loop counts once) that change on each host


def _signature(host: HostResult) -> tuple:
    if host.unreachable:
        return (UNREACHABLE, host.error)
    tasks = tuple((t.where, t.name, repr(t.item), t.handler, t.status) for t in host.tasks
                  if t.status in _SHOWN)
    return (host.status, host.error if not tasks else None, tasks)


def group_hosts(play: PlayResult, addresses: Mapping[str, str] | None = None
                ) -> list[HostGroup]:
    """The play's hosts grouped by the tasks that change or fail on them, in host order; each
    task's diffs grouped by their text, so the same diff on 40 hosts is one diff. Two diffs
    that differ only by each host's own name, or its address (`addresses`: host name ->
    `ansible_host`), count as the same, the differences shown as `‹host›` and `‹address›`."""
    addresses = addresses or {}
    groups: dict[tuple, HostGroup] = {}
    for name, host in play.hosts.items():
        signature = _signature(host)
        group = groups.get(signature)
        if group is None:
            group = groups[signature] = HostGroup([], host.status, changed=changed_tasks(host))
            group.error = host.error if host.unreachable or not signature[-1] else None
            group.tasks = [TaskChange(t) for t in host.tasks if t.status in _SHOWN]
        group.hosts.append(name)
        for change, task in zip(group.tasks, [t for t in host.tasks
                                              if t.status in _SHOWN]):
            if task.diff:
                own = unnamed_diff(task.diff, name)
                key = HOST_NAME.join(_own_name(name).split(own))
                address = addresses.get(name)
                if address and address != name:
                    key = HOST_ADDRESS.join(_own_name(address).split(key))
                change.diffs.setdefault(key, []).append(name)
                change.samples.setdefault(key, own)
            if task.error:
                change.errors.setdefault(task.error, []).append(name)
    return list(groups.values())


HOST_NAME, HOST_ADDRESS = "‹host›", "‹address›"


def placeholder_note(diff: str) -> str:
    """What the placeholders in a shared diff stand for: ` (‹host› is each host's name)`."""
    parts = [text for mark, text in ((HOST_NAME, f"{HOST_NAME} is each host's name"),
                                     (HOST_ADDRESS, f"{HOST_ADDRESS} its address"))
             if mark in diff]
    return f" ({', '.join(parts)})" if parts else ""


def _own_name(host: str) -> re.Pattern:
    """The host's name (or address) as a word of its own: `h41` in `h41.conf`, not in
    `h410`; `10.0.0.1` at the end of a sentence, not in `10.0.0.10`."""
    return re.compile(rf"(?<![\w.-]){re.escape(host)}(?![\w-]|\.\w)")


def unnamed_diff(diff: str, host: str) -> str:
    """A diff without the host's name in its file headers (`--- web01:/etc/motd`), so the
    same change on two hosts is the same text."""
    lines = diff.splitlines(keepends=True)
    for marker in ("--- ", "+++ "):
        prefix = f"{marker}{host}:"
        lines = [marker + line[len(prefix):] if line.startswith(prefix) else line
                 for line in lines]
    return "".join(lines)


def plan_summary(run: RunResult) -> str:
    """How many hosts change how: `40 hosts: 38 would change 3 tasks, 2 unchanged`."""
    parts: Counter = Counter()
    for play in run.plays:
        for host in play.hosts.values():
            if host.unreachable:
                parts["unreachable"] += 1
            elif host.failed:
                parts["failed"] += 1
            else:
                n = changed_tasks(host)
                parts[f"would change {count(n, 'task')}" if n else "unchanged"] += 1
    total = sum(parts.values())
    if not total:
        return "no hosts matched"
    order = sorted(parts, key=lambda k: (k in ("unchanged", "failed", "unreachable"),
                                         k == "unreachable", -parts[k], k))
    return f"{count(total, 'host')}: " + ", ".join(f"{parts[k]} {k}" for k in order)


def print_plan(run: RunResult, console: Console, per_host: bool = False,
               diffs: bool = True, addresses: Mapping[str, str] | None = None) -> None:
    """The plan: per play, groups of hosts (or every host with `per_host`) and their changing
    tasks with unified diffs of files; then the line of how many hosts change how."""
    for play in run.plays:
        console.print(Text(f"PLAY {play.name} ({count(len(play.hosts), 'host')})",
                           style="bold"))
        if per_host:
            for name, host in play.hosts.items():
                _print_group(HostGroup([name], host.status, changed=changed_tasks(host),
                                       error=host.error,
                                       tasks=[TaskChange(t, {t.diff: [name]} if t.diff else {},
                                                         {t.error: [name]} if t.error else {})
                                              for t in host.tasks
                                              if t.status in _SHOWN]),
                             console, diffs)
        else:
            for group in group_hosts(play, addresses):
                _print_group(group, console, diffs)
        console.print()
    console.print(summary_table(run, verbose=False, grouped=not per_host))
    console.print(Text(f"plan: {plan_summary(run)}", style="bold"))


def _print_group(group: HostGroup, console: Console, diffs: bool) -> None:
    names = fold_hosts(group.hosts)
    size = f" ({count(len(group.hosts), 'host')})" if len(group.hosts) > 1 else ""
    colour = COLOURS.get(group.status, "white")
    if group.status == UNREACHABLE:
        console.print(Text.assemble((names, "bold"), size, ": ", (group.error or "unreachable",
                                                                   colour)))
        return
    what = (f"{count(group.changed, 'task')} would change" if group.changed else "no change")
    if group.status == FAILED:
        what = "failed" + (f": {group.error}" if group.error and not group.tasks else "")
    console.print(Text.assemble((names, "bold"), size, ": ", (what, colour)))
    for change in group.tasks:
        task = change.task
        mark, style = {CHANGED: ("~", "yellow"), UNKNOWN: ("?", "blue")}.get(
            task.status, ("x", "red"))
        console.print(Text.assemble("  ", (mark, style), " ", task_label(task), "  ",
                                    (task.where, "dim")))
        for error, hosts in change.errors.items():
            who = f"{fold_hosts(hosts)}: " if len(change.errors) > 1 else ""
            console.print(Text(f"    {who}{error}", style="red"))
        if not diffs:
            continue
        for key, hosts in change.diffs.items():
            shown = change.samples.get(key, key) if len(hosts) == 1 else key
            note = placeholder_note(key) if shown is key else ""
            if len(change.diffs) > 1 or len(hosts) < len(group.hosts) or note:
                console.print(Text(f"    on {fold_hosts(hosts)}{note}:", style="dim"))
            console.print(diff_text(shown))


def summary_table(run: RunResult, verbose: bool = False, grouped: bool = False) -> Table:
    """A row per host of a plan (per set of hosts whose rows agree, when `grouped`): status as
    `HostResult.status` says, task counts as Ansible's recap counts them, why a host failed."""
    title = "plan" if run.dry_run else "apply"
    table = Table(title=f"{title}: {run.playbook}")
    for column in ("play", "hosts" if grouped else "host", "status"):
        table.add_column(column)
    for column in ("ok", "would change" if run.dry_run else "changed", "failed", "skipped"):
        table.add_column(column, justify="right")
    table.add_column("detail")
    for play in run.plays:
        rows: dict[tuple, list[str]] = {}
        for host in play.hosts.values():
            counts = recap(host)
            row = (host.status, counts[OK], counts[CHANGED], counts[FAILED], counts[SKIPPED],
                   host_detail(host))
            rows.setdefault(row if grouped else (host.host, *row), []).append(host.host)
        for row, hosts in rows.items():
            status, ok, changed, failed, skipped, detail = row[-6:]
            table.add_row(play.name, fold_hosts(hosts), _coloured(status), str(ok),
                          str(changed), str(failed), str(skipped), detail)
            if verbose and not grouped:
                host = play.hosts[hosts[0]]
                for task in host.tasks:
                    table.add_row("", f"  {task_label(task)}", _coloured(task.status),
                                  "", "", "", "", task.error or "")
    return table


def host_detail(host: HostResult) -> str:
    """Why a host failed, in the words the wave's reason uses (`HostResult.reason`)."""
    return host.reason or ""


def _coloured(status: str) -> str:
    return f"[{COLOURS.get(status, 'white')}]{status}[/]"


# --- rollouts -----------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """`4.2s`, `1m05s`, `2h03m`."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass(frozen=True)
class HostRow:
    """A host's line in a rollout summary."""

    status: str  # ok | changed | failed | unreachable | unhealthy | not run
    ok: int
    changed: int
    failed: int
    skipped: int
    health: str  # "-" without checks, "ok", or the first failed check's detail
    detail: str


def host_row(wave: Any, host: str) -> HostRow:
    """What one host of a wave (`rollout.WaveReport`) did: its status as `HostResult.status`
    says (a failed health check fails the host), tasks counted as Ansible does, the health
    checks' verdict; a host the wave failed whose result says nothing of it (a wave read from
    an older index) is `unhealthy`."""
    result = wave.apply.hosts.get(host) if wave.apply else None
    counts = recap(result) if result else Counter()
    checks = wave.health.get(host, [])
    bad = [c for c in checks if not c.ok]
    health = "-" if not checks else "ok" if not bad else f"failed: {bad[0].detail}"
    status = result.status if result else NOT_RUN
    detail = host_detail(result) if result else ""
    if host in wave.failed_hosts and status not in (FAILED, UNREACHABLE):
        status = "unhealthy"
        detail = detail or (bad[0].detail if bad else "")
    return HostRow(status, counts[OK], counts[CHANGED], counts[FAILED], counts[SKIPPED], health,
                   detail)


def rollout_table(report: Any, verbose: bool = False) -> Table:
    """One table for a whole rollout: per wave, its hosts (grouped when their rows agree,
    every host with `verbose`) with status, task counts, health and the wave's time."""
    table = Table(title=f"run {report.run_id}: {report.playbook}")
    for column in ("play", "wave", "hosts", "status"):
        table.add_column(column)
    for column in ("ok", "changed", "failed", "skipped"):
        table.add_column(column, justify="right")
    for column in ("health", "time", "detail"):
        table.add_column(column)
    for wave in report.waves:
        rows: dict[HostRow, list[str]] = {}
        for host in wave.hosts:
            row = host_row(wave, host)
            if verbose:
                rows[row, host] = [host]  # type: ignore[index]
            else:
                rows.setdefault(row, []).append(host)
        taken = _wave_time(wave)
        for key, hosts in rows.items():
            row = key[0] if verbose else key
            table.add_row(wave.play, str(wave.index + 1), fold_hosts(hosts), _coloured(row.status),
                          str(row.ok), str(row.changed), str(row.failed), str(row.skipped),
                          row.health, taken, row.detail)
    return table


def _wave_time(wave: Any) -> str:
    total = max(0.0, (wave.finished or wave.started) - wave.started)
    apply = max(0.0, (wave.applied or wave.finished or wave.started) - wave.started)
    return duration(total) if abs(total - apply) < 0.05 else (
        f"{duration(total)} (apply {duration(apply)})")


def rollout_line(report: Any) -> Text:
    """The run's one closing line: id, status, waves, hosts by outcome, time taken."""
    hosts = [host_row(w, h) for w in report.waves for h in w.hosts]
    outcome = Counter(row.status for row in hosts)
    parts = [f"{count(len(report.waves), 'wave')}", f"{count(len(hosts), 'host')}"]
    parts += [f"{n} {status}" for status, n in sorted(outcome.items())]
    took = duration((report.finished or report.started) - report.started)
    colour = COLOURS.get(report.status, "red" if report.failed else "green")
    line = Text.assemble("run ", (report.run_id, "bold"), ": ", (report.status, colour),
                         f" · {', '.join(parts)} · {took}")
    rollback = getattr(report, "rollback", None)
    if rollback:
        line.append(f" · rollback ({rollback['mode']}) of "
                    f"{fold_hosts(sorted(rollback['hosts']))}: "
                    f"{'ok' if rollback['ok'] else 'FAILED'}")
    return line


def hosts_changed(groups: Iterable[HostGroup]) -> int:
    return sum(len(g.hosts) for g in groups if g.status == CHANGED)


class RunSummary:
    """The listener that closes `orc apply` and `orc resume` on the terminal: one table for the
    whole run (every wave, its hosts, health and time), one line, and how to go on when the run
    paused."""

    def __init__(self, console: Console, verbose: bool = False):
        self.console = console
        self.verbose = verbose

    def __call__(self, event: Event) -> None:
        if not isinstance(event, RunReported):
            return
        report = event.report
        if report.waves:
            self.console.print(rollout_table(report, self.verbose))
        self.console.print(rollout_line(report))
        if report.status == PAUSED:
            self.console.print(f"continue with `orc resume {report.run_id}`, or `orc abort` it")
