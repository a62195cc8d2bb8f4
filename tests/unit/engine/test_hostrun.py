"""A failed task on a host: the rescue of the block it sits in runs, or the host stops."""

from __future__ import annotations

import pytest

from orchestrator.engine.hostrun import HostRun


@pytest.mark.parametrize("rescuing, stopped, block_failed", [(0, True, False), (1, False, True),
                                                             (2, False, True)])
def test_a_failure_fails_the_rescued_block_or_stops_the_host(rescuing, stopped,
                                                               block_failed) -> None:
    run = HostRun("web1", host=None, rescuing=rescuing)
    run.fail()
    assert (run.stopped, run.block_failed) == (stopped, block_failed)
