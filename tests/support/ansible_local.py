"""ansible-playbook as an oracle on this machine (connection local): render what a test needs
into files under a directory and read them back. No lab host, so it runs with the fast tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.ansible_collections import collections_path

ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))


def run_local(workdir: Path, tasks: list[dict[str, Any]], variables: dict[str, Any] | None = None,
              extra_vars: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run `tasks` in one play on localhost from `workdir` (templates/ beside the playbook)."""
    workdir.mkdir(parents=True, exist_ok=True)
    playbook = workdir / "oracle.yaml"
    play = {"hosts": "localhost", "gather_facts": False, "vars": variables or {},
            "tasks": tasks}
    playbook.write_text(yaml.safe_dump([play], allow_unicode=True, sort_keys=False))
    config = workdir / "ansible.cfg"
    collections = collections_path()  # ansible.posix, community.general beside ansible-core
    config.write_text("[defaults]\n"
                      + (f"collections_path = {collections}\n" if collections else ""))
    argv = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook),
            "-e", f"ansible_python_interpreter={sys.executable}"]
    for extra in extra_vars or []:
        argv += ["-e", extra]
    env = {**os.environ, "ANSIBLE_CONFIG": str(config), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"), "ANSIBLE_DEPRECATION_WARNINGS": "false"}
    return subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, check=False,
                          timeout=600)
