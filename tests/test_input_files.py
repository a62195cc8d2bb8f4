"""The safe reader and the one YAML loader: what every file orc reads is held to."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import InputError, InventoryError, OrcError, SecretsError
from orchestrator.inventory import load_inventory
from orchestrator.load import inputfile, yamlfile
from orchestrator.load.playbook import load_playbook
from orchestrator.secrets import yamlio
from orchestrator.secrets.policy import PathGlob
from tests.support.alarm import time_limit


def test_a_fifo_a_device_and_a_directory_are_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # no writer: opening it for reading would wait forever
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")  # would be read forever
    for path, kind in ((fifo, "a FIFO (named pipe)"), (zero, "a character device"),
                       (tmp_path, "a directory")):
        with pytest.raises(InputError, match=f"^{re.escape(f'{path}: is {kind}, not a regular')}"):
            inputfile.read_text(path)


def test_missing_files_and_dangling_links_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        inputfile.read_bytes(tmp_path / "nothing")
    (tmp_path / "link").symlink_to(tmp_path / "nothing")
    with pytest.raises(InputError, match="symbolic link to a file that does not exist"):
        inputfile.read_bytes(tmp_path / "link")
    assert inputfile.exists(tmp_path / "link")  # found, so that reading it says why


def test_a_file_over_the_limit_is_refused_and_the_limit_is_configurable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * 100)
    monkeypatch.setenv(inputfile.TEXT_LIMIT_VARIABLE, "100")
    with pytest.raises(InputError, match=r"is 500 bytes, over orc's limit of 100 bytes "
                                         r"\(raise it with \$ORC_MAX_FILE_BYTES\)"):
        yamlfile.load(big)
    assert inputfile.read_bytes(big, copy=True) == big.read_bytes()  # copy has its own limit
    monkeypatch.setenv(inputfile.TEXT_LIMIT_VARIABLE, "500")
    assert inputfile.read_bytes(big) == big.read_bytes()  # at the limit is within it
    monkeypatch.setenv(inputfile.TEXT_LIMIT_VARIABLE, "lots")
    with pytest.raises(OrcError, match="ORC_MAX_FILE_BYTES='lots' must be a positive number"):
        inputfile.read_bytes(big)


@pytest.mark.parametrize("content, line, words", [
    (b"a: 1\nb: \xff\n", 2, "not UTF-8 text (invalid start byte at column 4)"),
    (b"a: 1\n\nname: web\x00tier\n", 3, "not text (a NUL byte at column 10)"),
    (b"a: 1\nb: \x07\n", 2, "invalid YAML: a control character"),
])
def test_bytes_that_are_not_text_are_named_at_their_line(tmp_path: Path, content: bytes,
                                                         line: int, words: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(content)
    with pytest.raises(InputError) as raised:
        yamlfile.load(path)
    assert (raised.value.path, raised.value.line) == (str(path), line)
    assert words in raised.value.message


def test_duplicate_keys_are_refused_in_every_kind_of_yaml(tmp_path: Path) -> None:
    text = "all:\n  hosts:\n    web1:\n  hosts:\n    web2:\n"
    with pytest.raises(InputError, match=r"t:4: invalid YAML: duplicate key 'hosts' \(first at "
                                         r"line 2\)$"):
        yamlfile.parse(text, path="t")
    with pytest.raises(SecretsError, match=r"t:4: invalid YAML: duplicate key 'hosts'"):
        yamlio.load(text, source="t")
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(text)
    with pytest.raises(InventoryError, match=r"hosts.yaml:4: invalid YAML: duplicate key 'hosts'"):
        load_inventory([str(inventory)])
    inventory.write_text('{"all": {"hosts": {"a": {}}, "hosts": {"b": {}}}}')  # JSON too
    with pytest.raises(InventoryError, match=r"hosts.yaml:1: invalid YAML: duplicate key 'hosts'"):
        load_inventory([str(inventory)])
    playbook = tmp_path / "site.yaml"
    playbook.write_text("- hosts: all\n  serial: 1\n  tasks: []\n  serial: 2\n")
    with pytest.raises(InputError, match=r"site.yaml:4: invalid YAML: duplicate key 'serial'"):
        load_playbook(playbook)


def test_merge_keys_still_merge_and_may_be_overridden() -> None:
    data = yamlfile.parse("base: &b {a: 1, b: 2}\nother:\n  <<: *b\n  b: 3\n", path="t")
    assert data["other"] == {"a": 1, "b": 3}
    assert yamlio.load("'<<': 1\nx: 2\n", source="t") == {"<<": 1, "x": 2}  # sops: a plain key


def test_alias_bombs_recursive_aliases_and_deep_nesting_are_refused() -> None:
    levels = ["a: &a [" + ",".join(["x"] * 10) + "]"]
    for n in range(1, 9):
        prev, name = chr(ord("a") + n - 1), chr(ord("a") + n)
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    bomb = "\n".join(levels) + "\n"  # 10**9 strings when expanded
    for load in (lambda t: yamlfile.parse(t, path="t"), lambda t: yamlio.load(t, source="t")):
        with pytest.raises(OrcError, match=r"t:1: invalid YAML: aliases expand the document by "
                                           r"more than 1000000 nodes"):
            load(bomb)
    with pytest.raises(InputError, match="an alias refers to a node that contains it"):
        yamlfile.parse("a: &x\n  - *x\n", path="t")
    for deep in ("[" * 150 + "]" * 150, "[" * 5000 + "]" * 5000, "- " * 2000 + "x"):
        with pytest.raises(InputError, match="nested more than 100 levels deep"):
            yamlfile.parse(deep, path="t")
    few = yamlfile.parse("a: &a [1, 2]\nb: [*a, *a]\n", path="t")  # ordinary aliases load
    assert few["b"] == [[1, 2], [1, 2]]


@pytest.mark.parametrize("text", ["a: !!int x", "a: !!float x", "a: !!timestamp 2024-13-45",
                                  "a: [!!int x]", "a: !!binary x", "a: !!bool x",
                                  "a: !!timestamp x", "a: !!omap x", "a: !!map x"])
def test_a_value_its_tag_cannot_build_is_a_yaml_error(text: str) -> None:
    with pytest.raises(InputError, match="^t:1: invalid YAML"):
        yamlfile.parse(text, path="t")


def _old_glob_regex(pattern: str) -> re.Pattern[str]:
    """The translation orc used before (backtracking), as the oracle of the semantics."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@settings(max_examples=1500, derandomize=True, database=None, deadline=None)
@given(st.text("ab/*?.", max_size=12), st.text("ab/.", max_size=12))
def test_signer_globs_mean_what_they_meant(pattern: str, path: str) -> None:
    assert PathGlob(pattern).fullmatch(path) == bool(_old_glob_regex(pattern).fullmatch(path))


@pytest.mark.parametrize("pattern, path, matches", [
    ("*a" * 3000 + "b", "a" * 3000, False),  # the backtracking regex took hours here
    ("**/" * 3000 + "x", "a/" * 1000 + "y", False),
    ("**/" * 3000 + "y", "a/" * 1000 + "y", True),
    ("*" * 10000 + "?" * 3000, "secrets/" + "a" * 4000, True),
    ("*" * 10000 + "?" * 3000, "secrets/" + "a" * 2000, False),
    ("**" * 5000 + "a*" * 5000, "ab/" * 1000, False),
])
def test_a_long_pathological_glob_is_matched_without_backtracking(pattern: str, path: str,
                                                                  matches: bool) -> None:
    with time_limit(10):  # a hang fails the test; the time is not asserted
        assert PathGlob(pattern).fullmatch(path) is matches


def test_a_template_nested_too_deeply_to_parse_is_one_error_at_its_task(tmp_path: Path) -> None:
    deep = "{{ " + "(" * 3000 + "x" + ")" * 3000 + " }}"
    (tmp_path / "deep.j2").write_text(deep + "\n")
    playbook = tmp_path / "site.yaml"
    for task in (f"command: echo '{deep}'", "template: {src: deep.j2, dest: /tmp/x}"):
        playbook.write_text(f"- hosts: all\n  tasks:\n    - {task}\n")
        with pytest.raises(InputError, match=r"site.yaml:3: a template in this task is nested "
                                             r"too deeply to parse$"):
            load_playbook(playbook)
