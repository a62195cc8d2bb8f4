"""Given host reads for planning a restore without a host, as pyinfra's operation tests give
facts (tests/operations/<op>/*.json): facts by class name and arguments, files by path, and
command output by a piece of the command line."""

from __future__ import annotations

import io
from typing import Any

from orchestrator.undo.kinds.base import HostPlan, PreImage
from orchestrator.undo.record import Batch


class GivenReads:
    """`HostReads` answered from tables; a read nobody gave fails the test (KeyError), so a
    plan cannot silently read something new."""

    host = None

    def __init__(self, facts: dict[tuple, Any] | None = None, files: dict[str, bytes] | None = None,
                 shell: dict[str, tuple[bool, list[str]]] | None = None):
        self.facts, self.files, self.commands = facts or {}, files or {}, shell or {}

    def fact(self, fact: Any, **kwargs: Any) -> Any:
        return self.facts[(fact.__name__, *sorted(kwargs.values()))]

    def file(self, path: str) -> bytes | None:
        return self.files.get(path)

    def shell(self, command: str) -> tuple[bool, list[str]]:
        for piece, answer in self.commands.items():
            if piece in command:
                return answer
        raise KeyError(command)


def op_name(op: Any) -> str:
    return f"{op.__module__.rsplit('.', 1)[-1]}.{op.__name__}"


def plain(value: Any) -> Any:
    return value.getvalue() if isinstance(value, io.BytesIO) else value


def calls(plan: HostPlan) -> list[tuple[str, dict[str, Any]]]:
    """The plan's operation calls, in the order they are added to the State (bytes for
    buffers)."""
    return [(op_name(op), {k: plain(v) for k, v in kwargs.items()})
            for _, op, kwargs in plan.order]


def image(seq: int, kind: str, key: str, state: dict[str, Any], task: str = "t",
          **extra: Any) -> PreImage:
    return PreImage(seq, kind, key, task, "play.yaml:1", True, state, dict(extra))


def batch(*images: PreImage, packages: dict[str, list[str]] | None = None,
          name: str = "1-play") -> Batch:
    return Batch("run1", "web1", name, "play", list(images), packages)
