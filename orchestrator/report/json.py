"""`orc apply --json PATH`: the run's whole report as JSON, for CI and scripts.

The document is `RolloutReport` as `dataclasses.asdict` lays it out (run_id, playbook, status,
started, finished, waves with their apply, health and rollback, rollback), values JSON cannot
hold written as `str()` of them, every secret masked, indented by two, with a final newline.
Scripts and the tests read it: its bytes stay the same from release to release.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.events import Event, RunReported
from orchestrator.secrets import masking

if TYPE_CHECKING:
    from orchestrator.rollout.run import RolloutReport


def report_document(report: RolloutReport) -> dict[str, Any]:
    """The report as plain JSON values, masked."""
    data = json.loads(json.dumps(report.to_dict(), default=str))
    return masking.hide_tree(data)


def to_json(report: RolloutReport) -> str:
    return json.dumps(report_document(report), indent=2) + "\n"


class JsonReport:
    """The listener `--json PATH` attaches: writes the report once it is whole."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunReported):
            self.path.write_text(to_json(event.report))
