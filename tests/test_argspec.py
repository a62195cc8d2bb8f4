"""Role argument specifications (orchestrator/load/argspec.py): what a spec refuses, table-driven, and
the validation task a role with `meta/argument_specs.yml` gets first when it loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.load import argspec
from orchestrator.load.roles import RoleRef, load_role

SPEC = {
    "options": {
        "port": {"type": "int", "required": True},
        "names": {"type": "list", "elements": "int"},
        "flavour": {"choices": ["plain", "fancy"], "aliases": ["taste"]},
        "enabled": {"type": "bool"},
        "limits": {"type": "dict", "options": {"soft": {"type": "int", "required": True}}},
        "a": {}, "b": {},
    },
    "mutually_exclusive": [["a", "b"]],
}

# (id, variables, the errors)
ROWS = [
    ("valid", {"port": "22", "names": [1, "2"], "flavour": "plain", "enabled": "yes",
               "limits": {"soft": 3}, "a": 1}, []),
    ("extra-variables-pass", {"port": 22, "unrelated": object()}, []),
    ("missing-required", {}, ["missing required arguments: port"]),
    ("not-an-int", {"port": "ssh"},
     ["argument 'port' is of type str and we were unable to convert to int: "
      "'ssh' is not an integer"]),
    ("bad-element", {"port": 1, "names": ["x"]},
     ["Elements value for option 'names' is of type str and we were unable to convert to "
      "int: 'x' is not an integer"]),
    ("bad-choice-by-alias", {"port": 1, "taste": "salty"},
     ["value of flavour must be one or more of: plain, fancy. Got no match for: salty"]),
    ("not-a-bool", {"port": 1, "enabled": "maybe"},
     ["argument 'enabled' is of type str and we were unable to convert to bool: 'maybe' is not "
      "a boolean (expected yes/no, true/false, on/off or 1/0)"]),
    ("suboption-missing", {"port": 1, "limits": {}},
     ["missing required arguments: limits.soft"]),
    ("not-a-dict", {"port": 1, "limits": "x"},
     ["argument 'limits' is of type str and we were unable to convert to dict: str cannot be "
      "converted to a dict"]),
    ("mutually-exclusive", {"port": 1, "a": 1, "b": 2},
     ["parameters are mutually exclusive: a|b"]),
]


@pytest.mark.parametrize("values, errors", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_validate_rows(values, errors):
    assert argspec.validate(SPEC, values) == errors


@pytest.mark.parametrize("spec, message", [
    ({"options": {"x": {"type": "tuple"}}}, "type 'tuple' is not one of"),
    ({"options": {"x": {"required_if": []}}}, "orc does not check 'required_if'"),
    ({"required_by": {}, "options": {}}, "orc does not check 'required_by'"),
])
def test_specs_orc_cannot_check_are_refused(spec, message):
    with pytest.raises(InputError, match=message):
        argspec.check(spec, {})


def _role(tmp_path: Path, spec: str) -> Path:
    role = tmp_path / "roles" / "r"
    (role / "tasks").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "tasks" / "main.yml").write_text("- debug: msg=hi\n")
    (role / "meta" / "argument_specs.yml").write_text(spec)
    return tmp_path / "roles"


def test_a_role_with_a_spec_starts_with_its_validation_task(tmp_path: Path):
    roles = _role(tmp_path, "argument_specs:\n  main:\n    short_description: Checked.\n"
                            "    options:\n      port: {type: int}\n")
    role = load_role(RoleRef("r"), [roles], {})
    first = role.tasks[0]
    assert first.name == "Validating arguments against arg spec 'main' - Checked."
    assert first.module.name == "validate_argument_spec"
    assert "always" in first.tags
    assert first.args["argument_spec"] == {"options": {"port": {"type": "int"}}}
    assert len(role.tasks) == 2
    unchecked = load_role(RoleRef("r", rolespec_validate=False), [roles], {})
    assert [t.module.name for t in unchecked.tasks] == ["debug"]


def test_an_entry_point_without_a_spec_has_no_validation_task(tmp_path: Path):
    roles = _role(tmp_path, "argument_specs:\n  other:\n    options: {}\n")
    assert [t.module.name for t in load_role(RoleRef("r"), [roles], {}).tasks] == ["debug"]
