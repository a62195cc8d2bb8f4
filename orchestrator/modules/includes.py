"""import_tasks, import_role, include_tasks, include_role, include_vars: tasks that bring in
other tasks or variables rather than touch a host.

Their arguments are checked at load like any module's (names and types from `ansible-doc` of
ansible-core 2.19). The static imports are expanded while the playbook loads
(`orchestrator.imports`), so a task of theirs never reaches `build`. The dynamic includes and
include_vars are run per host by the engine (`orchestrator.engine`); until it runs them, a
play that reaches one stops there with one line saying so, rather than skipping it.
"""

from __future__ import annotations

from typing import Any, NoReturn

from orchestrator.errors import InputError
from orchestrator.modules.base import REQUIRED, HostContext, Module

ROLE_FILES = {"tasks_from": "main", "vars_from": "main", "defaults_from": "main",
              "handlers_from": "main"}


def _not_run(name: str, why: str) -> Any:
    def build(args: dict[str, Any], ctx: HostContext) -> NoReturn:
        raise InputError(f"{name}: {why}", **ctx.where)

    return build


def _by_engine(name: str) -> Any:
    return _not_run(name, "not yet run by this engine (it runs per host, in the task's place)")


def _at_load(name: str) -> Any:
    return _not_run(name, "is expanded when the playbook loads; this task was not")


MODULES = [
    Module("import_tasks", {"file": REQUIRED}, _at_load("import_tasks"), free_form="file",
           aliases={"_raw_params": "file"}, types={"file": "str"}),
    Module("import_role", {"name": REQUIRED, **ROLE_FILES, "allow_duplicates": True,
                           "rolespec_validate": True}, _at_load("import_role"),
           types={"name": "str", "tasks_from": "str", "vars_from": "str",
                  "defaults_from": "str", "handlers_from": "str", "allow_duplicates": "bool",
                  "rolespec_validate": "bool"}),
    Module("include_tasks", {"file": None, "_raw_params": None, "apply": None},
           _by_engine("include_tasks"), free_form="file",
           types={"file": "str", "_raw_params": "str"}),
    Module("include_role", {"name": REQUIRED, **ROLE_FILES, "apply": None, "public": False,
                            "allow_duplicates": True, "rolespec_validate": True},
           _by_engine("include_role"),
           types={"name": "str", "tasks_from": "str", "vars_from": "str",
                  "defaults_from": "str", "handlers_from": "str", "public": "bool",
                  "allow_duplicates": "bool", "rolespec_validate": "bool"}),
    Module("include_vars", {"file": None, "_raw_params": None, "dir": None, "name": None,
                            "depth": 0, "files_matching": None, "ignore_files": None,
                            "extensions": ["json", "yaml", "yml"],
                            "ignore_unknown_extensions": False, "hash_behaviour": None},
           _by_engine("include_vars"), free_form="file",
           types={"file": "path", "_raw_params": "str", "dir": "path", "name": "str",
                  "depth": "int", "files_matching": "str", "ignore_files": "list",
                  "extensions": "list", "ignore_unknown_extensions": "bool",
                  "hash_behaviour": "str"},
           choices={"hash_behaviour": ("replace",)}),
]
