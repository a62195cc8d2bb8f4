"""A run's waves as the run index stored them (`RunStore.waves`: plain dicts) back as the
objects the renderers read: `WaveReport` with its `PlayResult` and `CheckResult`s."""

from __future__ import annotations

from typing import Any

from orchestrator.engine.results import HostResult, PlayResult, TaskResult
from orchestrator.rollout.health import CheckResult
from orchestrator.rollout.run import WaveReport


def wave_from_dict(data: dict[str, Any]) -> WaveReport:
    fields = {k: v for k, v in data.items() if k not in ("apply", "health")}
    wave = WaveReport(**{k: v for k, v in fields.items()
                         if k in WaveReport.__dataclass_fields__})
    apply = data.get("apply")
    if apply:
        wave.apply = PlayResult(apply["name"], {
            name: HostResult(name, [TaskResult(**t) for t in host.get("tasks", [])],
                             host.get("error"), bool(host.get("unreachable")))
            for name, host in apply.get("hosts", {}).items()}, dict(apply.get("workers") or {}))
    wave.health = {host: [CheckResult(**c) for c in checks]
                   for host, checks in (data.get("health") or {}).items()}
    return wave


def waves_from_store(rows: list[dict[str, Any]]) -> list[WaveReport]:
    return [wave_from_dict(row) for row in rows]
