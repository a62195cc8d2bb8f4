"""ansible-core's lineinfile, replace and blockinfile on local files, as the oracle of
orchestrator/modules/edits.py: each case's file is written, the module runs on it (one playbook
for all cases, connection local), and what the file holds afterwards is read back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.support.ansible_local import ANSIBLE_PLAYBOOK, run_local

FAILED = "failed"


def available() -> bool:
    return Path(ANSIBLE_PLAYBOOK).exists() or shutil.which("ansible-playbook") is not None


def run_cases(workdir: Path, cases: list[tuple[str, str, dict[str, Any], bytes | None]]
              ) -> dict[str, bytes | None | str]:
    """Each case (id, module, arguments, bytes before or None for no file) through
    ansible-playbook: the bytes after, None when there is no file, or FAILED."""
    files = workdir / "files"
    files.mkdir(parents=True, exist_ok=True)
    tasks = []
    for number, (_, module, args, before) in enumerate(cases):
        path = files / f"case{number}"
        if path.exists():
            path.unlink()
        if before is not None:
            path.write_bytes(before)
        tasks.append({"name": f"case {number}", module: {**args, "path": str(path)},
                      "register": f"r{number}", "ignore_errors": True})
    collected = "{{ {" + ", ".join(f"'r{n}': r{n}.failed | default(false)"
                                   for n in range(len(cases))) + "} | to_json }}"
    tasks.append({"name": "results", "copy": {"content": collected,
                                             "dest": str(workdir / "results.json")}})
    proc = run_local(workdir, tasks)
    assert (workdir / "results.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    failed = json.loads((workdir / "results.json").read_text())
    outcome: dict[str, bytes | None | str] = {}
    for number, (name, _, _, _) in enumerate(cases):
        path = files / f"case{number}"
        if failed[f"r{number}"]:
            outcome[name] = FAILED
        else:
            outcome[name] = path.read_bytes() if path.exists() else None
    return outcome
