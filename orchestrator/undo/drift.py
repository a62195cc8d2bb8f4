"""Drift: a recorded resource that changed on its host after the run left it.

A rollback compares each host with the journal's after-images before it touches anything, so a
file edited by hand since the run is reported instead of being overwritten. What is compared,
and how a change is worded, is each kind's (`Kind.difference`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from orchestrator.undo.kinds import RESTORABLE, get
from orchestrator.undo.kinds.base import PreImage
from orchestrator.undo.record import Batch, images_state, run_dir


@dataclass(frozen=True)
class Drift:
    """A recorded resource that changed on the host after the run left it."""

    host: str
    kind: str
    key: str
    task: str
    what: str  # e.g. "content", "mode 644 -> 600", "version 1.2 -> 1.3"

    def __str__(self) -> str:
        return f"{self.host}:{self.key} ({self.what})"


def compared(batches: list[Batch]) -> list[tuple[PreImage, dict[str, Any]]]:
    """Per resource, the after-image of the last batch that recorded it, with its pre-image. A
    resource whose last batch has no after-image (the run was killed before it finished) is
    not compared: the run itself may have changed it after the journal was written."""
    latest: dict[tuple[str, str], tuple[PreImage, dict[str, Any]] | None] = {}
    for batch in batches:
        for image in batch.images:
            if image.kind not in RESTORABLE:
                continue
            left = (batch.after or {}).get(image.seq)
            latest[(image.kind, image.key)] = (image, left) if left is not None else None
    return [pair for pair in latest.values() if pair is not None]


def drift(host: Any, run_id: str, batches: list[Batch], sudo: bool = False) -> list[Drift]:
    """Resources whose state on the host differs from what the run left (see `compared`)."""
    pairs = compared(batches)
    if not pairs:
        return []
    # a run's batches number their images from 0 each: read them all at once, renumbered
    now = images_state(host, run_dir(run_id),
                       [dataclasses.replace(image, seq=i) for i, (image, _) in enumerate(pairs)],
                       sudo)
    found = []
    for i, (image, left) in enumerate(pairs):
        what = get(image.kind).difference(left, now.get(i, {}))
        if what:
            found.append(Drift(host.name, image.kind, image.key, image.task, what))
    return found
