"""Roll a run back from the journals on its hosts, through pyinfra operations.

Per host, the run's batches are read from `/var/lib/orc/runs/<run>/` and every recorded resource
is brought back to its earliest pre-image (the state before the run first touched it), newest
first: files are put back with their saved bytes, mode and owner, created paths removed,
packages purged or put back to their version, services stopped or started and enabled as they
were, user and group entries restored line for line, sysctl values reset. Handlers that the
restored tasks notify run afterwards, in a second pyinfra State that sees the restored host, and
only for services that are running then. Commands run their `undo:`; without one they are
reported as irreversible, never skipped silently.

Before anything is restored, every host is compared with what the run left (the journal's
after-images): a resource changed since, by hand or by another tool, is drift. Drift stops the
whole rollback before any host is touched, unless the caller confirms it (the CLI asks) or
forces it; a rollback never overwrites a hand change silently.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.context import ctx_state
from pyinfra.facts.files import Directory, File, Link
from pyinfra.facts.systemd import SystemdStatus
from pyinfra.operations import apt, files, server, systemd

from orchestrator import journal, modules
from orchestrator.errors import HostError, InputError
from orchestrator.events import Listener, RollbackDone, RollbackStarted, ignore
from orchestrator.hostlock import release_command
from orchestrator.inventory import Inventory
from orchestrator.journal import Batch, Drift, PreImage
from orchestrator.modules.base import HostContext
from orchestrator.transport.session import open_session


class DriftError(HostError):
    """Resources changed on the hosts after the run left them; restoring would overwrite that."""

    def __init__(self, run_id: str, drift: list[Drift]):
        first = ", ".join(str(d) for d in drift[:3])
        more = f" and {len(drift) - 3} more" if len(drift) > 3 else ""
        super().__init__(f"rollback of {run_id} stopped before any change: {len(drift)} "
                         f"resource(s) changed since the run: {first}{more}; --force "
                         "overwrites them")
        self.drift = drift


@dataclass
class Restored:
    """One resource on one host: what rollback did with it."""

    kind: str
    key: str
    task: str
    status: str  # restored | unchanged | irreversible | failed | not recorded
    detail: str = ""


@dataclass
class HostRollback:
    host: str
    items: list[Restored] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None  # why nothing was done (no journal, rolled back already)

    @property
    def failed(self) -> bool:
        return self.error is not None or any(i.status == "failed" for i in self.items)

    @property
    def irreversible(self) -> list[Restored]:
        return [i for i in self.items if i.status in ("irreversible", "not recorded")]


@dataclass
class RollbackReport:
    run_id: str
    hosts: dict[str, HostRollback] = field(default_factory=dict)
    drift: list[Drift] = field(default_factory=list)  # overwritten, as confirmed or forced

    @property
    def failed(self) -> bool:
        return any(h.failed for h in self.hosts.values())


@dataclass
class _Step:
    """One restore on one host, and the pyinfra operation metadata it became."""

    image: PreImage
    metas: list[Any] = field(default_factory=list)
    note: str = ""


def earliest(batches: list[Batch]) -> list[PreImage]:
    """Per resource, its first pre-image in the run; in the order they were recorded."""
    seen: dict[tuple[str, str], PreImage] = {}
    order = 0
    for batch in batches:
        for image in batch.images:
            key = (image.kind, image.key if image.kind != "command" else f"{order}")
            order += 1
            if key not in seen:
                seen[key] = image
                image.extra["batch"] = batch.name
    return list(seen.values())


def _packages_before(batches: list[Batch]) -> dict[str, set[str]] | None:
    first = next((b.packages for b in batches if b.packages is not None), None)
    return {k: set(v) for k, v in first.items()} if first is not None else None


def _now_packages(host: Any, sudo: bool) -> tuple[set[str], set[str]]:
    """Installed packages, and those apt marked automatic (read from its state file: `apt-mark
    showauto` takes seconds)."""
    _, out = host.run_shell_command(
        "dpkg-query -W -f='${db:Status-Abbrev}${Package}\\n'; echo @@auto; "
        "awk '/^Package:/{p=$2} /^Auto-Installed: 1/{print p}' /var/lib/apt/extended_states",
        _sudo=sudo)
    text = "\n".join(out.stdout_lines)
    listed, _, auto = text.partition("@@auto")
    installed = {line[3:].strip() for line in listed.splitlines() if line.startswith("ii")}
    return installed, set(auto.split())


def _add(state: Any, host: Any, step: _Step, op: Any, sudo: bool, **kwargs: Any) -> None:
    args: dict[str, Any] = {"name": f"rollback {step.image.kind} {step.image.key}"}
    if sudo:
        args["_sudo"] = True
    step.metas.append(add_op(state, op, host=host, **args, **kwargs)[host])


def _plan_host(state: Any, host: Any, run_id: str, batches: list[Batch], sudo: bool,
               report: HostRollback) -> list[_Step]:
    """Add the restore operations of one host, newest pre-image first.

    User and group entries that existed are put back first (restored files may be owned by
    them), entries the run created are removed last (after the files and packages that used
    them). Services that existed are left to the second phase, after their files are back."""
    images = earliest(batches)
    steps: list[_Step] = []
    entries = [i for i in images if i.kind == "entry" and i.state]
    before = _packages_before(batches)
    first, last = _Step(PreImage(-1, "entry", "users and groups", "", "", False)), \
        _Step(PreImage(-1, "entry", "users and groups created", "", "", False))
    databases = _read_databases(host, sudo) if entries or before is not None else {}
    if entries:
        _put_databases(state, host, first, databases,
                       [i for i in entries if i.state.get("line") is not None], sudo)
    packages_done = False
    for image in reversed(images):
        step = _Step(image)
        if not image.state and image.kind in journal.RESTORABLE:
            report.items.append(Restored(image.kind, image.key, image.task, "failed",
                                         "no pre-image captured"))
            continue
        if image.kind == "path":
            _restore_path(state, host, run_id, step, sudo)
        elif image.kind == "package":
            if packages_done:
                continue
            packages_done = True
            purged = _restore_packages(state, host, [i for i in images if i.kind == "package"],
                                       before, step, sudo)
            if purged and before is not None:
                entries += _accounts_created(host, before, entries, sudo)
        elif image.kind == "service":
            if image.state.get("load") == "loaded":
                continue  # second phase
            _add(state, host, step, systemd.service, sudo, service=image.key, running=False,
                 enabled=False)  # the unit did not exist: stop it and take it off boot
        elif image.kind == "entry":
            continue
        elif image.kind == "sysctl":
            if image.state.get("value") is not None:
                _add(state, host, step, server.sysctl, sudo, key=image.key,
                     value=image.state["value"], persist=False)
        elif image.kind == "command":
            undo = image.extra.get("undo")
            if not undo:
                report.items.append(Restored(image.kind, image.key, image.task, "irreversible",
                                             "a command without `undo:`"))
                continue
            _add(state, host, step, server.shell, sudo, commands=[undo])
        else:
            report.items.append(Restored(image.kind, image.key, image.task, "not recorded",
                                         image.extra.get("why", "")))
            continue
        steps.append(step)
    if any(s.image.kind == "path" and s.image.key.startswith(("/etc/systemd/", "/lib/systemd/"))
           and s.metas for s in steps):
        unit_step = _Step(PreImage(-1, "service", "daemon-reload", "systemd units", "", False))
        _add(state, host, unit_step, systemd.daemon_reload, sudo)
        steps.append(unit_step)
    removed = [i for i in entries if i.state.get("line") is None]
    if removed:
        _put_databases(state, host, last, databases, removed, sudo)
    steps = [first, *steps, last]
    return [s for s in steps if s.metas or s.note]


def _accounts_created(host: Any, before: dict[str, set[str]], entries: list[PreImage],
                      sudo: bool) -> list[PreImage]:
    """System users and groups that appeared since the pre-image and that no task recorded:
    made by the maintainer scripts of packages the run installed, removed with them."""
    _, out = host.run_shell_command("cut -d: -f1,3 /etc/passwd; echo @@; cut -d: -f1,3 "
                                     "/etc/group", _sudo=sudo)
    users, _, groups = "\n".join(out.stdout_lines).partition("@@")
    known = {i.key.rsplit(":", 1)[1] for i in entries}
    found = []
    for names, dbs, old in ((users, journal.USER_DBS, before.get("users", set())),
                            (groups, journal.GROUP_DBS, before.get("groups", set()))):
        for line in names.split():
            name, _, number = line.partition(":")
            if name in old or name in known or not number.isdigit() or int(number) >= 1000:
                continue
            found += [PreImage(-1, "entry", f"{db}:{name}", "packages installed", "", False,
                               {"line": None}) for db in dbs]
    return found


def _restore_path(state: Any, host: Any, run_id: str, step: _Step, sudo: bool) -> None:
    image, prior = step.image, step.image.state
    kind = prior.get("type")
    if kind == "absent":
        # whatever is there now was created by the run: remove it (a directory with its content)
        if host.get_fact(Link, path=image.key):
            _add(state, host, step, files.link, sudo, path=image.key, present=False)
        elif host.get_fact(Directory, path=image.key):
            _add(state, host, step, files.directory, sudo, path=image.key, present=False)
        elif host.get_fact(File, path=image.key):
            _add(state, host, step, files.file, sudo, path=image.key, present=False)
    elif kind == "file":
        saved = f"{journal.run_dir(run_id)}/{image.extra['batch']}/{image.extra['copy']}"
        buffer = io.BytesIO()
        if host.get_file(saved, buffer, _sudo=sudo) is False:
            step.note = f"saved copy {saved} is missing"
            return
        buffer.seek(0)
        _add(state, host, step, files.put, sudo, src=buffer, dest=image.key, mode=prior["mode"],
             user=prior["user"], group=prior["group"])
    elif kind == "directory":
        _add(state, host, step, files.directory, sudo, path=image.key, mode=prior["mode"],
             user=prior["user"], group=prior["group"])
    elif kind == "link":
        _add(state, host, step, files.link, sudo, path=image.key, target=prior["target"],
             user=prior["user"], group=prior["group"], force=True)
    else:
        step.note = f"a {kind} is not restored"


def _restore_packages(state: Any, host: Any, images: list[PreImage], before: set[str] | None,
                      step: _Step, sudo: bool) -> bool:
    """Purge what the run installed (and the dependencies apt pulled in for it, which are
    marked automatic); put changed versions back."""
    installed, auto = _now_packages(host, sudo)
    new = {i.key for i in images if not i.state.get("version") and i.key in installed}
    if before is not None:
        new |= {p for p in installed - before["installed"] if p in auto}
    if new:
        _add(state, host, step, apt.packages, sudo, packages=sorted(new), present=False,
             purge=True)
    versions = [f"{i.key}={i.state['version']}" for i in images if i.state.get("version")]
    if versions:
        _add(state, host, step, apt.packages, sudo, packages=versions, present=True,
             extra_install_args="--allow-downgrades")
    return bool(new)


def _read_databases(host: Any, sudo: bool) -> dict[str, tuple[list[str], str]]:
    """The user and group databases as lines, with their `mode user group`."""
    found = {}
    for db in (*journal.USER_DBS, *journal.GROUP_DBS):
        ok, out = host.run_shell_command(f"stat -c '%a %U %G' {db}", _sudo=sudo)
        if not ok:
            continue  # a database this host does not have (e.g. no /etc/subuid)
        buffer = io.BytesIO()
        host.get_file(db, buffer, _sudo=sudo)
        found[db] = (buffer.getvalue().decode().splitlines(), out.stdout_lines[0])
    return found


def _put_databases(state: Any, host: Any, step: _Step,
                   databases: dict[str, tuple[list[str], str]], images: list[PreImage],
                   sudo: bool) -> None:
    """Put entries back line for line (an entry that was absent is removed, a changed one gets
    its exact old line back at its place) and update `databases` to what was put."""
    for db, (lines, meta) in databases.items():
        edited = list(lines)
        for image in images:
            image_db, name = image.key.rsplit(":", 1)
            if image_db != db:
                continue
            at = next((n for n, line in enumerate(edited) if line.startswith(f"{name}:")), None)
            old = image.state.get("line")
            if old is None and at is not None:
                del edited[at]
            elif old is not None and at is not None:
                edited[at] = old
            elif old is not None:
                edited.insert(min(image.state.get("index", len(edited)), len(edited)), old)
        if edited == lines:
            continue
        databases[db] = (edited, meta)
        mode, user, group = meta.split()
        content = "\n".join(edited) + ("\n" if edited else "")
        _add(state, host, step, files.put, sudo, src=io.BytesIO(content.encode()), dest=db,
             mode=mode, user=user, group=group)


def _notified(steps: list[_Step]) -> list[dict[str, Any]]:
    """Handlers of the tasks whose resources the rollback changed, once each, in order."""
    seen: dict[str, dict[str, Any]] = {}
    for step in steps:
        if any(m.is_complete() and m.did_change() for m in step.metas):
            for handler in step.image.notify:
                seen.setdefault(handler["name"], handler)
    return list(seen.values())


def _service_of(handler: dict[str, Any]) -> str | None:
    if handler["module"] in ("service", "systemd"):
        name = handler["args"].get("name")
        return name if "." in name else f"{name}.service"
    return None


DONE, ROLLING_BACK = "rolled-back", "rolling-back"  # markers in the run's journal directory


def _read_host(host: Any, run_id: str, sudo: bool) -> tuple[list[Batch], set[str]]:
    """The run's batches on the host, and which rollback markers are there."""
    batches = journal.read_batches(host, run_id, sudo)
    directory = journal.run_dir(run_id)
    _, out = host.run_shell_command(
        f"for m in {DONE} {ROLLING_BACK}; do [ -e {directory}/$m ] && echo $m; done; true",
        _sudo=sudo)
    return batches, set(out.stdout_lines)


def _on_hosts(session: Any, commands: dict[str, str], sudo: bool) -> None:
    """Run each host's command, all hosts in parallel."""
    gevent.joinall([gevent.spawn(session.hosts[name].run_shell_command, command, _sudo=sudo)
                    for name, command in commands.items()])


def _check_drift(session: Any, run_id: str, batches: dict[str, list[Batch]], sudo: bool,
                 force: bool, confirm: Callable[[list[Drift]], bool] | None,
                 report: RollbackReport) -> None:
    """Compare every host with what the run left, in parallel; raise `DriftError` (nothing
    changed yet) unless there is none, or it is forced or confirmed."""
    names = [name for name, found in batches.items() if found]
    jobs = {name: gevent.spawn(journal.drift, session.hosts[name], run_id, batches[name], sudo)
            for name in names}
    gevent.joinall(list(jobs.values()))
    found: list[Drift] = []
    for name, job in jobs.items():
        if not job.successful():
            raise HostError(f"{name}: could not compare with what {run_id} left: "
                            f"{job.exception}")
        found += job.value
    if not found:
        return
    if not force and not (confirm and confirm(found)):
        raise DriftError(run_id, found)
    report.drift = found


def rollback(inventory: Inventory, run_id: str, names: list[str], *, sudo: bool = False,
             force: bool = False, confirm: Callable[[list[Drift]], bool] | None = None,
             on_event: Listener | None = None) -> RollbackReport:
    """Restore every recorded resource of `run_id` on `names`; hosts with no journal of the
    run are left alone, and so are hosts where it was rolled back already (unless `force`).
    Drift since the run raises `DriftError` before any change unless `force`, or `confirm`
    (given the drift) says yes."""
    emit = on_event or ignore
    report = RollbackReport(run_id)
    # crash tests count restore operations too (ORC_KILL_AFTER_OPS, see journal.crash_point)
    session = open_session(inventory, names, on_op=lambda host, op, ok: journal.crash_point(1))
    for name, why in session.unreachable.items():
        report.hosts[name] = HostRollback(name, error=why)
    reads = {name: gevent.spawn(_read_host, host, run_id, sudo)
             for name, host in session.hosts.items()}
    gevent.joinall(list(reads.values()))
    batches: dict[str, list[Batch]] = {}
    started: set[str] = set()  # hosts where a rollback of the run began (and maybe died)
    for name, job in reads.items():
        if not job.successful():
            gone = session.lost(name)
            if gone is None:
                raise job.exception
            report.hosts[name] = HostRollback(name, error=gone)  # it went away: nothing to do
            batches[name] = []
            session.state.active_hosts.discard(session.hosts[name])
            continue
        batches[name], markers = job.value
        if ROLLING_BACK in markers:
            started.add(name)
        if DONE in markers and batches[name] and not force:
            report.hosts[name] = HostRollback(name, skipped="already rolled back")
            batches[name] = []
        elif not batches[name]:
            report.hosts[name] = HostRollback(name, skipped=f"no journal of {run_id}")
        if not batches[name]:
            session.state.active_hosts.discard(session.hosts[name])
    # a host an interrupted rollback already partly restored differs from what the run left
    # because of that rollback: finishing it is not overwriting anyone's change
    _check_drift(session, run_id, {n: b for n, b in batches.items() if n not in started},
                 sudo, force, confirm, report)
    steps: dict[str, list[_Step]] = {}
    with ctx_state.use(session.state):
        jobs = {name: gevent.spawn(_plan_host, session.state, session.hosts[name], run_id,
                                   batches[name], sudo,
                                   report.hosts.setdefault(name, HostRollback(name)))
                for name in session.hosts if batches[name]}
        gevent.joinall(list(jobs.values()))
    for name, job in jobs.items():
        if job.successful():
            steps[name] = job.value
        else:
            report.hosts[name].error = f"{type(job.exception).__name__}: {job.exception}"
            session.state.active_hosts.discard(session.hosts[name])
    if session.state.active_hosts:
        emit(RollbackStarted(run_id, tuple(sorted(steps))))
        marker = f"touch {journal.run_dir(run_id)}/{ROLLING_BACK} && sync"
        _on_hosts(session, {n: marker for n in steps
                            if session.hosts[n] in session.state.active_hosts}, sudo)
        try:
            run_ops(session.state)
        except PyinfraError:
            pass  # per-host failures are read from the metadata below
    second: dict[str, tuple[list[PreImage], list[dict[str, Any]]]] = {}
    for name, host_steps in steps.items():
        host_report = report.hosts[name]
        gone = session.lost(name)
        for step in host_steps:
            outcome = _outcome(step)
            if gone and outcome.status == "failed":  # not the restore's fault: the host left
                outcome.detail = gone
            host_report.items.append(outcome)
        if gone and host_report.failed:
            host_report.error = gone
            continue
        services = [i for i in earliest(batches[name])
                    if i.kind == "service" and i.state.get("load") == "loaded"]
        second[name] = (services, _notified(host_steps))
    if any(services or handlers for services, handlers in second.values()):
        _second_phase(inventory, second, report, sudo)
    # marked done, and the host's rollout lock freed if the (killed) run still holds it: also
    # on hosts it locked but never reached
    done = f"touch {journal.run_dir(run_id)}/{DONE}; "
    _on_hosts(session, {name: (done if name in steps else "") + release_command(run_id)
                        for name in session.hosts if not report.hosts[name].failed}, sudo)
    emit(RollbackDone(run_id, report.failed))
    return report


def _outcome(step: _Step) -> Restored:
    image = step.image
    if step.note:
        return Restored(image.kind, image.key, image.task, "failed", step.note)
    errors = [m for m in step.metas if m.did_error()]
    if errors:
        lines = errors[0].stderr_lines or errors[0].stdout_lines or ["failed"]
        return Restored(image.kind, image.key, image.task, "failed", lines[-1].strip())
    if not all(m.is_complete() for m in step.metas):
        return Restored(image.kind, image.key, image.task, "failed", "did not run")
    changed = any(m.did_change() for m in step.metas)
    return Restored(image.kind, image.key, image.task, "restored" if changed else "unchanged")


def _second_phase(inventory: Inventory,
                  work: dict[str, tuple[list[PreImage], list[dict[str, Any]]]],
                  report: RollbackReport, sudo: bool) -> None:
    """Services back to running and enabled as they were, then the notified handlers, in a
    fresh State that sees the host as the first phase left it: a restart is skipped for a
    service that will not be running, and a unit that failed meanwhile is reset first."""
    session = open_session(inventory, list(work))
    for name, why in session.unreachable.items():
        report.hosts[name].error = why
    added: dict[str, list[tuple[str, _Step]]] = {}
    with ctx_state.use(session.state):
        for name, host in session.hosts.items():
            services, handlers = work[name]
            running = host.get_fact(SystemdStatus)
            wanted = dict(running)
            for image in services:
                step = _Step(image)
                active = image.state.get("active") == "active"
                wanted[image.key] = active
                ok, _ = host.run_shell_command(f"systemctl is-failed --quiet {image.key}",
                                               _sudo=sudo)
                if active and ok:
                    _add(session.state, host, step, server.shell, sudo,
                         commands=[f"systemctl reset-failed {image.key}"])
                enabled = {"enabled": True, "disabled": False}.get(image.state.get("enabled"))
                _add(session.state, host, step, systemd.service, sudo, service=image.key,
                     running=active, enabled=enabled)
                added.setdefault(name, []).append(("", step))
            for handler in handlers:
                unit = _service_of(handler)
                if unit is not None and not wanted.get(unit):
                    continue
                step = _Step(PreImage(-1, "handler", handler["name"], "", "", False))
                module = modules.lookup(handler["module"], {})
                try:
                    calls = module.build(dict(handler["args"]), HostContext(host, {}))
                except (ValueError, InputError) as err:
                    step.note = str(err)
                    calls = []
                for call in calls:
                    _add(session.state, host, step, call.op, sudo, **call.kwargs)
                added.setdefault(name, []).append((handler["name"], step))
    if added:
        try:
            run_ops(session.state)
        except PyinfraError:
            pass
    for name, ran in added.items():
        for handler_name, step in ran:
            outcome = _outcome(step)
            if handler_name:
                report.hosts[name].handlers.append(
                    f"{handler_name}: {'failed' if outcome.status == 'failed' else 'ran'}")
                if outcome.status == "failed":
                    report.hosts[name].error = f"handler {handler_name}: {outcome.detail}"
            else:
                report.hosts[name].items.append(outcome)
        gone = session.lost(name)
        if gone and report.hosts[name].failed:
            report.hosts[name].error = gone
