"""pyinfra's per-call lookups made once (transport/arguments.py, transport/hostdata.py): the
answers pyinfra's callers get are the ones its own code gives."""

from __future__ import annotations

import typing

import pytest
from pyinfra.api import Config, State, arguments, facts
from pyinfra.api import Inventory as PyinfraInventory
from pyinfra.api.arguments import AllArguments, pop_global_arguments

from orchestrator.transport import arguments as once
from orchestrator.transport.hostdata import resolve_layers


def test_the_argument_list_is_pyinfras_own_and_installed_for_both_callers() -> None:
    assert once.all_global_arguments() == list(typing.get_type_hints(AllArguments).items())
    assert arguments.all_global_arguments is once.all_global_arguments
    assert facts.all_global_arguments is once.all_global_arguments
    first = once.all_global_arguments()
    first.clear()  # a caller's list is its own
    assert len(once.all_global_arguments()) == len(typing.get_type_hints(AllArguments))
    once.install()  # again: still the same
    assert arguments.all_global_arguments is once.all_global_arguments


def _state(**group_data):
    inventory = PyinfraInventory(
        ([("web1", {"_sudo": True, "port": 2201, "level": "host"}), ("db1", {})],
         {"level": "inventory", "colour": "grey"}),
        override_data={"_chdir": "/srv", "winner": "override"},
        web=(["web1"], {"level": "group", "winner": "group", **group_data}),
    )
    return State(inventory, Config())


@pytest.mark.parametrize("key", ["_sudo", "port", "_chdir", "_env", "colour", "level", "winner",
                                 "missing"])
def test_resolved_layers_answer_as_pyinfras_own(key: str) -> None:
    plain = _state(colour="blue", _env={"A": "1"})
    resolved = _state(colour="blue", _env={"A": "1"})
    for host in resolved.inventory:
        resolve_layers(host)
    for name in ("web1", "db1"):
        before, after = plain.inventory.get_host(name), resolved.inventory.get_host(name)
        assert getattr(after.data, key, "absent") == getattr(before.data, key, "absent")
        assert after.data.dict() == before.data.dict()
    web = resolved.inventory.get_host("web1").data
    assert (web.level, web.winner, web.colour) == ("host", "override", "blue")
    assert resolved.inventory.get_host("db1").data.level == "inventory"


def test_resolved_layers_still_see_overrides_and_deploy_defaults() -> None:
    state = _state()
    host = state.inventory.get_host("web1")
    resolve_layers(host)
    host.data.port = 2222  # pyinfra's way of setting a host's data during a deploy
    assert host.data.port == 2222
    assert getattr(host.data, "_su_user", None) is None
    host.current_deploy_data = {"_su_user": "app"}  # a @deploy function's defaults
    assert host.data._su_user == "app"
    host.current_deploy_data = None
    assert getattr(host.data, "_su_user", None) is None


def test_global_arguments_of_an_operation_are_unchanged_by_resolving() -> None:
    plain, resolved = _state(), _state()
    for host in resolved.inventory:
        resolve_layers(host)
    for name in ("web1", "db1"):
        got = [pop_global_arguments(s, s.inventory.get_host(name), {"_env": {"B": "2"}})
               for s in (plain, resolved)]
        assert got[0] == got[1]
        assert got[1][0]["_chdir"] == "/srv" and got[1][0]["_env"] == {"B": "2"}
    web = pop_global_arguments(resolved, resolved.inventory.get_host("web1"), {})[0]
    assert web["_sudo"] is True
