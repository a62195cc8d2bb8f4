"""Wave arithmetic as specs: a play of N hosts, its `serial` and pinned canaries, the sizes of
its waves (Ansible's batches: the last size repeats; a percentage rounds down, at least 1)."""

from __future__ import annotations

import pytest

from orchestrator.load.policy import parse_serial
from orchestrator.rollout.waves import plan_waves, wave_failed

SPECS = [
    # serial, hosts, canary, wave sizes
    (None, 5, [], [5]),
    (0, 5, [], [5]),
    ("100%", 5, [], [5]),
    (1, 3, [], [1, 1, 1]),
    (2, 5, [], [2, 2, 1]),
    ("40%", 5, [], [2, 2, 1]),
    ("10%", 5, [], [1, 1, 1, 1, 1]),
    ([1, "50%"], 7, [], [1, 3, 3]),
    ([1, 2, "100%"], 10, [], [1, 2, 7]),
    ([0], 3, [], [1, 1, 1]),
    (1, 5, ["h3", "h4"], [2, 1, 1, 1]),    # every pinned canary goes in the first wave
    ([3, "100%"], 5, ["h5"], [3, 2]),
    (None, 4, ["h2"], [4]),
    (10, 3, [], [3]),
    (1, 0, [], []),
]


@pytest.mark.parametrize("serial, count, canary, sizes", SPECS)
def test_wave_sizes(serial, count: int, canary: list[str], sizes: list[int]) -> None:
    hosts = [f"h{n}" for n in range(1, count + 1)]
    waves = plan_waves("play", hosts, parse_serial(serial, {}), canary)
    assert [len(w.hosts) for w in waves] == sizes
    assert [w.index for w in waves] == list(range(len(sizes)))
    assert sorted(h for w in waves for h in w.hosts) == sorted(hosts)
    assert set(canary) <= set(waves[0].hosts if waves else ())


@pytest.mark.parametrize("failed, size, threshold, fails", [
    (0, 0, None, False),
    (0, 10, 0, False),
    (1, 10, 10, False),
    (2, 10, 10, True),
    (1, 1, 99.9, True),
    (1, 1, 100, False),
])
def test_a_wave_fails_when_its_failures_exceed_the_threshold(failed: int, size: int,
                                                             threshold, fails: bool) -> None:
    assert wave_failed(failed, size, threshold) is fails
