"""The operations a rollback plans for each kind of pre-image, from given reads of the host (as
pyinfra's operation tests give facts): what is put back, in which order, and what is reported
instead of restored."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.undo.restore import plan_host, settle_host
from tests.support.undo import GivenReads, batch, calls, image

FILE = {"type": "file", "mode": "640", "user": "root", "group": "adm", "sha256": "a" * 64}
SAVED = "/var/lib/orc/runs/run1/1-play/files/0"
NOTHING_AT = {("Link", "/srv/new"): None, ("Directory", "/srv/new"): None,
              ("File", "/srv/new"): None}

# (case, pre-images, given reads, the operation calls planned, the outcomes reported instead)
CASES: list[tuple[str, list, dict, list, list]] = [
    ("path: a file back with its saved bytes",
     [image(0, "path", "/etc/app.conf", FILE, copy="files/0")],
     {"files": {SAVED: b"old\n"}},
     [("files.put", {"src": b"old\n", "dest": "/etc/app.conf", "mode": "640", "user": "root",
                     "group": "adm"})], []),
    ("path: a directory the run created is removed",
     [image(0, "path", "/srv/new", {"type": "absent"})],
     {"facts": {**NOTHING_AT, ("Directory", "/srv/new"): {"mode": 755}}},
     [("files.directory", {"path": "/srv/new", "present": False})], []),
    ("path: a link the run created is removed",
     [image(0, "path", "/srv/new", {"type": "absent"})],
     {"facts": {**NOTHING_AT, ("Link", "/srv/new"): {"link_target": "/x"}}},
     [("files.link", {"path": "/srv/new", "present": False})], []),
    ("path: a file the run created is removed",
     [image(0, "path", "/srv/new", {"type": "absent"})],
     {"facts": {**NOTHING_AT, ("File", "/srv/new"): {"size": 1}}},
     [("files.file", {"path": "/srv/new", "present": False})], []),
    ("path: absent and still absent: nothing to do",
     [image(0, "path", "/srv/new", {"type": "absent"})], {"facts": NOTHING_AT}, [], []),
    ("path: a directory's attributes",
     [image(0, "path", "/srv", {"type": "directory", "mode": "755", "user": "a", "group": "b"})],
     {}, [("files.directory", {"path": "/srv", "mode": "755", "user": "a", "group": "b"})], []),
    ("path: a link's target",
     [image(0, "path", "/srv/cur", {"type": "link", "mode": "777", "user": "a", "group": "b",
                                    "target": "/srv/v1"})],
     {}, [("files.link", {"path": "/srv/cur", "target": "/srv/v1", "user": "a", "group": "b",
                          "force": True})], []),
    ("path: a unit file back reloads systemd",
     [image(0, "path", "/etc/systemd/system/app.service", FILE, copy="files/0")],
     {"files": {SAVED: b"[Unit]\n"}},
     [("files.put", {"src": b"[Unit]\n", "dest": "/etc/systemd/system/app.service",
                     "mode": "640", "user": "root", "group": "adm"}),
      ("systemd.daemon_reload", {})], []),
    ("service: a unit the run created is stopped and disabled",
     [image(0, "service", "app.service", {"active": "active", "enabled": "enabled",
                                          "load": "not-found"})],
     {}, [("systemd.service", {"service": "app.service", "running": False,
                               "enabled": False})], []),
    ("service: a unit that existed waits for the second phase",
     [image(0, "service", "nginx.service", {"active": "active", "enabled": "enabled",
                                            "load": "loaded"})], {}, [], []),
    ("sysctl: the value back, not persisted",
     [image(0, "sysctl", "vm.swappiness", {"value": "60"})], {},
     [("server.sysctl", {"key": "vm.swappiness", "value": "60", "persist": False})], []),
    ("sysctl: a key that had no value is left", [image(0, "sysctl", "x.y", {"value": None})],
     {}, [], []),
    ("command: its undo runs", [image(0, "command", "make install", {}, undo="make uninstall")],
     {}, [("server.shell", {"commands": ["make uninstall"]})], []),
    ("command: without undo it is irreversible",
     [image(0, "command", "make install", {}, undo=None)], {}, [],
     [("command", "make install", "irreversible", "a command without `undo:`")]),
    ("unsupported: listed as not recorded",
     [image(0, "unsupported", "packages", {}, why="pip packages are not recorded")], {}, [],
     [("unsupported", "packages", "not recorded", "pip packages are not recorded")]),
    ("a pre-image that was not captured fails",
     [image(0, "package", "nginx", {})], {"shell": {"dpkg-query": (True, [])}}, [],
     [("package", "nginx", "failed", "no pre-image captured")]),
    ("newest first, each kind its own way",
     [image(0, "path", "/etc/app.conf", FILE, copy="files/0"),
      image(1, "sysctl", "vm.swappiness", {"value": "60"}),
      image(2, "command", "make install", {}, undo="make uninstall")],
     {"files": {SAVED: b"old\n"}},
     [("server.shell", {"commands": ["make uninstall"]}),
      ("server.sysctl", {"key": "vm.swappiness", "value": "60", "persist": False}),
      ("files.put", {"src": b"old\n", "dest": "/etc/app.conf", "mode": "640", "user": "root",
                     "group": "adm"})], []),
]

PASSWD = b"root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/bash\n"
GROUP = b"root:x:0:\nbob:x:1000:\n"
DATABASES = {  # the host has /etc/passwd and /etc/group, no other database
    "stat -c '%a %U %G' /etc/passwd": (True, ["644 root root"]),
    "stat -c '%a %U %G' /etc/group": (True, ["644 root root"]),
    "stat -c '%a %U %G'": (False, []),
}

ACCOUNT_CASES: list[tuple[str, list, dict, list]] = [
    ("an edited entry gets its old line back, first",
     [image(0, "entry", "/etc/passwd:bob", {"line": "bob:x:1000:1000::/home/bob:/bin/sh",
                                             "index": 1})],
     {"files": {"/etc/passwd": PASSWD, "/etc/group": GROUP}, "shell": DATABASES},
     [("files.put", {"src": b"root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n",
                     "dest": "/etc/passwd", "mode": "644", "user": "root", "group": "root"})]),
    ("a removed entry comes back at its place",
     [image(0, "entry", "/etc/group:adm", {"line": "adm:x:4:", "index": 1})],
     {"files": {"/etc/passwd": PASSWD, "/etc/group": GROUP}, "shell": DATABASES},
     [("files.put", {"src": b"root:x:0:\nadm:x:4:\nbob:x:1000:\n", "dest": "/etc/group",
                     "mode": "644", "user": "root", "group": "root"})]),
    ("an entry the run created is removed, after the files",
     [image(0, "entry", "/etc/passwd:bob", {"line": None}),
      image(1, "path", "/srv/new", {"type": "absent"})],
     {"files": {"/etc/passwd": PASSWD, "/etc/group": GROUP}, "shell": DATABASES,
      "facts": {**NOTHING_AT, ("File", "/srv/new"): {"size": 1}}},
     [("files.file", {"path": "/srv/new", "present": False}),
      ("files.put", {"src": b"root:x:0:0::/root:/bin/sh\n", "dest": "/etc/passwd",
                     "mode": "644", "user": "root", "group": "root"})]),
]

INSTALLED = {"installed": ["base"], "users": ["root"], "groups": ["root"]}
NOW = ["ii base", "ii nginx", "ii nginx-common", "ii curl", "@@auto", "nginx-common"]


def _plan(images: list, given: dict, packages: dict | None = None) -> Any:
    return plan_host(GivenReads(**given), "/var/lib/orc/runs/run1",
                     [batch(*images, packages=packages)])


@pytest.mark.parametrize("case, images, given, planned, outcomes", CASES,
                         ids=[c[0] for c in CASES])
def test_restore_plan(case: str, images: list, given: dict, planned: list,
                      outcomes: list) -> None:
    plan = _plan(images, given)
    assert calls(plan) == planned
    assert [(i.kind, i.key, i.status, i.detail) for i in plan.items] == outcomes


@pytest.mark.parametrize("case, images, given, planned", ACCOUNT_CASES,
                         ids=[c[0] for c in ACCOUNT_CASES])
def test_restore_plan_of_accounts(case: str, images: list, given: dict, planned: list) -> None:
    assert calls(_plan(images, given)) == planned


def test_accounts_are_reported_first_and_last() -> None:
    plan = _plan([image(0, "entry", "/etc/passwd:bob", {"line": None}),
                  image(1, "entry", "/etc/group:adm", {"line": "adm:x:4:", "index": 1}),
                  image(2, "sysctl", "vm.swappiness", {"value": "60"})],
                 {"files": {"/etc/passwd": PASSWD, "/etc/group": GROUP}, "shell": DATABASES})
    assert [s.image.key for s in plan.steps] == ["users and groups", "vm.swappiness",
                                                 "users and groups created"]


def test_path_whose_saved_copy_is_gone_fails_with_why() -> None:
    plan = _plan([image(0, "path", "/etc/app.conf", FILE, copy="files/0")], {})
    assert calls(plan) == []
    assert [s.note for s in plan.steps] == [f"saved copy {SAVED} is missing"]


def test_packages_purged_and_versions_back_at_once() -> None:
    """nginx was not installed (its dependency nginx-common came with it, marked automatic),
    curl was at 7.88; a system user its scripts made goes with them."""
    given = {"shell": {"dpkg-query": (True, NOW), **DATABASES,
                       "cut -d: -f1,3": (True, ["root:0", "nginx:110", "bob:1000", "@@",
                                                "root:0", "nginx:110"])},
             "files": {"/etc/passwd": PASSWD + b"nginx:x:110:110::/:/bin/false\n",
                       "/etc/group": GROUP + b"nginx:x:110:\n"}}
    plan = _plan([image(0, "package", "nginx", {"version": None}),
                  image(1, "package", "curl", {"version": "7.88"})], given, INSTALLED)
    assert calls(plan) == [
        ("apt.packages", {"packages": ["nginx", "nginx-common"], "present": False,
                          "purge": True}),
        ("apt.packages", {"packages": ["curl=7.88"], "present": True,
                          "extra_install_args": "--allow-downgrades"}),
        # bob (uid 1000) is a person, not a package's system account: left alone
        ("files.put", {"src": PASSWD, "dest": "/etc/passwd", "mode": "644", "user": "root",
                       "group": "root"}),
        ("files.put", {"src": GROUP, "dest": "/etc/group", "mode": "644", "user": "root",
                       "group": "root"}),
    ]


def test_second_phase_puts_services_back_and_runs_handlers_that_apply() -> None:
    images = [image(0, "service", "nginx.service", {"active": "active", "enabled": "enabled",
                                                    "load": "loaded"}),
              image(1, "service", "cron.service", {"active": "inactive", "enabled": "disabled",
                                                   "load": "loaded"})]
    handlers = [{"name": "restart cron", "module": "service",
                 "args": {"name": "cron", "state": "restarted"}},
                {"name": "note", "module": "command", "args": {
                    "cmd": "logger rolled back", "argv": None, "chdir": None, "creates": None,
                    "removes": None, "executable": None, "stdin": None,
                    "stdin_add_newline": True}}]
    reads = GivenReads(facts={("SystemdStatus",): {"nginx.service": False,
                                                   "cron.service": True}},
                       shell={"is-failed --quiet nginx.service": (True, []),
                              "is-failed --quiet cron.service": (True, [])})
    plan, steps = settle_host(reads, images, handlers)
    assert calls(plan) == [
        ("server.shell", {"commands": ["systemctl reset-failed nginx.service"]}),
        ("systemd.service", {"service": "nginx.service", "running": True, "enabled": True}),
        ("systemd.service", {"service": "cron.service", "running": False, "enabled": False}),
        ("server.shell", {"commands": ["logger rolled back"]}),
    ]
    # cron will not be running: its restart is skipped (and, inactive, it is not reset)
    assert [name for name, _ in steps] == ["", "", "note"]
