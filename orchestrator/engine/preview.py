"""Plan diffs: a file a task would write, against what the host holds now, as a unified diff."""

from __future__ import annotations

import difflib
import io
from typing import Any

from orchestrator.modules.base import FilePreview


def file_diff(host: Any, name: str, previews: list[FilePreview]) -> str:
    chunks = []
    for preview in previews:
        before = _read_remote(host, preview.path)
        after = preview.after(before)
        if before == after:
            continue
        chunks.extend(difflib.unified_diff(
            (before or "").splitlines(True), (after or "").splitlines(True),
            fromfile=f"{name}:{preview.path}" if before is not None else "/dev/null",
            tofile=f"{name}:{preview.path}" if after is not None else "/dev/null",
        ))
    text = "".join(chunk if chunk.endswith("\n") else chunk + "\n" for chunk in chunks)
    return text or None  # type: ignore[return-value]


def _read_remote(host: Any, path: str) -> str | None:
    buffer = io.BytesIO()
    try:
        if host.get_file(path, buffer) is False:
            return None
    except Exception:  # absent or unreadable: the plan shows it as created
        return None
    return buffer.getvalue().decode("utf-8", errors="replace")
