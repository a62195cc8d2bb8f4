"""`creates` / `removes` of command and shell: the host's sh answers as Python's glob.glob (what
the command module runs) answers, for filenames and glob patterns, run here with a real sh."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.modules.commands import Matches

NAMES = ["a.conf", "b.log", "with space.txt", "it's", "$HOME", "star*lit", ".hidden",
         "sub/inner.conf", "[ab].txt"]

PATTERNS = ["a.conf", "*.conf", "*.ini", "?.log", "??.log", "[ab].log", "[!a].log", "[xy].log",
            "with space.txt", "with *", "it's", "$HOME", "${HOME}", "star*lit", "star\\*lit",
            "*", ".*", "*/inner.conf", "sub/*.conf", "*/*.none", "[ab].txt", "[ab", "a.conf;true",
            "`echo a.conf`", "$(echo a.conf)", "broken", "sub/", "nothing/", ""]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("creates")
    for name in NAMES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    (root / "broken").symlink_to(root / "no-such-target")
    return root


@pytest.mark.parametrize("pattern", PATTERNS)
def test_sh_matches_as_python_glob(tree: Path, pattern: str) -> None:
    full = f"{tree}/{pattern}"
    done = subprocess.run(["sh", "-c", Matches().command(full)], capture_output=True,
                          text=True, check=True)
    assert Matches().process(done.stdout.splitlines()) == bool(glob.glob(full)), full


def test_the_pattern_is_never_run_as_a_command(tree: Path) -> None:
    marker = tree / "ran"
    for pattern in (f"x;touch {marker}", f"$(touch {marker})", f"`touch {marker}`",
                    f"x' ; touch '{marker}"):
        subprocess.run(["sh", "-c", Matches().command(f"{tree}/{pattern}")], check=True,
                       capture_output=True)
    assert not os.path.lexists(marker)
