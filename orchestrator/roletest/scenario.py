"""Role test scenarios: which hosts a role is tested on, with which variables and roles.

A scenario is `roles/ROLE/scenarios/NAME.yaml`, in the spirit of a molecule scenario but read by
orc itself. A role without one is tested with the `default` scenario: one host, the role alone.

```yaml
description: nginx behind the example app
platforms:                  # or `hosts: 2` for two hosts named nginx1, nginx2
  - name: web1
    groups: [web]
    vars: {nginx_port: 8081}
roles: [app, nginx]         # what converge applies; default: the role itself
vars: {app_port: 9000}      # play vars
vars_files: [secrets/lab.yaml]   # relative to the project (the directory holding roles/)
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load import inputfile, yamlfile
from orchestrator.load.playbook import roles_path
from orchestrator.modules.base import nearest

DEFAULT = "default"
SCENARIO_KEYS = ("description", "hosts", "platforms", "roles", "vars", "vars_files")
PLATFORM_KEYS = ("name", "groups", "vars")
MAX_HOSTS = 20
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Platform:
    """One test host, as the converge inventory names and groups it."""

    name: str
    groups: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    role: str
    name: str
    role_dir: Path
    project: Path  # where roles/ lives: vars_files and secrets are relative to it
    platforms: tuple[Platform, ...]
    roles: tuple[Any, ...]  # role entries of the converge play, as a play would list them
    vars: dict[str, Any] = field(default_factory=dict)
    vars_files: tuple[str, ...] = ()
    description: str = ""
    path: Path | None = None  # None for the implicit default scenario

    @property
    def tests_dir(self) -> Path:
        return self.role_dir / "tests"

    @property
    def label(self) -> str:
        return f"{self.role} ({self.name})"

    def test_files(self) -> list[Path]:
        if not self.tests_dir.is_dir():
            return []
        return sorted(self.tests_dir.glob("test_*.py"))

    def with_hosts(self, count: int) -> Scenario:
        """The same scenario on `count` hosts (`orc test --hosts N`), groups kept by position."""
        _check_count(count, self.path)
        platforms = list(self.platforms[:count])
        for index in range(len(platforms) + 1, count + 1):
            platforms.append(Platform(f"{self.role}{index}", self.platforms[-1].groups))
        return Scenario(self.role, self.name, self.role_dir, self.project, tuple(platforms),
                        self.roles, self.vars, self.vars_files, self.description, self.path)


def find_role(role: str, project: Path) -> Path:
    """The role's directory, searched like a playbook at the project's root searches it."""
    search = roles_path(project)
    for base in search:
        if (base / role).is_dir():
            return base / role
    known = sorted(all_roles(project))
    raise InputError(f"role {role!r} not found in {', '.join(map(str, search))}"
                     f"{nearest(role, known)}")


def all_roles(project: Path) -> dict[str, Path]:
    """Every role (a directory with tasks/main.yaml or .yml) on the roles path, by name."""
    found: dict[str, Path] = {}
    for base in roles_path(project):
        if not base.is_dir():
            continue
        for path in sorted(base.iterdir()):
            if path.is_dir() and path.name not in found and yamlfile.find(path / "tasks", "main"):
                found[path.name] = path
    return found


def scenario_names(role_dir: Path) -> list[str]:
    """The role's scenarios; `default` alone when it has none."""
    directory = role_dir / "scenarios"
    names = sorted({p.stem for p in directory.glob("*.y*ml")}) if directory.is_dir() else []
    return names or [DEFAULT]


def load_scenario(role: str, name: str = DEFAULT, project: Path | None = None) -> Scenario:
    project = (project or Path.cwd()).resolve()
    role_dir = find_role(role, project)
    path = yamlfile.find(role_dir / "scenarios", name)
    if path is None:
        if name != DEFAULT:
            known = scenario_names(role_dir)
            raise InputError(f"role {role!r} has no scenario {name!r} (looked for "
                             f"{role_dir / 'scenarios' / name}.yaml){nearest(name, known)}")
        return Scenario(role, name, role_dir, project, (Platform(f"{role}1"),), (role,))
    return _parse(yamlfile.load(path) or {}, role, name, role_dir, project, path)


def _parse(raw: Any, role: str, name: str, role_dir: Path, project: Path,
           path: Path) -> Scenario:
    if not isinstance(raw, dict):
        raise InputError("a scenario is a mapping (hosts, platforms, roles, vars, vars_files)",
                         path=path, line=1)
    line = raw.line_of if isinstance(raw, yamlfile.Located) else (lambda key: None)
    for key in raw:
        if key not in SCENARIO_KEYS:
            raise InputError(f"unknown scenario key {key!r}{nearest(str(key), list(SCENARIO_KEYS))}",
                             path=path, line=line(key))
    if "hosts" in raw and "platforms" in raw:
        raise InputError("give `hosts` (a count) or `platforms` (a list), not both",
                         path=path, line=line("hosts"))
    if "platforms" in raw:
        platforms = _platforms(raw["platforms"], path, line("platforms"))
    else:
        count = raw.get("hosts", 1)
        if not isinstance(count, int) or isinstance(count, bool):
            raise InputError(f"hosts must be a number of hosts, got {count!r}",
                             path=path, line=line("hosts"))
        _check_count(count, path, line("hosts"))
        platforms = tuple(Platform(f"{role}{i}") for i in range(1, count + 1))
    roles = raw.get("roles", [role])
    if not isinstance(roles, list) or not roles:
        raise InputError("roles must be a non-empty list of roles", path=path, line=line("roles"))
    variables = raw.get("vars") or {}
    if not isinstance(variables, dict):
        raise InputError("vars must be a mapping", path=path, line=line("vars"))
    vars_files = raw.get("vars_files") or []
    if not isinstance(vars_files, list) or not all(isinstance(f, str) for f in vars_files):
        raise InputError("vars_files must be a list of paths", path=path, line=line("vars_files"))
    for entry in vars_files:
        if not inputfile.exists(project / entry):
            raise InputError(f"vars file {entry!r} not found in {project}",
                             path=path, line=line("vars_files"))
    return Scenario(role, name, role_dir, project, platforms, tuple(roles), dict(variables),
                    tuple(vars_files), str(raw.get("description") or ""), path)


def _platforms(raw: Any, path: Path, line: int | None) -> tuple[Platform, ...]:
    if not isinstance(raw, list) or not raw:
        raise InputError("platforms must be a non-empty list of hosts", path=path, line=line)
    _check_count(len(raw), path, line)
    platforms: list[Platform] = []
    for entry in raw:
        where = yamlfile.where(entry) or {"path": path, "line": line}
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InputError("a platform needs `name:`", **where)
        for key in entry:
            if key not in PLATFORM_KEYS:
                raise InputError(f"unknown platform key {key!r}"
                                 f"{nearest(str(key), list(PLATFORM_KEYS))}", **where)
        if not _NAME_RE.match(entry["name"]):
            raise InputError(f"platform name {entry['name']!r} is not a valid host name", **where)
        groups = entry.get("groups") or []
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise InputError("groups must be a list of group names", **where)
        host_vars = entry.get("vars") or {}
        if not isinstance(host_vars, dict):
            raise InputError("platform vars must be a mapping", **where)
        platforms.append(Platform(entry["name"], tuple(groups), dict(host_vars)))
    names = [p.name for p in platforms]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise InputError(f"platform {duplicate!r} is listed twice", path=path, line=line)
    return tuple(platforms)


def _check_count(count: int, path: Path | None, line: int | None = None) -> None:
    if not 1 <= count <= MAX_HOSTS:
        raise InputError(f"a role test runs on 1 to {MAX_HOSTS} hosts, not {count}",
                         path=path, line=line)
