"""import_tasks and import_role: tasks that bring in other tasks while the playbook loads.

Their arguments are checked at load like any module's (names and types from `ansible-doc` of
ansible-core 2.19), then the import is expanded in place (`orchestrator.load.imports`), so a task of
theirs never reaches `build`. The dynamic include_tasks, include_role and include_vars are the
engine's (`orchestrator.modules.control`).
"""

from __future__ import annotations

from typing import Any, NoReturn

from orchestrator.errors import InputError
from orchestrator.modules.base import REQUIRED, HostContext, Module

ROLE_FILES = {"tasks_from": "main", "vars_from": "main", "defaults_from": "main",
              "handlers_from": "main"}


def _at_load(name: str) -> Any:
    def build(args: dict[str, Any], ctx: HostContext) -> NoReturn:
        raise InputError(f"{name}: is expanded when the playbook loads; this task was not",
                         **ctx.where)

    return build


MODULES = [
    Module("import_tasks", {"file": REQUIRED}, _at_load("import_tasks"), free_form="file",
           aliases={"_raw_params": "file"}, types={"file": "str"}),
    # an imported role's defaults and vars always join the play here (`public: true`)
    Module("import_role", {"name": REQUIRED, **ROLE_FILES, "allow_duplicates": True,
                           "public": True, "rolespec_validate": True}, _at_load("import_role"),
           types={"name": "str", "tasks_from": "str", "vars_from": "str",
                  "defaults_from": "str", "handlers_from": "str", "allow_duplicates": "bool",
                  "public": "bool", "rolespec_validate": "bool"},
           choices={"public": (True,)}),
]
