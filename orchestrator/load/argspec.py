"""Role argument validation: a role's `meta/argument_specs.yml` checked when the role starts.

Ansible's rule (docs: playbooks_reuse_roles, "Role argument validation"): when a role's entry
point (`main`, or the `tasks_from` file) has an argument specification, in
`meta/argument_specs.yml` or under `argument_specs` in `meta/main.yml`, a task
`validate_argument_spec` is put before the role's tasks, named "Validating arguments against
arg spec '<entry>' - <short_description>" and tagged `always`; it fails the role when the
variables it sees break the specification. `rolespec_validate: false` on `import_role` /
`include_role` leaves it out.

An option's rules (`ansible-doc validate_argument_spec`, the module argument spec): `type`
(str, int, float, bool, list, dict, path, raw; str when not given), `required`, `choices`,
`elements` for a list, `options` for a dict (or for each dict of a list), `aliases`; the
specification's `mutually_exclusive`, `required_together`, `required_one_of`. Descriptions,
`default`, `version_added` and the like are documentation. A key orc cannot check is refused
when the role loads, never passed over.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load import coerce, yamlfile

TYPES = {"str": "str", "path": "path", "int": "int", "float": "float", "bool": "bool",
         "list": "list", "raw": "raw", "dict": "dict"}
DOCUMENTATION = frozenset({"description", "default", "version_added", "no_log",
                           "deprecated_aliases", "apply_defaults"})
OPTION_KEYS = DOCUMENTATION | {"type", "required", "choices", "elements", "options", "aliases",
                               "mutually_exclusive", "required_together", "required_one_of"}
SPEC_KEYS = frozenset({"short_description", "description", "author", "options", "version_added",
                       "mutually_exclusive", "required_together", "required_one_of",
                       "seealso", "notes", "examples"})


def load(role: Path, entry: str) -> dict[str, Any] | None:
    """The argument specification of a role's entry point, or None when it has none."""
    for name in ("argument_specs", "main"):
        found = yamlfile.find(role / "meta", name)
        if found is None:
            continue
        data = yamlfile.load(found) or {}
        specs = data.get("argument_specs") if isinstance(data, Mapping) else None
        if specs is None:
            continue
        if not isinstance(specs, Mapping):
            raise InputError("argument_specs: expected a mapping of entry points", path=found)
        spec = specs.get(entry)
        if spec is None:
            return None
        check(spec, {"path": str(found)})
        return dict(spec)
    return None


def check(spec: Any, where: dict, keys: frozenset = SPEC_KEYS) -> None:
    """Refuse a specification whose keys or types orc cannot check."""
    if not isinstance(spec, Mapping):
        raise InputError("argument_specs: an entry point must be a mapping", **where)
    for key in spec:
        if key not in keys:
            raise InputError(f"argument_specs: orc does not check {key!r}", **where)
    for name, option in (spec.get("options") or {}).items():
        if not isinstance(option, Mapping):
            raise InputError(f"argument_specs: option {name!r} must be a mapping", **where)
        for key in option:
            if key not in OPTION_KEYS:
                raise InputError(f"argument_specs: option {name!r}: orc does not check "
                                 f"{key!r}", **where)
        for key in ("type", "elements"):
            if option.get(key) is not None and option[key] not in TYPES:
                raise InputError(f"argument_specs: option {name!r}: {key} {option[key]!r} is "
                                 f"not one of {', '.join(TYPES)}", **where)
        if option.get("options"):
            check(option, where, frozenset(OPTION_KEYS))


def task_name(entry: str, spec: Mapping[str, Any]) -> str:
    """The name Ansible gives the task it inserts."""
    name = f"Validating arguments against arg spec '{entry}'"
    short = spec.get("short_description")
    return f"{name} - {short}" if short else name


def _convert(value: Any, kind: str) -> Any:
    if kind in ("str", "path"):
        return value  # Ansible converts any value to its text here (check_type_str)
    if kind == "dict":
        if not isinstance(value, Mapping):
            raise coerce.ConversionError(f"{type(value).__name__} cannot be converted to a dict")
        return value
    return coerce.convert(value, kind)


def validate(spec: Mapping[str, Any], values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """What breaks `spec` in `values` (variable name -> value), one message per fault."""
    errors: list[str] = []
    options: Mapping[str, Any] = spec.get("options") or {}
    given: dict[str, Any] = {}
    for name, option in options.items():
        for key in (name, *(option.get("aliases") or [])):
            if key in values and values[key] is not None:
                given[name] = values[key]
                break
    for name, option in options.items():
        label = f"{prefix}{name}"
        if name not in given:
            if option.get("required"):
                errors.append(f"missing required arguments: {label}")
            continue
        value = given[name]
        kind = TYPES[option.get("type") or "str"]
        try:
            value = _convert(value, kind)
        except coerce.ConversionError as err:
            errors.append(f"argument '{label}' is of type {type(value).__name__} and we were "
                          f"unable to convert to {kind}: {err}")
            continue
        items = value if kind == "list" else [value]
        if kind == "list" and option.get("elements"):
            element = TYPES[option["elements"]]
            for item in value:
                try:
                    _convert(item, element)
                except coerce.ConversionError as err:
                    errors.append(f"Elements value for option '{label}' is of type "
                                  f"{type(item).__name__} and we were unable to convert to "
                                  f"{element}: {err}")
        choices = option.get("choices")
        if choices:
            for item in items:
                if item not in choices and str(item) not in [str(c) for c in choices]:
                    errors.append(f"value of {label} must be one or more of: "
                                  f"{', '.join(map(str, choices))}. Got no match for: {item}")
        if option.get("options"):
            for item in items:
                if isinstance(item, Mapping):
                    errors += validate(option, item, prefix=f"{label}.")
    present = set(given)
    for group in spec.get("mutually_exclusive") or []:
        if len(present & set(group)) > 1:
            errors.append(f"parameters are mutually exclusive: {'|'.join(group)}")
    for group in spec.get("required_together") or []:
        if present & set(group) and not set(group) <= present:
            errors.append(f"parameters are required together: {', '.join(group)}")
    for group in spec.get("required_one_of") or []:
        if not present & set(group):
            errors.append(f"one of the following is required: {', '.join(group)}")
    return errors
