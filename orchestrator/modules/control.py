"""Modules that run on the controller: they read or set variables, check, include or steer the
play, and touch no host through an operation of their own (Ansible calls them actions).

Their arguments are checked at load like every module's; the engine (`orchestrator.engine.
actions`) runs them in the task's place, per host, when the task is reached. Sources of each
rule: `ansible-doc <name>` of ansible-core 2.19.
"""

from __future__ import annotations

from typing import Any, NoReturn

from orchestrator.errors import InputError
from orchestrator.modules.base import REQUIRED, HostContext, Module


def _by_engine(args: dict[str, Any], ctx: HostContext) -> NoReturn:
    raise InputError("this module runs on the controller, in the engine", **ctx.where)


def _action(name: str, args: dict[str, Any], **kwargs: Any) -> Module:
    return Module(name, args, _by_engine, action=True, **kwargs)


MODULES = [
    _action("set_fact", {"cacheable": False}, any_args=True, types={"cacheable": "bool"}),
    _action("debug", {"msg": None, "var": None, "verbosity": 0},
            types={"msg": "str", "var": "str", "verbosity": "int"}, free_form="msg"),
    _action("assert", {"that": REQUIRED, "fail_msg": None, "success_msg": None,
                       "quiet": False}, aliases={"msg": "fail_msg"},
            types={"that": "list", "fail_msg": "str", "success_msg": "str", "quiet": "bool"}),
    _action("fail", {"msg": "Failed as requested from task"}, free_form="msg",
            types={"msg": "str"}),
    _action("meta", {"_raw_params": REQUIRED}, free_form="_raw_params",
            choices={"_raw_params": ("flush_handlers", "noop", "end_host", "end_play",
                                     "clear_host_errors", "refresh_inventory",
                                     "clear_facts", "reset_connection", "end_batch",
                                     "end_role")}),
    _action("include_tasks", {"file": None, "_raw_params": None, "apply": None},
            free_form="file", types={"file": "str", "apply": "raw"}),
    _action("include_role", {"name": REQUIRED, "tasks_from": "main", "vars_from": "main",
                             "defaults_from": "main", "handlers_from": "main", "apply": None,
                             "public": False, "allow_duplicates": True,
                             "rolespec_validate": True},
            types={"name": "str", "tasks_from": "str", "vars_from": "str",
                   "defaults_from": "str", "handlers_from": "str", "apply": "raw",
                   "public": "bool", "allow_duplicates": "bool", "rolespec_validate": "bool"}),
    _action("include_vars", {"file": None, "_raw_params": None, "dir": None, "name": None,
                             "depth": 0, "files_matching": None, "ignore_files": None,
                             "extensions": None, "ignore_unknown_extensions": False,
                             "hash_behaviour": None},
            free_form="file", types={"file": "path", "dir": "path", "name": "str",
                                     "depth": "int", "files_matching": "str",
                                     "ignore_files": "list", "extensions": "list",
                                     "ignore_unknown_extensions": "bool",
                                     "hash_behaviour": "str"},
            # orc replaces (Ansible's default); merge is refused rather than done otherwise
            choices={"hash_behaviour": ("replace",)}),
    _action("setup", {"gather_subset": None, "filter": None, "gather_timeout": 10,
                      "fact_path": None},
            types={"gather_subset": "list", "filter": "list", "gather_timeout": "int",
                   "fact_path": "path"}),
    _action("gather_facts", {"parallel": None}, types={"parallel": "bool"}),
    _action("package_facts", {"manager": "auto", "strategy": "first"},
            types={"manager": "list", "strategy": "str"}),
    _action("service_facts", {}),
    _action("validate_argument_spec", {"argument_spec": REQUIRED, "provided_arguments": None},
            types={"argument_spec": "raw", "provided_arguments": "raw"}),
    _action("stat", {"path": REQUIRED, "follow": False, "get_checksum": True,
                     "checksum_algorithm": "sha1", "get_mime": True, "get_attributes": True},
            aliases={"dest": "path", "name": "path", "checksum": "checksum_algorithm",
                     "checksum_algo": "checksum_algorithm", "mime": "get_mime",
                     "mime_type": "get_mime", "mime-type": "get_mime",
                     "attr": "get_attributes", "attributes": "get_attributes"},
            types={"path": "path", "follow": "bool", "get_checksum": "bool",
                   "checksum_algorithm": "str", "get_mime": "bool", "get_attributes": "bool"},
            choices={"checksum_algorithm": ("md5", "sha1", "sha224", "sha256", "sha384",
                                            "sha512")}),
    # run on the host by the engine, for what they register (orchestrator.engine.probes)
    _action("uri", {"url": REQUIRED, "method": "GET", "body": None, "body_format": "raw",
                    "status_code": [200], "return_content": False, "headers": {},
                    "dest": None, "creates": None, "removes": None, "timeout": 30,
                    "http_agent": "ansible-httpget", "force": False},
            types={"url": "str", "method": "str", "body": "raw", "body_format": "str",
                   "status_code": "list", "return_content": "bool", "headers": "dict",
                   "dest": "path", "creates": "path", "removes": "path", "timeout": "int",
                   "http_agent": "str", "force": "bool"},
            choices={"body_format": ("form-urlencoded", "json", "raw")}),
    _action("wait_for", {"host": "127.0.0.1", "port": None, "path": None, "state": "started",
                         "search_regex": None, "timeout": 300, "delay": 0, "sleep": 1,
                         "connect_timeout": 5, "msg": None,
                         "active_connection_states": ["ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2",
                                                      "SYN_RECV", "SYN_SENT", "TIME_WAIT"]},
            types={"host": "str", "port": "int", "path": "path", "state": "str",
                   "search_regex": "str", "timeout": "int", "delay": "int", "sleep": "int",
                   "connect_timeout": "int", "msg": "str", "active_connection_states": "list"},
            choices={"state": ("absent", "drained", "present", "started", "stopped")}),
]
