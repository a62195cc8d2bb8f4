"""Playbooks: a list of plays, each naming hosts, roles, tasks, variables and a rollout policy.

Loading resolves every role, parses every task and reads every rollout key (`policy.py`), so a
broken playbook fails here, whole, before a single host is connected or a run recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import InputError
from orchestrator.load import imports, inputfile, policy, yamlfile
from orchestrator.load.policy import RolloutPolicy
from orchestrator.load.roles import Role, RoleRef, expand, parse_ref
from orchestrator.load.tasks import (
    Task,
    environment_of,
    flag,
    flatten,
    listing,
    literal_flag,
    mapping,
    strings,
    text,
)
from orchestrator.modules.base import nearest
from orchestrator.templating.render import check_file_syntax, check_syntax, is_template

PLAY_KEYS = {
    "name", "hosts", "roles", "tasks", "pre_tasks", "post_tasks", "handlers", "vars",
    "vars_files", "become", "become_user", "gather_facts", "gather_subset", "tags", "no_log",
    "environment",
    *policy.KEYS,  # the rollout policy (waves, health, rollback)
}


@dataclass
class Play:
    name: str
    hosts: str
    path: str
    line: int
    roles: list[tuple[RoleRef, Role]] = field(default_factory=list)
    # roles that `import_role` brought in (their tasks are in place in a section or in a
    # role's; their defaults and vars join the play's, as the `roles:` ones do)
    imported_roles: list[tuple[RoleRef, Role]] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)  # Task | Block, in each section
    handlers: list[Task] = field(default_factory=list)
    pre_tasks: list[Task] = field(default_factory=list)  # before the roles, as in Ansible
    post_tasks: list[Task] = field(default_factory=list)  # after `tasks` and its handlers
    gather_facts: bool | str | None = None  # Ansible's default: gather (None)
    gather_subset: Any = None
    environment: dict[str, Any] | str | None = None  # for every task's commands
    vars: dict[str, Any] = field(default_factory=dict)
    vars_files: list[Path] = field(default_factory=list)
    become: bool | str | None = None  # a template is rendered with the play's variables
    become_user: str | None = None
    policy: RolloutPolicy = field(default_factory=RolloutPolicy)  # waves, health, rollback
    key_lines: dict[str, int] = field(default_factory=dict)  # the line of each play keyword
    no_log: bool | str | None = None  # Ansible's no_log for all its tasks (a task's own wins)

    @property
    def location(self) -> dict:
        return {"path": self.path, "line": self.line}

    def where_of(self, key: str) -> dict:
        """`path=` and `line=` of one of the play's keywords, for an error about its value."""
        return {"path": self.path, "line": self.key_lines.get(key, self.line)}

    def flag(self, keyword: str, variables: Any = None) -> bool | None:
        """A boolean play keyword (`become`), a template rendered with `variables` (the play's
        own when none are given), converted as Ansible's `boolean()` does."""
        value = getattr(self, keyword)
        return flag(value, self.vars if variables is None else variables, keyword,
                    self.where_of(keyword))

    def all_tasks(self) -> list[Task]:
        """Every task in the order Ansible runs the sections: pre_tasks, roles, tasks,
        post_tasks (blocks flattened)."""
        return flatten(self.pre_tasks + [t for _, role in self.roles for t in role.tasks]
                       + self.tasks + self.post_tasks)

    def all_handlers(self) -> list[Task]:
        return flatten([h for _, role in self.roles for h in role.handlers] + self.handlers)

    def role_of(self, task: Task) -> tuple[RoleRef, Role] | None:
        """The role a task (or handler) belongs to, from `roles:` or an `import_role`: the
        one whose variables the task sees first."""
        if task.role is None:
            return None
        pairs = [*self.roles, *self.imported_roles]
        for ref, role in pairs:  # the very object first: a role imported twice, say
            if any(t is task for t in (*role.tasks, *role.handlers)):
                return ref, role
        return next(((r, role) for r, role in pairs if role.name == task.role), None)

    def search_dirs(self, task: Task) -> dict[str, list[Path]]:
        """Where a task's `src` is looked for: its role's files/ or templates/, then the
        playbook's own, then beside the playbook (as Ansible searches)."""
        base = Path(self.path).parent
        role_dirs = list(dict.fromkeys(role.path for _, role in [*self.roles,
                                                                 *self.imported_roles]
                                       if role.name == task.role))
        return {kind: [*(d / kind for d in role_dirs), base / kind, base]
                for kind in ("files", "templates")}

    def check(self) -> None:
        """What can be known wrong without a host: template syntax and missing local files."""
        for task in self.all_tasks() + self.all_handlers():
            try:
                self._check_task(task)
            except RecursionError:  # jinja's parser recurses once per nesting level
                raise InputError("a template in this task is nested too deeply to parse",
                                 **task.location) from None

    def _check_task(self, task: Task) -> None:
        check_syntax(task.args, task.where)
        check_syntax(task.when, task.where)
        if task.loop is not None:  # a loop's terms and label are templates too
            check_syntax([task.loop.terms, task.loop.label_template], task.loop.where)
        source = task.module.source
        value = task.args.get(source[0]) if source else None
        if not source or not isinstance(value, str) or is_template(value):
            return
        if task.args.get("remote_src") is True:
            return  # copy's src is then a path on the host
        dirs = self.search_dirs(task)[source[1]]
        # anything there is found, so a FIFO or device is refused when read, not skipped
        found = next((d / value for d in dirs if inputfile.exists(d / value)), None)
        if found is None:
            raise InputError(f"{task.module.name}: {source[1][:-1]} {value!r} not found "
                             f"(looked in {', '.join(map(str, dirs))})", **task.location)
        if source[1] == "templates":
            check_file_syntax(found)


@dataclass
class Playbook:
    path: Path
    plays: list[Play]

    @property
    def base(self) -> Path:
        return self.path.parent


def roles_path(base: Path) -> list[Path]:
    extra = [Path(p) for p in os.environ.get("ORC_ROLES_PATH", "").split(":") if p]
    return [base / "roles", *extra]


def load_playbook(path: Path | str) -> Playbook:
    path = Path(path)
    data = yamlfile.load(path)
    if not isinstance(data, list):
        raise InputError("a playbook is a list of plays", path=path, line=1)
    plays = [_play(raw, path) for raw in data]
    for play in plays:
        play.check()
    return Playbook(path, plays)


def _play(raw: Any, path: Path) -> Play:
    where = yamlfile.where(raw) or {"path": str(path)}
    if not isinstance(raw, dict):
        raise InputError("a play must be a mapping with `hosts:`", **where)
    for key in raw:
        if key not in PLAY_KEYS:
            raise InputError(f"unknown play keyword {key!r}{nearest(str(key), sorted(PLAY_KEYS))}",
                             path=str(path), line=raw.line_of(key))
    hosts = raw.get("hosts")
    if isinstance(hosts, list) and hosts and all(isinstance(h, str) for h in hosts):
        hosts = ",".join(hosts)  # Ansible takes a list of patterns as well as one
    if not isinstance(hosts, str):
        raise InputError("hosts: expected a host pattern (a string or a list of strings)",
                         **({**where, "line": raw.line_of("hosts")} if "hosts" in raw
                            else where))
    refs = [parse_ref(r, yamlfile.where(r) or where)
            for r in listing(raw, "roles", "role names or role entries", where)]
    play_tags = frozenset(strings(raw, "tags", where))
    loading = imports.Loading(roles_path(path.parent), path.parent, play_tags,
                              [path.resolve()])
    roles = expand(refs, loading.roles_path, where, loading)
    sections = {section: imports.load_tasks(listing(raw, section, "tasks", where),
                                            imports.Place(path), loading,
                                            imports.Parent(tags=play_tags))
                for section in ("pre_tasks", "tasks", "post_tasks")}
    handlers = imports.load_tasks(listing(raw, "handlers", "handlers", where),
                                  imports.Place(path, section="handlers"), loading)
    # an imported role's handlers come after the play's own (as ansible-core orders them)
    handlers += loading.handlers
    vars_files = [path.parent / f for f in strings(raw, "vars_files", where)]
    play_vars = mapping(raw, "vars", where)
    become_user = text(raw, "become_user", "a user name", where)
    key_lines = dict(getattr(raw, "key_lines", {}))
    rollout = policy.parse_policy(
        raw, play_vars, lambda key: {"path": str(path), "line": key_lines.get(key, raw.line)})
    gather_subset = raw.get("gather_subset")
    if gather_subset is not None and not isinstance(gather_subset, (str, list)):
        raise InputError("gather_subset: expected a subset name or a list of them",
                         path=str(path), line=raw.line_of("gather_subset"))
    return Play(
        name=str(raw.get("name") or hosts),
        hosts=hosts,
        path=str(path),
        line=raw.line,
        roles=roles,
        imported_roles=loading.roles,
        tasks=sections["tasks"],
        pre_tasks=sections["pre_tasks"],
        post_tasks=sections["post_tasks"],
        gather_facts=literal_flag(raw, "gather_facts", where),
        gather_subset=gather_subset,
        environment=environment_of(raw, where),
        handlers=handlers,
        vars=play_vars,
        vars_files=vars_files,
        become=literal_flag(raw, "become", where),
        become_user=become_user,
        policy=rollout,
        key_lines=key_lines,
        no_log=literal_flag(raw, "no_log", where),
    )
