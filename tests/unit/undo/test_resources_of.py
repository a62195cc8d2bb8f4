"""What each pyinfra operation may change, as the journal names it before the operation runs:
a resource missed here is a change no rollback can undo, and says nothing."""

from __future__ import annotations

from typing import Any

import pytest
from pyinfra.operations import apt, crontab, files, git, pip, server, systemd

from orchestrator.modules import aptget, repositories, rewrite, tree
from orchestrator.undo import kinds
from orchestrator.undo.kinds import resources_of

USER_DBS = ["/etc/passwd", "/etc/shadow", "/etc/subuid", "/etc/subgid"]
GROUP_DBS = ["/etc/group", "/etc/gshadow"]

# (operation, its keyword arguments, the task's undo:, the resources: (kind, key[, extra]))
CASES = [
    (files.put, {"dest": "/etc/motd"}, None, [("path", "/etc/motd")]),
    (files.file, {"path": "/etc/x"}, None, [("path", "/etc/x")]),
    (files.line, {"path": "/etc/hosts"}, None, [("path", "/etc/hosts")]),
    (files.block, {"path": "/etc/b"}, None, [("path", "/etc/b")]),
    (files.replace, {"path": "/etc/r"}, None, [("path", "/etc/r")]),
    (files.download, {"dest": "/opt/f.tgz"}, None, [("path", "/opt/f.tgz")]),
    (rewrite.rewrite, {"path": "/etc/w"}, None, [("path", "/etc/w")]),
    (files.directory, {"path": "/srv/app"}, None, [("path", "/srv/app")]),
    (files.link, {"path": "/srv/current"}, None, [("path", "/srv/current")]),
    (repositories.source_file, {"path": "/etc/apt/sources.list.d/x.list"}, None,
     [("path", "/etc/apt/sources.list.d/x.list")]),
    (apt.key, {}, None, [("path", "/etc/apt/trusted.gpg")]),
    (apt.key, {"dest": "/etc/apt/keyrings/x.gpg"}, None, [("path", "/etc/apt/keyrings/x.gpg")]),
    (crontab.crontab, {"user": None}, None, [("path", "/var/spool/cron/crontabs/root")]),
    (crontab.crontab, {"user": "bob"}, None, [("path", "/var/spool/cron/crontabs/bob")]),
    (git.repo, {"dest": "/srv/src"}, None, [("path", "/srv/src", {"tree": True})]),
    (tree.attributes, {"path": "/srv"}, None, [("unsupported", "/srv/*", {
        "why": "the owners and modes of a directory's contents (recurse) are not recorded"})]),
    (apt.packages, {"packages": ["nginx", "curl=7.88"]}, None,
     [("package", "nginx"), ("package", "curl")]),
    (apt.packages, {"packages": None}, None, []),
    (aptget.deb, {"package": "hello", "src": "/tmp/hello.deb"}, None, [("package", "hello")]),
    (aptget.deb, {"src": "https://x/h.deb"}, None, [("unsupported", "https://x/h.deb", {
        "why": "a .deb fetched from a URL names its package only once downloaded"})]),
    (aptget.action, {"action": "upgrade"}, None, [("unsupported", "apt-get upgrade", {
        "why": "the packages apt-get upgrade changes are not named in advance"})]),
    (systemd.service, {"service": "nginx"}, None, [("service", "nginx.service")]),
    (systemd.service, {"service": "app.socket"}, None, [("service", "app.socket")]),
    (systemd.daemon_reload, {}, None, []),
    (server.user, {"user": "bob"}, None,
     [("entry", f"{db}:bob") for db in USER_DBS] + [("entry", f"{db}:bob") for db in GROUP_DBS]
     + [("path", "/home/bob"), ("path", "/var/mail/bob")]),
    (server.user, {"user": "bob", "group": "staff", "groups": ["adm"], "home": "/srv/bob"}, None,
     [("entry", f"{db}:bob") for db in USER_DBS]
     + [("entry", f"{db}:{g}") for g in ("adm", "bob", "staff") for db in GROUP_DBS]
     + [("path", "/srv/bob"), ("path", "/var/mail/bob")]),
    (server.group, {"group": "web"}, None, [("entry", f"{db}:web") for db in GROUP_DBS]),
    (server.sysctl, {"key": "vm.swappiness"}, None, [("sysctl", "vm.swappiness")]),
    (server.sysctl, {"key": "vm.swappiness", "persist": True}, None,
     [("sysctl", "vm.swappiness"), ("path", "/etc/sysctl.conf")]),
    (server.sysctl, {"key": "k", "persist": True, "persist_file": "/etc/sysctl.d/k.conf"}, None,
     [("sysctl", "k"), ("path", "/etc/sysctl.d/k.conf")]),
    (server.shell, {"commands": ["make", "make install"]}, "make uninstall",
     [("command", "make && make install", {"undo": "make uninstall"})]),
    (server.shell, {"commands": ["touch /x"]}, None, [("command", "touch /x", {"undo": None})]),
    (pip.packages, {"packages": ["requests"]}, None,
     [("unsupported", "packages", {"why": "pip packages are not recorded"})]),
    (server.hostname, {"hostname": "x"}, None,
     [("unsupported", "hostname", {"why": "hostname is not recorded"})]),
    (server.reboot, {}, None, [("unsupported", "reboot", {"why": "reboot is not recorded"})]),
]


def _shape(resources: list[kinds.Resource]) -> list[tuple[Any, ...]]:
    return [(r.kind, r.key, r.extra) if r.extra else (r.kind, r.key) for r in resources]


@pytest.mark.parametrize("op, kwargs, undo, expected", CASES,
                         ids=[f"{op.__module__.rsplit('.', 1)[-1]}.{op.__name__}-{i}"
                              for i, (op, *_) in enumerate(CASES)])
def test_resources_of(op: Any, kwargs: dict, undo: str | None, expected: list) -> None:
    assert _shape(resources_of(op, kwargs, undo)) == expected


def test_every_operation_a_kind_claims_is_covered() -> None:
    claimed = {op for kind in kinds.KINDS.values() for op in kind.operations}
    assert claimed <= {op for op, *_ in CASES}


def test_an_operation_belongs_to_one_kind() -> None:
    seen: dict[Any, str] = {}
    for kind in kinds.KINDS.values():
        for op in kind.operations:
            assert op not in seen, f"{op.__name__}: {seen[op]} and {kind.name}"
            seen[op] = kind.name
