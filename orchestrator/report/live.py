"""A rollout as it happens: a live view on a terminal, plain lines in a log (`--ci`, a pipe).

Both are listeners on the rollout's typed events (`orchestrator.events`). The live view scales
with the fleet: finished waves are one line each; the current wave is counts (hosts done,
failed, unreachable out of the wave), the task most of its hosts are at, the time it has taken
and the bake countdown. A failure is printed the moment it happens, with host, task and reason,
above the view on a terminal, as its own line in a log.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from orchestrator.events import (
    Baking,
    Event,
    HealthChecking,
    HostDone,
    Message,
    OperationDone,
    RolledBack,
    TaskFailed,
    WaveDone,
    WaveStarted,
)
from orchestrator.report.console import COLOURS, duration
from orchestrator.report.hosts import count, fold_hosts

BAD = ("failed", "unreachable")


@dataclass
class WaveProgress:
    """What the current wave's events say so far."""

    play: str
    index: int
    hosts: list[str]
    started: float = field(default_factory=time.monotonic)
    state: str = "applying"
    done: dict[str, str] = field(default_factory=dict)  # host -> status
    at: dict[str, str] = field(default_factory=dict)  # host -> task of its last operation
    failures: set[str] = field(default_factory=set)  # hosts whose failure was printed
    failing: set[str] = field(default_factory=set)  # hosts with a failed task so far
    bake_left: float | None = None
    status: str | None = None  # set when the wave is done
    reason: str | None = None
    took: float = 0.0
    bake_said: bool = False  # a log names the bake once, not every countdown step

    def on(self, event: Event) -> None:
        match event:
            case HostDone() if event.host in self.hosts:
                self.done[event.host] = event.status
            case OperationDone() if event.host in self.hosts:
                self.at[event.host] = event.task
            case TaskFailed() if event.host in self.hosts:
                self.failing.add(event.host)  # counted now, not when the wave's apply ends
            case HealthChecking():
                self.state = "health checks"
            case Baking():
                self.state, self.bake_left = "baking", event.remaining
            case WaveDone():
                self.status, self.reason = event.status, event.reason
                self.took = time.monotonic() - self.started

    def counts(self) -> str:
        statuses = Counter(self.done.values())
        failed = len({h for h, s in self.done.items() if s == "failed"} | self.failing)
        unreachable = statuses["unreachable"]
        text = f"{len(self.done)}/{len(self.hosts)} done"
        if failed:
            text += f", {failed} failed"
        if unreachable:
            text += f", {unreachable} unreachable"
        return text

    def busiest_task(self) -> tuple[str, int] | None:
        """The task most of the wave's unfinished hosts last ran an operation of."""
        working = Counter(task for host, task in self.at.items()
                          if host not in self.done and task)
        return working.most_common(1)[0] if working else None


def message_line(event: Message) -> str:
    """What a `debug` task says on a host, as Ansible shows it: `host | task: message`."""
    return f"{event.host} | {event.task}: {event.msg}"


def failure_line(event: TaskFailed) -> str:
    where = f" ({event.where})" if event.where else ""
    return f"FAILED {event.host}: {event.task}{where}: {event.error}"


def host_line(event: HostDone) -> str:
    """A host that failed or went unreachable without a failed task to name (its journal
    could not be written, its connection was lost)."""
    return f"{event.status.upper()} {event.host}: {event.error or event.status}"


def rollback_line(event: RolledBack) -> str:
    return (f"rollback ({event.mode}) of {fold_hosts(list(event.hosts))}: "
            f"{'ok' if event.ok else 'FAILED'}")


class LiveRollout:
    """The terminal view, a listener on the rollout's events."""

    SHOWN_WAVES = 6  # finished waves listed; older ones are counted

    def __init__(self, title: str, console: Console,
                 planned: Mapping[str, int] | None = None):
        self.title = title
        self.console = console
        self.planned = dict(planned or {})  # play -> how many waves it has
        self.started = time.monotonic()
        self.waves: list[WaveProgress] = []
        self.live = Live(self.render(), console=console, refresh_per_second=4, transient=True,
                         get_renderable=self.render)

    def __enter__(self) -> LiveRollout:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self.live.__exit__(*exc)

    def render(self) -> Group:
        lines = [Text(f"rolling out {self.title} · {duration(time.monotonic() - self.started)}",
                      style="bold")]
        finished = [w for w in self.waves if w.status is not None]
        hidden = len(finished) - self.SHOWN_WAVES
        if hidden > 0:
            lines.append(Text(f"  … {count(hidden, 'earlier wave')}", style="dim"))
        for wave in self.waves[max(0, hidden):]:
            lines.append(self._line(wave))
        return Group(*lines)

    def _label(self, wave: WaveProgress) -> str:
        total = self.planned.get(wave.play)
        return f"{wave.play}: wave {wave.index + 1}" + (f"/{total}" if total else "")

    def _line(self, wave: WaveProgress) -> Text:
        hosts = (fold_hosts(wave.hosts) if len(wave.hosts) <= 3
                 else count(len(wave.hosts), "host"))
        if wave.status is not None:
            colour = "green" if wave.status == "ok" else "red"
            line = Text.assemble("  ", self._label(wave), f"  {hosts}  ",
                                 (wave.status, colour), f"  {duration(wave.took)}")
            if wave.reason:
                line.append(f"  {wave.reason}", style="dim")
            return line
        state = wave.state
        if wave.state == "baking" and wave.bake_left is not None:
            state = f"baking, {wave.bake_left:.0f}s left"
        line = Text.assemble(("▶ ", "bold"), self._label(wave), f"  {hosts}  ", (state, "cyan"),
                             f" · {wave.counts()}",
                             f" · {duration(time.monotonic() - wave.started)}")
        busiest = wave.busiest_task()
        if busiest and wave.state == "applying":
            line.append(f" · most hosts at: {busiest[0]} ({busiest[1]})", style="dim")
        return line

    def __call__(self, event: Event) -> None:
        if isinstance(event, WaveStarted):
            self.waves.append(WaveProgress(event.play, event.wave, list(event.hosts)))
        elif self.waves:
            wave = self.waves[-1]
            wave.on(event)
            match event:
                case TaskFailed() if event.host not in wave.failures:
                    wave.failures.add(event.host)
                    self.console.print(Text(failure_line(event), style="red"))
                case Message():
                    self.console.print(Text(message_line(event)))
                case HostDone() if event.status in BAD and event.host not in wave.failures:
                    wave.failures.add(event.host)
                    self.console.print(Text(host_line(event),
                                            style=COLOURS.get(event.status, "red")))
        if isinstance(event, RolledBack):
            self.console.print(Text(rollback_line(event), style="green" if event.ok else "red"))
        self.live.refresh()


class LogLines:
    """`--ci` or a pipe: one plain line per step worth a line in a log, failures the moment
    they happen; hosts are named only when they fail."""

    def __init__(self, echo=click.echo):
        self.echo = echo
        self.wave: WaveProgress | None = None

    def __call__(self, event: Event) -> None:
        wave = self.wave
        if isinstance(event, WaveStarted):
            hosts = list(event.hosts)
            self.wave = WaveProgress(event.play, event.wave, hosts)
            self.echo(f"{event.play}: wave {event.wave + 1} "
                      f"({count(len(hosts), 'host')}): {fold_hosts(hosts)}")
            return
        if wave is None:
            return
        wave.on(event)
        match event:
            case TaskFailed() if event.host not in wave.failures:
                wave.failures.add(event.host)
                self.echo(f"  {failure_line(event)}")
            case Message():
                self.echo(f"  {message_line(event)}")
            case HostDone() if event.status in BAD and event.host not in wave.failures:
                wave.failures.add(event.host)
                self.echo(f"  {host_line(event)}")
            case HealthChecking() if event.hosts:
                if event.wave >= 0:
                    self.echo(f"  applied: {wave.counts()}")
                self.echo(f"  health checks on {count(len(event.hosts), 'host')}")
            case Baking() if not wave.bake_said:
                wave.bake_said = True
                self.echo(f"  baking {event.remaining:.0f}s")
            case WaveDone():
                reason = f" ({event.reason})" if event.reason else ""
                self.echo(f"  wave {event.wave + 1}: {event.status}{reason} · "
                          f"{duration(wave.took)}")
            case RolledBack():
                self.echo(f"  {rollback_line(event)}")
