"""Wave planning: Ansible's `serial` sizes, stable canary choice, pinned canaries, thresholds."""

from __future__ import annotations

import pytest

from orchestrator.errors import InputError
from orchestrator.load.policy import parse_serial
from orchestrator.rollout.waves import plan_waves, stable_order, wave_failed

HOSTS = [f"web{i}" for i in range(1, 7)]


def serial(value):
    """`serial:` as the playbook's loader reads it."""
    return parse_serial(value, {})


def sizes(waves) -> list[int]:
    return [len(w.hosts) for w in waves]


def test_serial_list_with_percentages_and_a_repeating_last_size() -> None:
    assert sizes(plan_waves("web", HOSTS, serial([1, "50%", "100%"]))) == [1, 3, 2]
    assert sizes(plan_waves("web", HOSTS, serial([1, 2]))) == [1, 2, 2, 1]
    assert sizes(plan_waves("web", HOSTS, serial("10%"))) == [1] * 6  # 10% of 6: 0 -> 1
    assert sizes(plan_waves("web", HOSTS, serial(None))) == [6]
    assert sizes(plan_waves("web", HOSTS, serial(4))) == [4, 2]


def test_every_host_is_in_exactly_one_wave() -> None:
    waves = plan_waves("web", HOSTS, serial([1, "50%", "100%"]))
    assert sorted(h for w in waves for h in w.hosts) == sorted(HOSTS)


def test_membership_is_stable_and_depends_on_the_play() -> None:
    first = plan_waves("web", HOSTS, serial([1, "50%"]))
    again = plan_waves("web", list(reversed(HOSTS)), serial([1, "50%"]))
    assert first == again
    orders = {tuple(stable_order(f"play{i}", HOSTS)) for i in range(10)}
    assert len(orders) > 1  # another play picks another canary


def test_adding_a_host_keeps_the_others_in_order() -> None:
    before = stable_order("web", HOSTS)
    after = stable_order("web", HOSTS + ["web7"])
    assert [h for h in after if h != "web7"] == before


def test_pinned_canaries_go_first() -> None:
    waves = plan_waves("web", HOSTS, serial([1, "100%"]), canary=["web5"])
    assert waves[0].hosts == ("web5",)
    two = plan_waves("web", HOSTS, serial([1, "100%"]), canary=["web5", "web2"])
    assert two[0].hosts == ("web5", "web2")


def test_bad_serial_and_unknown_canary_are_refused() -> None:
    with pytest.raises(InputError, match="serial entry 'lots'"):
        parse_serial(["lots"], {"path": "site.yaml", "line": 3})
    with pytest.raises(InputError, match="canary 'db1' is not among the play's hosts"):
        plan_waves("web", HOSTS, serial(1), canary=["db1"])


@pytest.mark.parametrize("failed, size, threshold, fails", [
    (0, 4, None, False),
    (1, 4, None, True),    # no threshold: a canary must be clean
    (1, 4, 0, True),
    (1, 4, 25, False),     # reaching the percentage is fine ...
    (2, 4, 25, True),      # ... exceeding it fails the wave
    (1, 3, 33, True),      # 33.3% > 33
    (1, 3, 34, False),
    (4, 4, 100, False),
])
def test_max_fail_percentage_fails_a_wave_only_when_exceeded(failed, size, threshold,
                                                             fails) -> None:
    assert wave_failed(failed, size, threshold) is fails
