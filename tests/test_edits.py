"""lineinfile, replace and blockinfile as pure edits (orchestrator/modules/edits.py), table-driven.

Every row's expected bytes were obtained by running ansible-core 2.19 on a local file with the
row's arguments (tests/support/edits_oracle.py); `test_rows_are_ansible_s` runs that oracle again
when ansible-playbook is installed, so a row can never drift from what Ansible does.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from orchestrator.modules import edits, rewrite, tree
from tests.support import edits_oracle

L, R, B = "lineinfile", "replace", "blockinfile"
FAILED = edits_oracle.FAILED
SSHD = b"# sshd\nPort 22\nPermitRootLogin yes\n"

# (id, module, arguments, bytes before (None: no file), bytes after (None: no file) or FAILED)
ROWS = [
    ('port-regexp', L, {'regexp': '^Port\\s+\\d+', 'line': 'Port 2222'},
     SSHD,
     b'# sshd\nPort 2222\nPermitRootLogin yes\n'),
    ('port-regexp-again', L, {'regexp': '^Port\\s+\\d+', 'line': 'Port 2222'},
     b'# sshd\nPort 2222\nPermitRootLogin yes\n',
     b'# sshd\nPort 2222\nPermitRootLogin yes\n'),
    ('regexp-last-match', L, {'regexp': '^a=', 'line': 'a=9'},
     b'a=1\nb=2\na=3\n',
     b'a=1\nb=2\na=9\n'),
    ('regexp-firstmatch', L, {'regexp': '^a=', 'line': 'a=9', 'firstmatch': True},
     b'a=1\nb=2\na=3\n',
     b'a=9\nb=2\na=3\n'),
    ('regexp-no-match-appends', L, {'regexp': '^c=', 'line': 'c=3'},
     b'a=1\nb=2',
     b'a=1\nb=2\nc=3\n'),
    ('named-group-regexp', L, {'regexp': '^(?P<key>\\w+)=\\d+$', 'line': 'x=0'},
     b'k=1\n',
     b'x=0\n'),
    ('empty-file', L, {'line': 'hello'},
     b'',
     b'hello\n'),
    ('create', L, {'line': 'hello', 'create': True},
     None,
     b'hello\n'),
    ('missing-without-create', L, {'line': 'hello'},
     None,
     FAILED),
    ('line-present-already', L, {'line': 'b=2'},
     b'a=1\nb=2\n',
     b'a=1\nb=2\n'),
    ('line-present-no-newline', L, {'line': 'b=2'},
     b'a=1\nb=2',
     b'a=1\nb=2\n'),
    ('line-crlf', L, {'line': 'b=2'},
     b'a=1\r\nb=2\r\n',
     b'a=1\r\nb=2\n'),
    ('insertafter', L, {'line': 'new', 'insertafter': '^a'},
     b'a\nb\na2\nc\n',
     b'a\nb\na2\nnew\nc\n'),
    ('insertafter-firstmatch', L, {'line': 'new', 'insertafter': '^a', 'firstmatch': True},
     b'a\nb\na2\nc\n',
     b'a\nnew\nb\na2\nc\n'),
    ('insertafter-no-match', L, {'line': 'new', 'insertafter': '^zz'},
     b'a\nb\n',
     b'a\nb\nnew\n'),
    ('insertafter-last-line', L, {'line': 'new', 'insertafter': '^c'},
     b'a\nc',
     b'a\ncnew\n'),
    ('insertafter-eof', L, {'line': 'new', 'insertafter': 'EOF'},
     b'a\n',
     b'a\nnew\n'),
    ('insertafter-already-next', L, {'line': 'new', 'insertafter': '^a'},
     b'a\nnew\nb\n',
     b'a\nnew\nb\n'),
    ('insertbefore', L, {'line': 'new', 'insertbefore': '^b'},
     b'a\nb\nc\nb\n',
     b'a\nb\nc\nnew\nb\n'),
    ('insertbefore-firstmatch', L, {'line': 'new', 'insertbefore': '^b', 'firstmatch': True},
     b'a\nb\nc\nb\n',
     b'a\nnew\nb\nc\nb\n'),
    ('insertbefore-bof', L, {'line': 'new', 'insertbefore': 'BOF'},
     b'a\nb\n',
     b'new\na\nb\n'),
    ('insertbefore-no-match', L, {'line': 'new', 'insertbefore': '^zz'},
     b'a\n',
     b'a\nnew\n'),
    ('regexp-and-insertafter-match', L, {'regexp': '^x=', 'line': 'x=2', 'insertafter': '^a'},
     b'a\nx=1\nb\n',
     b'a\nx=2\nb\n'),
    ('regexp-and-insertafter-nomatch', L, {'regexp': '^x=', 'line': 'x=2', 'insertafter': '^a'},
     b'a\nb\n',
     b'a\nx=2\nb\n'),
    ('backrefs', L, {'regexp': '^(Port)\\s+(\\d+)$', 'line': '\\1 1\\2', 'backrefs': True},
     SSHD,
     b'# sshd\nPort 122\nPermitRootLogin yes\n'),
    ('backrefs-named', L,
     {'regexp': '^(?P<k>Port)\\s+\\d+$', 'line': '\\g<k> 80', 'backrefs': True},
     SSHD,
     b'# sshd\nPort 80\nPermitRootLogin yes\n'),
    ('backrefs-no-match', L, {'regexp': '^Listen (\\d+)', 'line': 'Listen \\1', 'backrefs': True},
     SSHD,
     SSHD),
    ('search-string', L, {'search_string': 'Root', 'line': 'PermitRootLogin no'},
     SSHD,
     b'# sshd\nPort 22\nPermitRootLogin no\n'),
    ('search-string-regex-chars', L, {'search_string': 'a.b', 'line': 'a.b=2'},
     b'axb=1\na.b=1\n',
     b'axb=1\na.b=2\n'),
    ('absent-regexp', L, {'regexp': '^a=\\d', 'state': 'absent'},
     b'a=1\nb=2\na=3\n',
     b'b=2\n'),
    ('absent-line', L, {'line': 'b=2', 'state': 'absent'},
     b'a=1\nb=2\nb=2\n',
     b'a=1\n'),
    ('absent-search-string', L, {'search_string': '=2', 'state': 'absent'},
     b'a=1\nb=2\n',
     b'a=1\n'),
    ('absent-missing-file', L, {'line': 'x', 'state': 'absent'},
     None,
     None),
    ('backrefs-without-regexp', L, {'line': 'x', 'backrefs': True},
     b'a\n',
     FAILED),
    ('replace-backref', R, {'regexp': '^(\\w+)=(\\d+)$', 'replace': '\\2=\\1'},
     b'a=1\nb=2\n',
     b'1=a\n2=b\n'),
    ('replace-named', R,
     {'regexp': '(?P<host>\\w+)\\.example\\.com', 'replace': '\\g<host>.example.org'},
     b'www.example.com mail.example.com\n',
     b'www.example.org mail.example.org\n'),
    ('replace-no-match', R, {'regexp': '^zz', 'replace': 'y'},
     b'a\n',
     b'a\n'),
    ('replace-remove', R, {'regexp': '^#.*\\n'},
     b'#c\na\n#d\n',
     b'a\n'),
    ('replace-after', R, {'regexp': 'x', 'replace': 'y', 'after': 'START'},
     b'x\nSTART\nx\n',
     b'x\nSTART\ny\n'),
    ('replace-before', R, {'regexp': 'x', 'replace': 'y', 'before': 'STOP'},
     b'x\nSTOP\nx\n',
     b'y\nSTOP\nx\n'),
    ('replace-after-before', R, {'regexp': 'x', 'replace': 'y', 'after': 'START', 'before': 'STOP'},
     b'x\nSTART\nx x\nSTOP\nx\n',
     b'x\nSTART\ny y\nSTOP\nx\n'),
    ('replace-after-nomatch', R, {'regexp': 'x', 'replace': 'y', 'after': 'NOPE'},
     b'x\n',
     b'x\n'),
    ('replace-missing', R, {'regexp': 'x', 'replace': 'y'},
     None,
     FAILED),
    ('replace-dollar-multiline', R, {'regexp': '\\s+$', 'replace': ''},
     b'a  \nb\t\n',
     b'a\nb'),
    ('block-new', B, {'block': 'x=1\ny=2'},
     b'a\n',
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\ny=2\n# END ANSIBLE MANAGED BLOCK\n'),
    ('block-replace', B, {'block': 'x=3'},
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\nb\n',
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=3\n# END ANSIBLE MANAGED BLOCK\nb\n'),
    ('block-same', B, {'block': 'x=1'},
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\nb\n',
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\nb\n'),
    ('block-absent', B, {'state': 'absent'},
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\nb\n',
     b'a\nb\n'),
    ('block-empty-removes', B, {'block': ''},
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\n',
     b'a\n'),
    ('block-markers', B,
     {'block': 'k=v', 'marker': '<!-- {mark} orc -->', 'marker_begin': 'START',
      'marker_end': 'STOP'},
     b'<html>\n',
     b'<html>\n<!-- START orc -->\nk=v\n<!-- STOP orc -->\n'),
    ('block-markers-replace', B,
     {'block': 'k=w', 'marker': '<!-- {mark} orc -->', 'marker_begin': 'START',
      'marker_end': 'STOP'},
     b'<html>\n<!-- START orc -->\nk=v\n<!-- STOP orc -->\n</html>\n',
     b'<html>\n<!-- START orc -->\nk=w\n<!-- STOP orc -->\n</html>\n'),
    ('block-insertafter', B, {'block': 'x', 'insertafter': '^a'},
     b'a\nb\na2\nc\n',
     b'a\nb\na2\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nc\n'),
    ('block-insertbefore', B, {'block': 'x', 'insertbefore': '^b'},
     b'a\nb\nc\nb\n',
     b'a\nb\nc\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n'),
    ('block-insertbefore-bof', B, {'block': 'x', 'insertbefore': 'BOF'},
     b'a\n',
     b'# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\na\n'),
    ('block-insertafter-nomatch', B, {'block': 'x', 'insertafter': '^zz'},
     b'a\n',
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n'),
    ('block-insertafter-multiline', B, {'block': 'x', 'insertafter': '(?m)^a\\nb$'},
     b'a\nb\nc\n',
     b'a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nc\n'),
    ('block-insertbefore-multiline', B, {'block': 'x', 'insertbefore': '(?m)^b\\nc$'},
     b'a\nb\nc\n',
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\nc\n'),
    ('block-no-final-newline', B, {'block': 'x'},
     b'a',
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n'),
    ('block-create', B, {'block': 'x', 'create': True},
     None,
     b'# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n'),
    ('block-missing', B, {'block': 'x'},
     None,
     FAILED),
    ('block-create-absent', B, {'state': 'absent', 'create': True},
     None,
     None),
    ('block-prepend-newline', B, {'block': 'x', 'prepend_newline': True},
     b'a\n',
     b'a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n'),
    ('block-append-newline', B, {'block': 'x', 'append_newline': True, 'insertbefore': '^b'},
     b'a\nb\n',
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\nb\n'),
    ('block-newlines-at-edges', B,
     {'block': 'x', 'prepend_newline': True, 'append_newline': True, 'insertbefore': 'BOF'},
     b'a\n',
     b'# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\na\n'),
    ('block-prepend-after-blank', B, {'block': 'x', 'prepend_newline': True},
     b'a\n\n',
     b'a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n'),
    ('block-reversed-markers', B, {'block': 'y'},
     b'a\n# END ANSIBLE MANAGED BLOCK\nx\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n',
     b'a\n# BEGIN ANSIBLE MANAGED BLOCK\ny\n# END ANSIBLE MANAGED BLOCK\nb\n'),
    ('block-empty-file', B, {'block': 'x'},
     b'',
     b'# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n'),
]


def apply(module: str, args: dict, before: bytes | None) -> bytes | None:
    """What orc's edit makes of `before` (raises EditError where Ansible fails the task)."""
    if module == L:
        return edits.lineinfile(before, edits.LineInFile(**args), "/f")
    if module == B:
        return edits.blockinfile(before, edits.BlockInFile(**args), "/f")
    return edits.replace(before, args["regexp"], args.get("replace", ""), args.get("after"),
                         args.get("before"), path="/f")


@pytest.mark.parametrize("name,module,args,before,after", ROWS, ids=[r[0] for r in ROWS])
def test_edit(name: str, module: str, args: dict, before: bytes | None,
              after: bytes | str | None) -> None:
    if after == FAILED:
        with pytest.raises(edits.EditError):
            apply(module, args, before)
    else:
        assert apply(module, args, before) == after


@pytest.mark.skipif(not edits_oracle.available(), reason="ansible-core is not installed")
def test_rows_are_ansible_s(tmp_path: Path) -> None:
    """The recorded rows are still what ansible-core does to the same files."""
    found = edits_oracle.run_cases(tmp_path, [(r[0], r[1], r[2], r[3]) for r in ROWS])
    assert {r[0]: r[4] for r in ROWS} == found



def test_file_bytes_fact_reads_type_attributes_and_bytes() -> None:
    fact = rewrite.FileBytes()
    assert fact.process(["absent"]) == rewrite.Current("absent")
    assert fact.process(["directory"]) == rewrite.Current("directory")
    assert fact.process(["file 640 root adm", "."]) == rewrite.Current(
        "file", 0o640, "root", "adm", b"")
    encoded = base64.b64encode(b"a\r\nb\x00\n\n").decode()
    assert fact.process(["file 644 www-data www-data", encoded + "."]).content == \
        b"a\r\nb\x00\n\n"


@pytest.mark.parametrize("value,current,expected", [
    (None, 0o600, None),  # an existing file keeps its mode
    (None, None, 0o644),  # a new one gets the umask's
    ("0640", 0o600, 0o640),
    (0o750, None, 0o750),
    ("u+x", 0o600, 0o700),
    ("g=r", None, 0o644),
])
def test_new_mode(value, current: int | None, expected: int | None) -> None:
    assert rewrite.new_mode(value, current) == expected


def test_tree_entries_fact() -> None:
    found = tree.TreeEntries().process(["d 755 root root /t/sub", "f 600 nobody nogroup /t/a b"])
    assert found == [(True, 0o755, "root", "root", "/t/sub"),
                     (False, 0o600, "nobody", "nogroup", "/t/a b")]
