"""Every command's tables, written to a pipe or a file, keep each line whole (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.orc import run_orc

LONG = "a-host-with-a-rather-long-name-that-makes-any-table-wider-than-eighty-columns"


def test_rollback_table_in_a_pipe_is_not_cut(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yaml"
    # port 1 refuses at once: the host's row says why, on one line, whatever its width
    inventory.write_text(f"all:\n  hosts:\n    {LONG}:\n      ansible_host: 127.0.0.1\n"
                         "      ansible_port: 1\n")
    result = run_orc("rollback", "20260101-000000-abcdef", "-i", str(inventory),
                     "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 1, result.stderr
    rows = [line for line in result.stdout.splitlines() if LONG in line]
    assert len(rows) == 1, result.stdout
    assert re.search(r"failed .*unreachable: connection refused", rows[0]), rows[0]
    assert "Traceback" not in result.stderr


def test_no_command_makes_a_plain_console() -> None:
    """A plain rich Console lays out for 80 columns in a pipe; commands use make_console."""
    root = Path(__file__).resolve().parent.parent / "orchestrator"
    plain = [f"{path.relative_to(root)}:{n}" for path in root.rglob("*.py")
             if path.name != "console.py"
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"(?<![\w.])Console\(", line)]
    assert plain == []
