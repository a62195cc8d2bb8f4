"""ansible-core as the oracle of the inventory tests: its real commands on the same files.

`ansible_inventory(...)` runs `ansible-inventory` from the test venv. Run as a script, this module
evaluates host patterns with ansible-core's own InventoryManager (the code behind `ansible
PATTERN --list-hosts`), all of them in one process, since starting ansible costs half a second.
Every run happens in an empty directory with an empty ansible.cfg, so no local configuration or
stray group_vars can change the answer.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

BIN = Path(sys.executable).parent
INVENTORIES = Path(__file__).parent.parent / "data" / "inventories"


@cache
def _sandbox() -> Path:
    """An empty working directory with an empty ansible.cfg, removed when the tests end."""
    sandbox = Path(tempfile.mkdtemp(prefix="orc-ansible-oracle-"))
    atexit.register(shutil.rmtree, sandbox, True)
    (sandbox / "ansible.cfg").write_text("")
    return sandbox


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env |= {"ANSIBLE_CONFIG": str(_sandbox() / "ansible.cfg"), "ANSIBLE_HOME": str(_sandbox()),
            "ANSIBLE_NOCOLOR": "1"}
    return env


def _run(command: list[str]) -> str:
    done = subprocess.run(command, cwd=_sandbox(), env=_env(), capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def inventory_args(sources: list[str]) -> list[str]:
    return [arg for source in sources for arg in ("-i", source)]


def ansible_inventory(sources: list[str], *args: str) -> str:
    """stdout of `ansible-inventory -i SOURCE... ARGS...`."""
    return _run([str(BIN / "ansible-inventory"), *inventory_args(sources), *args])


def ansible_list_hosts(sources: list[str], pattern: str, limit: str | None = None) -> list[str]:
    """Hosts of `ansible PATTERN --list-hosts [--limit LIMIT]`, in ansible's order."""
    command = [str(BIN / "ansible"), pattern, *inventory_args(sources), "--list-hosts"]
    out = _run(command + (["--limit", limit] if limit else []))
    return [line.strip() for line in out.splitlines()[1:] if line.strip()]


def ansible_patterns(requests: list[tuple[list[str], list[tuple[str, str | None]]]]
                     ) -> list[list[list[str]]]:
    """For each (sources, [(pattern, limit), ...]): the hosts ansible-core selects, in order.

    All requests are answered by one ansible process, each with a fresh InventoryManager.
    """
    out = _run([sys.executable, __file__, json.dumps(requests)])
    return json.loads(out)


def _evaluate(requests: list) -> list[list[list[str]]]:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    answers = []
    for sources, queries in requests:
        manager = InventoryManager(loader=DataLoader(), sources=sources)
        selected = []
        for pattern, limit in queries:
            manager.subset(limit)
            selected.append([host.name for host in manager.get_hosts(pattern)])
        answers.append(selected)
    return answers


if __name__ == "__main__":
    print(json.dumps(_evaluate(json.loads(sys.argv[1]))))
