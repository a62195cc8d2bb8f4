"""What lineinfile, replace and blockinfile make of a file: its current bytes in, its new bytes out.

Pure functions, computed on the controller with Python's `re`, so the syntax users write for
Ansible (`\\d`, `(?P<name>...)`, `\\1`, `\\g<name>`) means what it means there, and `orc plan`
shows exactly the bytes `orc apply` writes. The rules are those of Ansible's module docs
(`ansible-doc lineinfile`, `replace`, `blockinfile`), checked against ansible-core on local
files in tests/test_edits.py:

- lineinfile and blockinfile work on bytes, line by line, keeping each line's own ending; a
  line they add ends in "\\n". replace works on the decoded text (`encoding`, utf-8) as a whole,
  with MULTILINE, and its `after`/`before` with DOTALL.
- `current` is None for a file that does not exist; a result of None means it stays absent.
- A condition under which Ansible fails the task raises `EditError` with Ansible's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NEWLINE = b"\n"  # os.linesep on the hosts Ansible and orc manage


class EditError(ValueError):
    """The edit cannot be made (Ansible fails the task): the message says why."""


@dataclass(frozen=True)
class LineInFile:
    """lineinfile's arguments that decide the content (see `ansible-doc lineinfile`)."""

    line: str | None = None
    regexp: str | None = None
    search_string: str | None = None
    state: str = "present"
    insertafter: str | None = None
    insertbefore: str | None = None
    firstmatch: bool = False
    backrefs: bool = False
    create: bool = False

    def check(self) -> None:
        """The argument rules Ansible checks before it reads the file."""
        for a, b in (("insertbefore", "insertafter"), ("regexp", "search_string"),
                     ("backrefs", "search_string")):
            if getattr(self, a) not in (None, False) and getattr(self, b) not in (None, False):
                raise EditError(f"parameters are mutually exclusive: {a}|{b}")
        if self.state == "present":
            if self.backrefs and self.regexp is None:
                raise EditError("regexp is required with backrefs=true")
            if self.line is None:
                raise EditError("line is required with state=present")
        elif self.regexp is None and self.search_string is None and self.line is None:
            raise EditError("one of line, search_string, or regexp is required with "
                            "state=absent")
        for pattern in (self.regexp, self.insertafter, self.insertbefore):
            if pattern not in (None, "EOF", "BOF"):
                _compile(pattern)


def _compile(pattern: str, flags: int = 0, text: bool = False) -> re.Pattern:
    try:
        return re.compile(pattern if text else pattern.encode("utf-8", "surrogateescape"),
                          flags)
    except re.error as err:
        raise EditError(f"invalid regular expression {pattern!r}: {err}") from None


def lineinfile(current: bytes | None, args: LineInFile, path: str = "") -> bytes | None:
    """The file lineinfile leaves. Missing file: absent stays absent; present needs `create`."""
    args.check()
    if args.state == "absent":
        return None if current is None else _line_absent(current, args)
    if current is None and not args.create:
        raise EditError(f"Destination {path} does not exist !")
    return _line_present(current or b"", args)


def _line_present(content: bytes, a: LineInFile) -> bytes:
    lines = content.splitlines(True)
    line = a.line.encode("utf-8", "surrogateescape")  # type: ignore[union-attr]
    regexp = _compile(a.regexp) if a.regexp is not None else None
    where = a.insertafter or a.insertbefore
    insert_re = _compile(where) if where not in (None, "EOF", "BOF") else None
    found, insert_at = -1, -1
    match: re.Match | bool | None = None
    # 1. regexp or search_string: the last (or with firstmatch the first) line they match
    if regexp is not None or a.search_string is not None:
        needle = None if a.search_string is None else a.search_string.encode()
        for number, text in enumerate(lines):
            hit = regexp.search(text) if regexp is not None else needle in text  # type: ignore
            if hit:
                found, match = number, hit
                if a.firstmatch:
                    break
    # 2. no match: the line itself, and where insertafter/insertbefore put a new line
    if not match:
        for number, text in enumerate(lines):
            if text.rstrip(b"\r\n") == line:
                found = number
            elif insert_re is not None and insert_re.search(text):
                insert_at = number + 1 if a.insertafter else number
                if a.firstmatch:
                    break
    new_line = line + NEWLINE
    if found != -1:  # a match, or the line itself: that line becomes the line
        if a.backrefs and isinstance(match, re.Match):
            expanded = match.expand(line)
            new_line = expanded if expanded.endswith(NEWLINE) else expanded + NEWLINE
        lines[found] = new_line
        return b"".join(lines)
    if a.backrefs:
        return b"".join(lines)  # nothing to expand the backreferences with: left unchanged
    if a.insertbefore == "BOF" or a.insertafter == "BOF":
        lines.insert(0, new_line)
    elif a.insertafter == "EOF" or insert_at == -1:
        if lines and lines[-1][-1:] not in (b"\n", b"\r"):
            lines.append(NEWLINE)
        lines.append(new_line)
    elif a.insertafter:
        if insert_at == len(lines):
            if lines[insert_at - 1].rstrip(b"\r\n") != line:
                lines.append(new_line)
        elif lines[insert_at].rstrip(b"\r\n") != line:
            lines.insert(insert_at, new_line)
    else:
        lines.insert(insert_at, new_line)
    return b"".join(lines)


def _line_absent(content: bytes, a: LineInFile) -> bytes:
    lines = content.splitlines(True)
    regexp = _compile(a.regexp) if a.regexp is not None else None
    needle = None if a.search_string is None else a.search_string.encode()
    line = None if a.line is None else a.line.encode("utf-8", "surrogateescape")

    def matches(text: bytes) -> bool:
        if regexp is not None:
            return bool(regexp.search(text))
        if needle is not None:
            return needle in text
        return text.rstrip(b"\r\n") == line

    return b"".join(text for text in lines if not matches(text))


def replace(current: bytes | None, regexp: str, replacement: str = "",
            after: str | None = None, before: str | None = None, encoding: str = "utf-8",
            path: str = "") -> bytes:
    """replace's result: every match of `regexp` (MULTILINE) in the file, or in the part
    between `after` and `before` (DOTALL), replaced with `replacement` as `re.sub` expands
    it (`\\1`, `\\g<name>`). A missing file is an error."""
    if current is None:
        raise EditError(f"Path {path} does not exist !")
    try:
        contents = current.decode(encoding, "surrogateescape")
    except LookupError:
        raise EditError(f"unknown encoding {encoding!r}") from None
    pattern = ""
    if after and before:
        pattern = f"{after}(?P<subsection>.*?){before}"
    elif after:
        pattern = f"{after}(?P<subsection>.*)"
    elif before:
        pattern = f"(?P<subsection>.*){before}"
    start, end = 0, len(contents)
    if pattern:
        section_match = _compile(pattern, re.DOTALL, text=True).search(contents)
        if not section_match:
            return current  # the before/after pattern matched nothing: nothing to replace
        start, end = section_match.start("subsection"), section_match.end("subsection")
    section = contents[start:end]
    try:
        result, count = _compile(regexp, re.MULTILINE, text=True).subn(replacement, section)
    except (re.error, IndexError) as err:
        raise EditError(f"replace {replacement!r}: {err}") from None
    if count == 0 or result == section:
        return current
    return (contents[:start] + result + contents[end:]).encode(encoding, "surrogateescape")


@dataclass(frozen=True)
class BlockInFile:
    """blockinfile's arguments that decide the content (see `ansible-doc blockinfile`)."""

    block: str = ""
    state: str = "present"
    marker: str = "# {mark} ANSIBLE MANAGED BLOCK"
    marker_begin: str = "BEGIN"
    marker_end: str = "END"
    insertafter: str | None = None
    insertbefore: str | None = None
    append_newline: bool = False
    prepend_newline: bool = False
    create: bool = False


def blockinfile(current: bytes | None, args: BlockInFile, path: str = "") -> bytes | None:
    """The file blockinfile leaves: the block between its marker lines replaced, or inserted
    where insertafter/insertbefore say (end of file by default), or removed (state=absent or
    an empty block). Missing file: absent stays absent; present needs `create`."""
    a = args
    if a.insertafter is not None and a.insertbefore is not None:
        raise EditError("parameters are mutually exclusive: insertafter|insertbefore")
    if current is None:
        if not a.create:
            raise EditError(f"Path {path} does not exist !")
        if a.state == "absent":
            return None
    lines = (current or b"").splitlines(True)
    present = a.state == "present"
    insertafter, insertbefore = a.insertafter, a.insertbefore
    if insertafter is None and insertbefore is None:
        insertafter = "EOF"
    if insertafter not in (None, "EOF"):
        insert_re = _compile(insertafter)
    elif insertbefore not in (None, "BOF"):
        insert_re = _compile(insertbefore)
    else:
        insert_re = None
    marker = a.marker.encode()
    begin = re.sub(rb"{mark}", a.marker_begin.encode().replace(b"\\", b"\\\\"), marker) + NEWLINE
    end = re.sub(rb"{mark}", a.marker_end.encode().replace(b"\\", b"\\\\"), marker) + NEWLINE
    block = a.block.encode()
    if present and block:
        if not block.endswith(NEWLINE):
            block += NEWLINE
        block_lines = [begin, *block.splitlines(True), end]
    else:
        block_lines = []
    n0 = n1 = None
    for number, text in enumerate(lines):
        if text == begin:
            n0 = number
        if text == end:
            n1 = number
    if n0 is None or n1 is None:
        n0 = None
        if insert_re is not None:
            if insert_re.flags & re.MULTILINE:
                original = current or b""
                found = insert_re.search(original)
                if found:
                    n0 = original.count(b"\n", 0, found.end() if insertafter else found.start())
            else:
                for number, text in enumerate(lines):
                    if insert_re.search(text):
                        n0 = number
            if n0 is None:
                n0 = len(lines)
            elif insertafter is not None:
                n0 += 1
        elif insertbefore is not None:
            n0 = 0  # BOF
        else:
            n0 = len(lines)  # EOF
    elif n0 < n1:
        lines[n0:n1 + 1] = []
    else:
        lines[n1:n0 + 1] = []
        n0 = n1
    if n0 > 0 and not lines[n0 - 1].endswith(NEWLINE):
        lines[n0 - 1] += NEWLINE
    if a.prepend_newline and present and n0 != 0 and lines[n0 - 1] != NEWLINE:
        lines[n0:n0] = [NEWLINE]
        n0 += 1
    lines[n0:n0] = block_lines
    if a.append_newline and present:
        after_block = n0 + len(block_lines)
        if after_block < len(lines) and lines[after_block] != NEWLINE:
            lines[after_block:after_block] = [NEWLINE]
    return b"".join(lines)
