"""A play's rollout keys as the loader reads them (`load.policy`): each value to its type, each
bad one an error at its key's line; table-driven, no host."""

from __future__ import annotations

import pytest

from orchestrator.errors import InputError
from orchestrator.load.policy import (
    BatchSize,
    RolloutPolicy,
    parse_duration,
    parse_policy,
    parse_serial,
    percentage,
)

LINES = {"serial": 3, "canary": 4, "max_fail_percentage": 5, "any_errors_fatal": 6,
         "health": 7, "bake": 8, "pause": 9, "rollback": 10}


def where_of(key: str) -> dict:
    return {"path": "site.yaml", "line": LINES.get(key, 1)}


def policy(raw: dict, variables: dict | None = None) -> RolloutPolicy:
    return parse_policy(raw, variables or {}, where_of)


def test_a_play_without_rollout_keys_is_one_wave_no_checks_manual_rollback() -> None:
    assert policy({}) == RolloutPolicy(serial=(), canary=(), max_fail_percentage=None,
                                       any_errors_fatal=False, health=(), bake=0.0,
                                       pause=False, rollback="manual")


@pytest.mark.parametrize("raw, field, expected", [
    ({"rollback": "auto"}, "rollback", "auto"),
    ({"rollback": "wave"}, "rollback", "wave"),
    ({"canary": "web1"}, "canary", ("web1",)),
    ({"canary": ["web1", "web2"]}, "canary", ("web1", "web2")),
    ({"max_fail_percentage": 30}, "max_fail_percentage", 30),
    ({"max_fail_percentage": "30%"}, "max_fail_percentage", 30.0),
    ({"max_fail_percentage": " 12.5 "}, "max_fail_percentage", 12.5),
    ({"any_errors_fatal": "yes"}, "any_errors_fatal", True),
    ({"any_errors_fatal": "{{ strict }}"}, "any_errors_fatal", False),  # strict: 'no'
    ({"pause": True}, "pause", True),
    ({"bake": "2m"}, "bake", 120.0),
    ({"bake": 5}, "bake", 5.0),
    ({"serial": 2}, "serial", (BatchSize(2),)),
    ({"serial": [1, "50%"]}, "serial", (BatchSize(1), BatchSize(percent=50.0))),
])
def test_each_key_is_read_to_its_type(raw: dict, field: str, expected) -> None:
    assert getattr(policy(raw, {"strict": "no"}), field) == expected


@pytest.mark.parametrize("raw, message", [
    ({"rollback": "bogus"}, "site.yaml:10: rollback: 'bogus' is not one of auto, wave, manual"),
    ({"serial": "lots"}, "site.yaml:3: serial entry 'lots': expected a count or a percentage"),
    ({"serial": [1, "x%"]}, "site.yaml:3: serial entry 'x%': expected a percentage like '10%'"),
    ({"serial": -1}, "site.yaml:3: serial entry -1 is negative"),
    ({"serial": "-10%"}, "site.yaml:3: serial entry '-10%' is negative"),
    ({"serial": True}, "site.yaml:3: serial entry True: expected a count or a percentage"),
    ({"serial": 1.5}, "site.yaml:3: serial entry 1.5: expected a count or a percentage"),
    ({"canary": [1]}, "site.yaml:4: canary: expected a host name or a list of them"),
    ({"max_fail_percentage": 101}, "site.yaml:5: max_fail_percentage: 101 is not between"),
    ({"any_errors_fatal": "sure"}, "site.yaml:6: any_errors_fatal: 'sure' is not a boolean"),
    ({"health": {"http": "x"}}, "site.yaml:7: health: expected a list of checks"),
    ({"health": [{"smtp": "x"}]}, "site.yaml:7: health check: unknown key 'smtp'"),
    ({"bake": "soon"}, "site.yaml:8: bake 'soon': expected a number of seconds"),
    ({"pause": "later"}, "site.yaml:9: pause: 'later' is not a boolean"),
])
def test_a_bad_value_is_one_line_at_its_key(raw: dict, message: str) -> None:
    with pytest.raises(InputError) as err:
        policy(raw)
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize("value, expected", [
    (None, ()), (0, ()), ("0", ()), ([], ()), ("100%", ()), (False, ()),
    (1, (BatchSize(1),)),
    ("3", (BatchSize(3),)),
    (" 3 ", (BatchSize(3),)),
    ("25%", (BatchSize(percent=25.0),)),
    ("12.5%", (BatchSize(percent=12.5),)),
    ([0], (BatchSize(0),)),  # a list keeps its zero: a wave of one host
    ([1, "100%"], (BatchSize(1), BatchSize(percent=100.0))),
])
def test_serial_reads_as_ansible_writes_it(value, expected) -> None:
    assert parse_serial(value, {}) == expected


@pytest.mark.parametrize("size, total, hosts", [
    (BatchSize(3), 10, 3),
    (BatchSize(0), 10, 1),                # at least one host
    (BatchSize(percent=50.0), 5, 2),      # rounded down
    (BatchSize(percent=10.0), 6, 1),      # 0.6 rounds down to 0, then at least one
    (BatchSize(percent=100.0), 7, 7),
    (BatchSize(percent=12.5), 16, 2),
])
def test_a_batch_size_of_a_play_of_so_many_hosts(size: BatchSize, total: int,
                                                 hosts: int) -> None:
    assert size.of(total) == hosts


@pytest.mark.parametrize("value, seconds", [
    (0, 0.0), (2, 2.0), (1.5, 1.5), ("30", 30.0), ("30s", 30.0), ("2m", 120.0), ("1h", 3600.0),
    ("250ms", 0.25), (" 4 s ", 4.0),
])
def test_durations(value, seconds: float) -> None:
    assert parse_duration(value, {}) == seconds


@pytest.mark.parametrize("value", [-1, "-1s", "soon", True, [1], "1d"])
def test_a_duration_that_is_none_is_refused(value) -> None:
    with pytest.raises(InputError, match="expected a number of seconds"):
        parse_duration(value, {}, "bake")


@pytest.mark.parametrize("value, expected", [
    (None, None), (0, 0), ("0%", 0.0), (100, 100), ("33.3", 33.3)])
def test_percentages(value, expected) -> None:
    assert percentage(value, {}) == expected
