"""A run as one self-contained HTML page: what a CI job uploads and an on-call engineer opens.

The page needs nothing from the network (inline CSS and SVG, no script, font or image fetched):
a timeline of the rollout (a row per host; bars for apply, health checks and bake on one time
axis; each wave a band, a failed wave in red), the waves, each host's status, changed tasks,
diffs (masked before they were stored), health results and what its journal recorded, and the
run's rollback state.
"""

from __future__ import annotations

import time
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.engine.results import CHANGED, FAILED
from orchestrator.events import Event, RunReported
from orchestrator.report.console import duration, host_row, task_label
from orchestrator.report.hosts import count, fold_hosts

if TYPE_CHECKING:
    from orchestrator.rollout.store import RunStore

ROW = 22  # px per host row on the timeline
LABEL = 170  # px for host names left of the axis
WIDTH = 1100  # px of the whole timeline
HEAD = 34  # px above the first row (the axis)
BAD_STATUSES = ("failed", "unreachable", "unhealthy")

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px;
       color: #1d2327; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
code, pre { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; margin: 4px 0 10px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
         font-weight: 600; font-size: 12px; }
.s-ok, .s-succeeded { background: #2e7d32; } .s-changed { background: #b26a00; }
.s-failed, .s-halted, .s-unreachable, .s-unhealthy, .s-interrupted { background: #d32f2f; }
.s-rolled-back, .s-rolling-back { background: #7b1fa2; } .s-paused, .s-running { background: #1565c0; }
.s-aborted, .s-not-run, .s-skipped { background: #757575; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tr.failed td { background: #fdecea; }
details { margin: 4px 0; } summary { cursor: pointer; }
.meta { color: #57606a; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2327; }
svg .band { fill: #f3f6f9; } svg .band.failed { fill: #fdecea; }
svg .wave-label { font-weight: 600; } svg .wave-label.failed { fill: #d32f2f; }
svg .apply { fill: #1976d2; } svg .apply.failed { fill: #d32f2f; }
svg .health { fill: #43a047; } svg .health.failed { fill: #d32f2f; }
svg .bake { fill: #a5d6a7; } svg .bake.failed { fill: #ef9a9a; }
svg .tick { stroke: #d0d7de; } svg .axis { stroke: #57606a; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px;
               vertical-align: middle; }
"""


def _slug(status: str) -> str:
    return "s-" + status.replace(" ", "-")


def _badge(status: str) -> str:
    return f'<span class="badge {_slug(status)}">{escape(status)}</span>'


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def timeline(run: Any, waves: list[Any]) -> str:
    """The rollout on one time axis, as inline SVG."""
    rows = [(wave, host) for wave in waves for host in wave.hosts]
    start = min([w.started for w in waves if w.started] or [run.created])
    end = max([w.finished or w.applied or w.started for w in waves] + [start + 1])
    span = max(end - start, 1.0)
    plot = WIDTH - LABEL - 20
    height = HEAD + ROW * len(rows) + ROW * len(waves) + 10

    def x(stamp: float) -> float:
        return LABEL + (max(start, min(stamp, end)) - start) / span * plot

    out = [f'<svg id="timeline" width="{WIDTH}" '
           f'height="{height}" role="img" aria-label="rollout timeline">']
    step = _tick_step(span)
    tick = 0.0
    while tick <= span + 1e-6:
        tx = LABEL + tick / span * plot
        out.append(f'<line class="tick" x1="{tx:.1f}" y1="{HEAD - 6}" x2="{tx:.1f}" '
                   f'y2="{height}"/>')
        out.append(f'<text x="{tx:.1f}" y="{HEAD - 10}" text-anchor="middle">'
                   f'{escape(duration(tick))}</text>')
        tick += step
    out.append(f'<line class="axis" x1="{LABEL}" y1="{HEAD - 4}" x2="{LABEL + plot}" '
               f'y2="{HEAD - 4}"/>')
    y = HEAD
    for wave in waves:
        failed = " failed" if wave.status == FAILED else ""
        band_height = ROW * (len(wave.hosts) + 1)
        out.append(f'<g class="wave{failed}" data-wave="{wave.index + 1}" '
                   f'data-play="{escape(wave.play)}" data-status="{escape(wave.status)}">')
        out.append(f'<rect class="band{failed}" x="0" y="{y}" width="{WIDTH}" '
                   f'height="{band_height - 2}"/>')
        label = (f"{wave.play}: wave {wave.index + 1} · {wave.status}"
                 + (f" · {wave.reason}" if wave.reason else ""))
        out.append(f'<text class="wave-label{failed}" x="6" y="{y + 15}">{escape(label)}</text>')
        y += ROW
        for host in wave.hosts:
            out.append(_host_bars(wave, host, y, x))
            y += ROW
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _tick_step(span: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if span / step <= 10:
            return float(step)
    return 7200.0


def _host_bars(wave: Any, host: str, y: float, x) -> str:
    row = host_row(wave, host)
    checks = wave.health.get(host, [])
    # a host fails by its apply (unreachable, a task, its journal) or by its health checks
    unhealthy = host in wave.failed_hosts and any(not c.ok for c in checks)
    bad_apply = row.status == "unreachable" or row.failed > 0 or (
        row.status in (FAILED, "unhealthy") and not unhealthy)
    parts = [f'<g class="host-row" data-host="{escape(host)}" data-status="{escape(row.status)}">',
             f'<text x="14" y="{y + 15}">{escape(host)}</text>']

    def bar(kind: str, begin: float | None, finish: float | None, failed: bool) -> None:
        if begin is None or finish is None:
            return
        x0, x1 = x(begin), x(finish)
        width = max(x1 - x0, 3.0)
        klass = f"bar {kind}" + (" failed" if failed else "")
        parts.append(f'<rect class="{klass}" x="{x0:.1f}" y="{y + 4}" width="{width:.1f}" '
                     f'height="{ROW - 8}" rx="2"><title>{escape(host)}: {kind} '
                     f'{escape(duration(finish - begin))}</title></rect>')

    applied = wave.applied or wave.finished
    bar("apply", wave.started, applied, bad_apply)
    firsts: dict[str, Any] = {}
    for check in checks:
        firsts.setdefault(check.check, check)
    if firsts and not bad_apply:
        checked = max(c.at for c in firsts.values())
        failed_first = any(not c.ok for c in firsts.values())
        bar("health", applied, checked, unhealthy and failed_first)
        if len(checks) > len(firsts):  # bake rounds followed the first checks
            bar("bake", checked, max(max(c.at for c in checks), wave.finished or 0),
                unhealthy and not failed_first)
    parts.append("</g>")
    return "".join(parts)


def _waves_table(waves: list[Any]) -> str:
    out = ["<table id='waves'><tr><th>play</th><th>wave</th><th>hosts</th><th>status</th>"
           "<th>failed hosts</th><th>reason</th><th>started</th><th>time</th></tr>"]
    for wave in waves:
        klass = " class='failed'" if wave.status == FAILED else ""
        took = (wave.finished or wave.started) - wave.started
        out.append(f"<tr{klass}><td>{escape(wave.play)}</td><td>{wave.index + 1}</td>"
                   f"<td>{escape(fold_hosts(wave.hosts))} ({len(wave.hosts)})</td>"
                   f"<td>{_badge(wave.status)}</td>"
                   f"<td>{escape(fold_hosts(wave.failed_hosts)) or '-'}</td>"
                   f"<td>{escape(wave.reason or '')}</td><td>{_when(wave.started)}</td>"
                   f"<td>{escape(duration(took))}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _host_section(wave: Any, host: str, recorded: list[dict[str, Any]]) -> str:
    row = host_row(wave, host)
    result = wave.apply.hosts.get(host) if wave.apply else None
    bad = row.status in BAD_STATUSES
    out = [f"<details class='host' data-host='{escape(host)}'{' open' if bad else ''}>"
           f"<summary><b>{escape(host)}</b> {_badge(row.status)} <span class='meta'>wave "
           f"{wave.index + 1} · {row.changed} changed · {row.failed} failed · health "
           f"{escape(row.health)}</span></summary>"]
    if row.detail:
        out.append(f"<p class='detail'>{escape(row.detail)}</p>")
    tasks = [t for t in (result.tasks if result else []) if t.status in (CHANGED, FAILED)]
    if tasks:
        out.append("<table class='tasks'><tr><th>task</th><th>status</th><th>where</th>"
                   "<th>error</th></tr>")
        for task in tasks:
            out.append(f"<tr{' class=failed' if task.status == FAILED else ''}>"
                       f"<td>{escape(task_label(task))}</td><td>{_badge(task.status)}</td>"
                       f"<td><code>{escape(task.where)}</code></td>"
                       f"<td>{escape(task.error or '')}</td></tr>")
        out.append("</table>")
        for task in tasks:
            if task.diff:
                out.append(f"<div class='diff'><code>{escape(task_label(task))}</code>"
                           f"<pre>{escape(task.diff)}</pre></div>")
    checks = wave.health.get(host, [])
    if checks:
        out.append("<table class='health'><tr><th>health check</th><th>result</th>"
                   "<th>attempts</th><th>at</th><th>detail</th></tr>")
        for check in checks:
            out.append(f"<tr{'' if check.ok else ' class=failed'}><td>{escape(check.check)}</td>"
                       f"<td>{_badge('ok' if check.ok else 'failed')}</td>"
                       f"<td>{check.attempts}</td><td>{_when(check.at)}</td>"
                       f"<td>{escape(check.detail)}</td></tr>")
        out.append("</table>")
    if recorded:
        out.append("<table class='journal'><tr><th>recorded before the change</th><th>kind</th>"
                   "<th>task</th></tr>")
        for image in recorded:
            out.append(f"<tr><td><code>{escape(str(image['key']))}</code></td>"
                       f"<td>{escape(image['kind'])}</td><td>{escape(image['task'])}</td></tr>")
        out.append("</table>")
    out.append("</details>")
    return "".join(out)


def _rollback_section(run: Any, waves: list[Any]) -> str:
    automatic = [w.rollback for w in waves if getattr(w, "rollback", None)]
    state = {"rolled-back": "rolled back", "rolling-back": "being rolled back (or stopped "
             "while rolling back)"}.get(run.status)
    out = ["<h2>Rollback</h2>"]
    if not automatic and not state:
        out.append(f"<p id='rollback'>Not rolled back. Undo with <code>orc rollback "
                   f"{escape(run.id)}</code>.</p>")
        return "".join(out)
    if state:
        out.append(f"<p id='rollback'>The run is {escape(state)}.</p>")
    for result in automatic:
        hosts = sorted(result.get("hosts", {}))
        out.append(f"<p>Automatic rollback (<code>rollback: {escape(result['mode'])}</code>) of "
                   f"{escape(fold_hosts(hosts)) or 'no host'}: "
                   f"{_badge('ok' if result.get('ok') else 'failed')}"
                   + (f" {escape(result['error'])}" if result.get("error") else "") + "</p>")
        if result.get("hosts"):
            out.append("<table><tr><th>host</th><th>restored</th><th>irreversible</th>"
                       "<th>failed</th></tr>")
            for host, done in sorted(result["hosts"].items()):
                out.append(f"<tr><td>{escape(host)}</td><td>{done.get('restored', 0)}</td>"
                           f"<td>{escape(', '.join(done.get('irreversible') or []))}</td>"
                           f"<td>{escape('; '.join(done.get('failed') or []))}</td></tr>")
            out.append("</table>")
    return "".join(out)


def to_html(run: Any, waves: list[Any], preimages: list[dict[str, Any]]) -> str:
    """The page for `run` (`rollout.store.Run`), its waves (`rollout.run.WaveReport`) and
    the pre-images its hosts recorded (`RunStore.preimages`)."""
    hosts = [h for w in waves for h in w.hosts]
    rows = [host_row(w, h) for w in waves for h in w.hosts]
    bad = sum(r.status in BAD_STATUSES for r in rows)
    end = max([w.finished for w in waves if w.finished] + [run.updated])
    recorded: dict[str, list[dict[str, Any]]] = {}
    for image in preimages:
        recorded.setdefault(image["host"], []).append(image)
    title = f"orc run {run.id}"
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
           f"<h1>{escape(title)} {_badge(run.status)}</h1>",
           f"<p class='meta'><code>{escape(run.playbook)}</code> · started {_when(run.created)}"
           f" · {escape(duration(end - run.created))} · {count(len(waves), 'wave')} · "
           f"{count(len(hosts), 'host')}, {bad} failed</p>",
           "<h2>Timeline</h2>",
           "<p class='legend'><span style='background:#1976d2'></span>apply"
           "<span style='background:#43a047'></span>health checks"
           "<span style='background:#a5d6a7'></span>bake"
           "<span style='background:#d32f2f'></span>failed</p>",
           timeline(run, waves) if waves else "<p>No wave ran.</p>",
           "<h2>Waves</h2>", _waves_table(waves),
           _rollback_section(run, waves),
           "<h2>Hosts</h2>"]
    for wave in waves:
        for host in wave.hosts:
            out.append(_host_section(wave, host, recorded.get(host, [])))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_html(run: Any, waves: list[Any], preimages: list[dict[str, Any]], path: Path) -> None:
    path.write_text(to_html(run, waves, preimages), encoding="utf-8")


class HtmlReport:
    """The listener `--html PATH` attaches: the page of the run once its report is whole. The
    run's record and what its hosts recorded come from the run index (`store`), which holds
    them by then."""

    def __init__(self, path: Path, store: RunStore):
        self.path = path
        self.store = store

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunReported):
            run_id = event.report.run_id
            write_html(self.store.get(run_id), event.report.waves, self.store.preimages(run_id),
                       self.path)
