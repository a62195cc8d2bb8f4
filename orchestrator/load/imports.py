"""Task lists as loaded, with their static imports (`import_tasks`, `import_role`) expanded.

Ansible expands an import while it parses the playbook: the imported tasks take the import's
place, and the import's keywords become their parent's (ansible-core's "Re-using Ansible
artifacts" guide, and as observed running it): each imported task is under the import's
`when` (checked before its own, per task), gets its `tags`, its `vars` (the task's own win),
and its `become`, `become_user`, `ignore_errors`, `check_mode`, `no_log` and `notify` where the
task sets none. A loop on an import is refused (Ansible: "use include_tasks"); `register` and
`changed_when` on one are refused too, since Ansible accepts and ignores them.

A file is looked for beside the file that imports it, then in its role's `tasks/` (`handlers/`
for handlers) and the role's own directory, or, outside a role, beside the playbook. An import
of a file that is being imported already is a cycle, refused in one line.
`import_role` brings the role's tasks (`tasks_from`, after its meta dependencies') in place;
its defaults and vars (`defaults_from`, `vars_from`) join the play as the play's `roles:` do,
and its handlers (`handlers_from`) join the play's after the play's own, under the import's
keywords (a role imported twice has its handlers once, under the last import's, as
ansible-core runs them).

`include_tasks`, `include_role` and `include_vars` are dynamic: they load as tasks of their
own, run per host by the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator import modules
from orchestrator.errors import InputError
from orchestrator.load import yamlfile
from orchestrator.load.loops import is_loop_key
from orchestrator.load.tasks import (
    Block,
    Task,
    condition,
    literal_flag,
    mapping,
    parse_task,
    strings,
    text,
)
from orchestrator.load.yamlfile import Located
from orchestrator.templating.render import is_template

if TYPE_CHECKING:
    from orchestrator.load.roles import Role, RoleRef

IMPORTS = ("import_tasks", "import_role")
# keywords an import hands to each task it brings in, where the task sets none itself
INHERITED = ("become", "become_user", "ignore_errors", "check_mode", "no_log", "notify")
IMPORT_KEYWORDS = {"name", "when", "tags", "vars", "args", *INHERITED}
REFUSED = {
    "loop": "a loop on an import: use include_tasks or include_role to loop",
    "with_items": "a loop on an import: use include_tasks or include_role to loop",
    "loop_control": "a loop on an import: use include_tasks or include_role to loop",
    "register": "register on an import registers nothing (Ansible ignores it)",
    "changed_when": "changed_when on an import applies to nothing (Ansible ignores it); put "
                    "it on the imported tasks",
}


@dataclass(frozen=True)
class Parent:
    """The keywords a chain of imports hands the tasks it brings in (outermost first)."""

    when: tuple[Any, ...] = ()
    tags: frozenset[str] = frozenset()
    vars: Mapping[str, Any] = field(default_factory=dict)
    keywords: Mapping[str, Any] = field(default_factory=dict)

    def inner(self, other: Parent) -> Parent:
        """`other` (an import inside this one) under this one: conditions and tags add up,
        the inner import's vars and keywords win."""
        return Parent(self.when + other.when, self.tags | other.tags,
                      {**self.vars, **other.vars}, {**self.keywords, **other.keywords})

    def apply(self, task: Any) -> Any:
        """`task` (or each task of a block) under these keywords."""
        if not (self.when or self.tags or self.vars or self.keywords):
            return task
        if isinstance(task, Block):
            return replace(task, **{key: tuple(self.apply(t) for t in getattr(task, key))
                                    for key in ("block", "rescue", "always")})
        own = [] if task.when is None else task.when if isinstance(task.when, list) else [
            task.when]
        unset = {k: v for k, v in self.keywords.items() if getattr(task, k) in (None, ())
                 or (k == "ignore_errors" and task.ignore_errors is False)}
        return replace(task, when=[*self.when, *own] if self.when else task.when,
                       tags=task.tags | self.tags, vars={**self.vars, **task.vars}, **unset)


@dataclass
class Loading:
    """What loading one play shares: where roles and the playbook are, the files being
    imported now (for cycles), and what `import_role` brought into the play."""

    roles_path: list[Path]
    base: Path  # the playbook's directory
    tags: frozenset[str] = frozenset()  # the play's, on every task of it (its roles' too)
    stack: list[Path] = field(default_factory=list)
    roles: list[tuple[RoleRef, Role]] = field(default_factory=list)
    handlers: list[Task] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """Where a list of tasks comes from: its file, and the role it belongs to."""

    path: Path
    role: str | None = None
    role_path: Path | None = None
    section: str = "tasks"  # or "handlers": where a role's imported files are looked for


def load_file(path: Path, place: Place, loading: Loading, parent: Parent = Parent()
              ) -> list[Task]:
    """The tasks of one task file (a role's tasks/main.yml, an imported file)."""
    resolved = path.resolve()
    if resolved in loading.stack:
        chain = [*loading.stack[loading.stack.index(resolved):], resolved]
        raise InputError("import cycle: " + " -> ".join(p.name for p in chain), path=path)
    loading.stack.append(resolved)
    try:
        raw = yamlfile.load(path)
        return load_tasks(raw, replace(place, path=path), loading, parent)
    finally:
        loading.stack.pop()


def load_tasks(raw: Any, place: Place, loading: Loading, parent: Parent = Parent()
               ) -> list[Task]:
    """A list of tasks as written in `place.path`, each import replaced by what it brings."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError("expected a list of tasks", path=place.path,
                         line=raw.line if isinstance(raw, Located) else None)
    tasks: list[Task] = []
    for item in raw:
        kind = _import_kind(item)
        if kind == "import_tasks":
            tasks += _import_tasks(item, place, loading, parent)
        elif kind == "import_role":
            tasks += _import_role(item, place, loading, parent)
        else:
            tasks.append(parent.apply(parse_task(
                item, path=str(place.path), role=place.role,
                items=lambda listed: load_tasks(listed, place, loading))))
    return tasks


def parse_list(raw: Any, path: Path, *, role: str | None = None, role_path: Path | None = None,
               tags: frozenset[str] = frozenset(), playbook_dir: Path | None = None
               ) -> list[Any]:
    """A task list read apart from a play's loading (`tasks.parse_tasks`), imports expanded;
    the handlers of a role it imports are not the play's then."""
    from orchestrator.load.playbook import roles_path

    base = playbook_dir or path.parent
    loading = Loading(roles_path(base), base, tags, [path.resolve()])
    return load_tasks(raw, Place(path, role, role_path), loading, Parent(tags=tags))


def _import_kind(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    for key in item:
        name = str(key).removeprefix("ansible.builtin.").removeprefix("ansible.legacy.")
        if name in IMPORTS:
            return name
    return None


def _module_key(item: Located) -> str:
    return next(k for k in item if str(k).split(".")[-1] in IMPORTS)


def _import(item: Located, place: Place, parent: Parent) -> tuple[dict[str, Any], Parent,
                                                                    dict]:
    """An import's arguments (checked as its module's) and the Parent its tasks get."""
    where = {"path": str(place.path), "line": item.line}
    key = _module_key(item)
    for other in item:
        line = item.line_of(other)
        if other in REFUSED or is_loop_key(other):  # any with_<lookup> too
            raise InputError(f"{other}: {REFUSED.get(other, REFUSED['loop'])}",
                             path=str(place.path), line=line)
        if other != key and other not in IMPORT_KEYWORDS:
            raise InputError(f"{key}: {other!r} is not a keyword an import takes (it takes "
                             f"{', '.join(sorted(IMPORT_KEYWORDS))})",
                             path=str(place.path), line=line)
    key_where = {**where, "line": item.line_of(key)}
    module = modules.lookup(key, key_where)
    extra = item.get("args")
    if extra is not None and not isinstance(extra, dict):
        raise InputError("args: expected a mapping of the module's arguments",
                         path=str(place.path), line=item.line_of("args"))
    args = module.normalise(item[key], key_where, extra=extra)
    for name, value in args.items():
        if isinstance(value, str) and is_template(value):
            raise InputError(f"{module.name}: {name} {value!r} is a template; an import is "
                             f"expanded at load, before any host's variables exist (use "
                             f"{module.name.replace('import', 'include')} to choose per host)",
                             **key_where)
    when = condition(item, "when", where)
    keywords = {k: literal_flag(item, k, where) for k in ("become", "ignore_errors",
                                                         "check_mode", "no_log") if k in item}
    if "become_user" in item:
        keywords["become_user"] = text(item, "become_user", "a user name", where)
    if "notify" in item:
        keywords["notify"] = strings(item, "notify", where)
    own = Parent(() if when is None else tuple(when) if isinstance(when, list) else (when,),
                 frozenset(strings(item, "tags", where)), mapping(item, "vars", where),
                 keywords)
    return args, parent.inner(own), key_where


def _find(name: str, place: Place, loading: Loading, where: dict) -> Path:
    """An imported task file: beside the importing file, then in the role, or beside the
    playbook (as ansible-core looks)."""
    candidates = [place.path.parent / name]
    if place.role_path is not None:
        candidates += [place.role_path / place.section / name, place.role_path / name]
    else:
        candidates.append(loading.base / name)
    for candidate in dict.fromkeys(candidates):
        if candidate.is_file():
            return candidate
    raise InputError(f"import_tasks: {name!r} not found (looked in "
                     f"{', '.join(str(c.parent) for c in dict.fromkeys(candidates))})", **where)


def _import_tasks(item: Located, place: Place, loading: Loading, parent: Parent) -> list[Task]:
    args, inner, where = _import(item, place, parent)
    path = _find(str(args["file"]), place, loading, where)
    return load_file(path, Place(path, place.role, place.role_path, place.section), loading,
                     inner)


def _import_role(item: Located, place: Place, loading: Loading, parent: Parent) -> list[Task]:
    from orchestrator.load import roles

    args, inner, where = _import(item, place, parent)
    ref = roles.RoleRef(args["name"], files={k: args[k] for k in roles.FILE_KEYS},
                        rolespec_validate=bool(args["rolespec_validate"]))
    if not args["allow_duplicates"] and any(
            r.name == ref.name and r.files == ref.files for r, _ in loading.roles):
        return []
    tasks: list[Task] = []
    for dep_ref, role in roles.expand([ref], loading.roles_path, where, loading):
        role.tasks = [inner.apply(t) for t in role.tasks]
        # handlers are under the import too, but notify nothing for it
        handler_parent = replace(inner, keywords={k: v for k, v in inner.keywords.items()
                                                  if k != "notify"})
        role.handlers = [handler_parent.apply(h) for h in role.handlers]
        loading.roles.append((dep_ref, role))
        for handler in role.handlers:
            # a role imported twice has its handlers once, under the last import's keywords
            # (as ansible-core runs them); a task of each import stays its own
            known = [i for i, h in enumerate(loading.handlers)
                     if (h.path, h.line) == (handler.path, handler.line)]
            if known:
                loading.handlers[known[0]] = handler
            else:
                loading.handlers.append(handler)
        tasks += role.tasks
    return tasks
