"""apt_repository's file names and deb822_repository's bytes as ansible-core 2.19 writes them
(the lab's tests/conformance/cases/apt-* compare them on hosts), and what each apt, systemd
and repository task becomes and the journal records."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyinfra.operations import apt, systemd

from orchestrator.undo import kinds
from orchestrator.errors import InputError
from orchestrator.load.playbook import load_playbook
from orchestrator.modules import aptget, repositories
from orchestrator.modules.base import HostContext


@pytest.mark.parametrize(("repo", "name"), [
    ("deb [arch=amd64 signed-by=/k.gpg] https://user:pw@example.invalid/debian/ bookworm main",
     "example_invalid_debian"),
    ("deb http://dl.google.com/linux/chrome/deb/ stable main", "dl_google_com_linux_chrome_deb"),
    ("deb-src file:/srv/repo ./", "file_srv_repo"),
])
def test_a_list_file_is_named_from_the_address(repo: str, name: str) -> None:
    assert repositories.list_filename(repo) == name


def test_deb822_fields_in_the_order_of_the_options_names() -> None:
    text = repositories.deb822_text({
        "name": "Example Repo", "types": ["deb", "deb-src"], "uris": ["http://x/debian"],
        "suites": ["bookworm"], "components": ["main"], "enabled": True, "trusted": False,
        "signed_by": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY "
                     "BLOCK-----\n", "date_max_future": 10})
    assert text == ("Components: main\nDate-Max-Future: 10\nEnabled: yes\n"
                    "X-Repolib-Name: Example Repo\nSigned-By:\n"
                    "    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    abc\n"
                    "    -----END PGP PUBLIC KEY BLOCK-----\n"
                    "Suites: bookworm\nTrusted: no\nTypes: deb deb-src\nURIs: http://x/debian\n")


def _tasks(tmp_path: Path, body: str) -> list:
    book = tmp_path / "book.yaml"
    book.write_text("- hosts: all\n  tasks:\n" + body)
    return load_playbook(book).plays[0].tasks


def _calls(task) -> list:
    return task.module.build(task.args, HostContext(host=None, variables={}))


def test_apt_actions_and_daemon_reload_become_their_operations(tmp_path: Path) -> None:
    upgrade, dist, remove, reload_ = _tasks(tmp_path, (
        "    - apt: {upgrade: yes, autoclean: true}\n"
        "    - apt: {upgrade: full, autoremove: true}\n"
        "    - apt: {name: hello, state: absent, autoremove: true}\n"
        "    - systemd_service: {daemon_reload: true}\n"))
    assert [(c.op, c.kwargs) for c in _calls(upgrade)] == [
        (aptget.action, {"action": "upgrade", "extra": "--with-new-pkgs"}),
        (aptget.action, {"action": "autoclean"})]
    assert [c.kwargs["action"] for c in _calls(dist)] == ["dist-upgrade", "autoremove"]
    (call,) = _calls(remove)
    assert call.op is apt.packages and call.kwargs["extra_uninstall_args"] == "--auto-remove"
    assert kinds.resources_of(call.op, call.kwargs) == [kinds.Resource("package", "hello")]
    (call,) = _calls(reload_)
    assert call.op is systemd.daemon_reload


def test_repository_files_are_recorded_by_the_journal(tmp_path: Path) -> None:
    listed, sources = _tasks(tmp_path, (
        "    - apt_repository: {repo: 'deb http://example.invalid/x stable main'}\n"
        "    - deb822_repository: {name: My Repo, uris: 'http://x', suites: stable}\n"))
    paths = [res.key for task in (listed, sources) for call in _calls(task)
             for res in kinds.resources_of(call.op, call.kwargs)]
    assert paths == ["/etc/apt/sources.list.d/example_invalid_x.list",
                     "/etc/apt/sources.list.d/my-repo.sources"]


def test_a_list_line_is_added_once_and_removed_with_its_file(tmp_path: Path) -> None:
    (add,) = _calls(_tasks(tmp_path, "    - apt_repository: {repo: 'deb http://e/x s m'}\n")[0])
    compute = add.kwargs["compute"]
    assert compute(None) == b"deb http://e/x s m\n"
    assert compute(b"deb   http://e/x s m\n") == b"deb   http://e/x s m\n"
    (drop,) = _calls(_tasks(tmp_path, "    - apt_repository: {repo: 'deb http://e/x s m', "
                                      "state: absent}\n")[0])
    assert drop.kwargs["compute"](b"deb http://e/x s m\n") == b""
    assert drop.kwargs["compute"](b"deb http://e/y s m\ndeb http://e/x s m\n") == \
        b"deb http://e/y s m\n"


def test_bad_values_are_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="upgrade='sometimes' is not one of"):
        _tasks(tmp_path, "    - apt: {upgrade: sometimes}\n")
    with pytest.raises(InputError, match="apt_repository needs the argument 'repo'"):
        _tasks(tmp_path, "    - apt_repository: {state: absent}\n")
