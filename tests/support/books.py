"""A lab test's playbook folder applied to one lab host through the `orc` command, as a user
runs it, and the task results read back from the JSON report.

The `work` mapping a test's fixture makes: `dir` (the folder holding the playbooks), `name`
(the lab host), `inventory` (the lab's inventory) and `state` (the folder for `.orc/`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.orc import run_orc


def work_on(lab: Any, inventory: Path, folder: Path, **playbooks: str) -> dict[str, Any]:
    """The `work` of a test on the lab's first host: each playbook text written into `folder`
    under its name (`site_yaml="..."` is site.yaml)."""
    for name, text in playbooks.items():
        (folder / name.replace("_yaml", ".yaml")).write_text(text)
    return {"dir": folder, "name": lab.hosts[0].name, "inventory": inventory,
            "state": folder / ".orc"}


def orc(work: dict[str, Any], command: str, playbook: str = "site.yaml",
        *args: str) -> tuple[int, dict]:
    """`orc plan|apply PLAYBOOK` limited to the work's host; its exit code and JSON report."""
    report = work["dir"] / "report.json"
    report.unlink(missing_ok=True)
    extra = ["--yes", "--ci", "--state-dir", str(work["state"])] if command == "apply" else []
    proc = run_orc(command, str(work["dir"] / playbook), "-i", str(work["inventory"]),
                   "--limit", work["name"], *extra, "--json", str(report), *args)
    assert report.exists(), proc.stdout + proc.stderr
    return proc.returncode, json.loads(report.read_text())


def tasks(report: dict, host: str) -> list[dict]:
    """A host's task results from a plan (`plays`) or an apply (`waves`) report."""
    found = []
    for play in report.get("plays") or []:
        found += play["hosts"].get(host, {}).get("tasks", [])
    for wave in report.get("waves") or []:
        found += ((wave.get("apply") or {}).get("hosts") or {}).get(host, {}).get("tasks", [])
    return found
