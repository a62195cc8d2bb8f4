"""community.general.pamd as a pure edit (orchestrator/modules/pamd.py), table-driven, bytes in
and bytes out, with the task-level checks (module lookup by full name, argument errors).

The rows follow community.general.pamd's documented behaviour (its EXAMPLES and option texts):
rules match on type, control and module path; `updated` replaces what `new_*` and
`module_arguments` give; `before`/`after` insert once; `args_present`/`args_absent` edit the
argument words; `absent` removes the rule. Every row is also run through community.general's
pamd by ansible-playbook (connection local): orc leaves the same bytes, but for the
"# Updated by Ansible - <time>" line it adds on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator import modules
from orchestrator.errors import InputError
from orchestrator.modules.edits import EditError
from orchestrator.modules.pamd import Pamd, pamd
from tests.support.ansible_local import run_local

SSHD = (b"# PAM configuration for the Secure Shell service\n"
        b"@include common-auth\n"
        b"account    required     pam_nologin.so\n"
        b"session [success=ok ignore=ignore module_unknown=ignore default=bad]"
        b"        pam_selinux.so close\n"
        b"session    optional     pam_motd.so  motd=/run/motd.dynamic\n"
        b"session    optional     pam_motd.so noupdate\n"
        b"session    optional     pam_mail.so standard noenv # [1]\n")

AUTH = (b"auth\trequired\tpam_env.so\n"
        b"auth\trequired\tpam_faillock.so preauth silent deny=5\n"
        b"auth\tsufficient\tpam_unix.so try_first_pass\n")

# (id, arguments, bytes before, bytes after: what community.general.pamd leaves, checked below)
ROWS = [
    ('absent-removes-every-match',
     dict(type='session', control='optional', module_path='pam_motd.so', state='absent'),
     SSHD,
     b'# PAM configuration for the Secure Shell service\n'
     b'@include common-auth\n'
     b'account    required pam_nologin.so\n'
     b'session    [success=ok ignore=ignore module_unknown=ignore default=bad] '
     b'pam_selinux.so close\n'
     b'session    optional pam_mail.so standard noenv # [1]\n'),
    ('absent-again-unchanged',
     dict(type='session', control='optional', module_path='pam_motd.so', state='absent'),
     b'# none\n'
     b'account required pam_nologin.so\n',
     b'# none\n'
     b'account required pam_nologin.so\n'),
    ('bracketed-control-spaced-otherwise-does-not-match',
     dict(type='session',
          control='[success=ok  ignore=ignore module_unknown=ignore default=bad]',
          module_path='pam_selinux.so', state='absent'),
     SSHD,
     SSHD),
    ('absent-needs-the-control-to-match',
     dict(type='session', control='required', module_path='pam_motd.so', state='absent'),
     SSHD,
     SSHD),
    ('bracketed-control-matches-as-written',
     dict(type='session',
          control='[success=ok ignore=ignore module_unknown=ignore default=bad]',
          module_path='pam_selinux.so', state='absent'),
     SSHD,
     b'# PAM configuration for the Secure Shell service\n'
     b'@include common-auth\n'
     b'account    required pam_nologin.so\n'
     b'session    optional pam_motd.so motd=/run/motd.dynamic\n'
     b'session    optional pam_motd.so noupdate\n'
     b'session    optional pam_mail.so standard noenv # [1]\n'),
    ('updated-new-control',
     dict(type='auth', control='required', module_path='pam_faillock.so',
          new_control='sufficient'),
     AUTH,
     b'auth       required pam_env.so\n'
     b'auth       sufficient pam_faillock.so preauth silent deny=5\n'
     b'auth       sufficient pam_unix.so try_first_pass\n'),
    ('updated-replaces-arguments',
     dict(type='auth', control='required', module_path='pam_faillock.so',
          module_arguments=['preauth silent deny=3 unlock_time=604800']),
     AUTH,
     b'auth       required pam_env.so\n'
     b'auth       required pam_faillock.so preauth silent deny=3 unlock_time=604800\n'
     b'auth       sufficient pam_unix.so try_first_pass\n'),
    ('updated-empty-arguments-removes-them',
     dict(type='auth', control='required', module_path='pam_faillock.so', module_arguments=['']),
     AUTH,
     b'auth       required pam_env.so\n'
     b'auth       required pam_faillock.so\n'
     b'auth       sufficient pam_unix.so try_first_pass\n'),
    ('updated-same-values-unchanged',
     dict(type='auth', control='required', module_path='pam_faillock.so', new_control='required',
          module_arguments=['preauth', 'silent', 'deny=5']),
     AUTH,
     AUTH),
    ('before-inserts',
     dict(type='auth', control='required', module_path='pam_faillock.so', state='before',
          new_type='auth', new_control='sufficient', new_module_path='pam_rootok.so'),
     AUTH,
     b'auth       required pam_env.so\n'
     b'auth       sufficient pam_rootok.so\n'
     b'auth       required pam_faillock.so preauth silent deny=5\n'
     b'auth       sufficient pam_unix.so try_first_pass\n'),
    ('before-already-there',
     dict(type='auth', control='required', module_path='pam_faillock.so', state='before',
          new_type='auth', new_control='required', new_module_path='pam_env.so'),
     AUTH,
     AUTH),
    ('after-inserts-with-arguments',
     dict(type='auth', control='sufficient', module_path='pam_unix.so', state='after',
          new_type='auth', new_control='required', new_module_path='pam_wheel.so',
          module_arguments=['use_uid']),
     AUTH,
     b'auth       required pam_env.so\n'
     b'auth       required pam_faillock.so preauth silent deny=5\n'
     b'auth       sufficient pam_unix.so try_first_pass\n'
     b'auth       required pam_wheel.so use_uid\n'),
    ('after-last-line-without-newline',
     dict(type='auth', control='sufficient', module_path='pam_unix.so', state='after',
          new_type='auth', new_control='required', new_module_path='pam_wheel.so'),
     b'auth\trequired\tpam_env.so\n'
     b'auth\trequired\tpam_faillock.so preauth silent deny=5\n'
     b'auth\tsufficient\tpam_unix.so try_first_pass',
     b'auth       required pam_env.so\n'
     b'auth       required pam_faillock.so preauth silent deny=5\n'
     b'auth       sufficient pam_unix.so try_first_pass\n'
     b'auth       required pam_wheel.so\n'),
    ('after-already-there',
     dict(type='auth', control='required', module_path='pam_env.so', state='after',
          new_type='auth', new_control='required', new_module_path='pam_faillock.so'),
     AUTH,
     AUTH),
    ('args-present-adds-and-updates-values',
     dict(type='auth', control='required', module_path='pam_faillock.so', state='args_present',
          module_arguments=['deny=3', 'audit', 'silent']),
     AUTH,
     b'auth       required pam_env.so\n'
     b'auth       required pam_faillock.so preauth silent deny=3 audit\n'
     b'auth       sufficient pam_unix.so try_first_pass\n'),
    ('args-present-already-unchanged',
     dict(type='auth', control='required', module_path='pam_faillock.so', state='args_present',
          module_arguments=['deny=5', 'silent']),
     AUTH,
     AUTH),
    ('args-absent-removes-words-as-written',
     dict(type='auth', control='required', module_path='pam_faillock.so', state='args_absent',
          module_arguments=['silent', 'deny=5']),
     AUTH,
     b'auth       required pam_env.so\n'
     b'auth       required pam_faillock.so preauth\n'
     b'auth       sufficient pam_unix.so try_first_pass\n'),
    ('args-absent-none-there-unchanged',
     dict(type='auth', control='required', module_path='pam_faillock.so', state='args_absent',
          module_arguments=['nullok']),
     AUTH,
     AUTH),
    ('dash-type-and-crlf-file',
     dict(type='-session', control='optional', module_path='pam_systemd.so',
          new_control='required'),
     b'# x\r\n'
     b'-session optional pam_systemd.so\r\n'
     b'session required pam_unix.so\r\n',
     b'# x\n'
     b'-session   required pam_systemd.so\n'
     b'session    required pam_unix.so\n'),
    ('comments-and-includes-never-match',
     dict(type='auth', control='required', module_path='pam_env.so', state='absent'),
     b'# auth required pam_env.so\n'
     b'@include common-auth\n',
     b'# auth required pam_env.so\n'
     b'@include common-auth\n'),
]


@pytest.mark.parametrize("args, before, after", [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_pamd_rows(args, before, after):
    assert pamd(before, Pamd(**args), "/etc/pam.d/x") == after
    # a second run leaves what the first made (idempotent)
    assert pamd(after, Pamd(**args), "/etc/pam.d/x") == after


_STAMP = re.compile(rb"^# Updated by Ansible - [0-9T:.-]+\n", re.M)


def test_pamd_rows_leave_what_ansibles_pamd_leaves(tmp_path: Path) -> None:
    """Each row's file through community.general.pamd (ansible-playbook, connection local)."""
    tasks = []
    for number, (_, args, before, _) in enumerate(ROWS):
        folder = tmp_path / f"row{number}"
        folder.mkdir()
        (folder / "svc").write_bytes(before)
        tasks.append({"community.general.pamd": {"name": "svc", "path": str(folder),
                                                 **args}})
    done = run_local(tmp_path / "play", tasks)
    assert done.returncode == 0, done.stdout[-3000:]
    for number, (name, args, before, after) in enumerate(ROWS):
        ansible = _STAMP.sub(b"", (tmp_path / f"row{number}" / "svc").read_bytes())
        assert pamd(before, Pamd(**args), "/etc/pam.d/x") == ansible, name


@pytest.mark.parametrize("args, message", [
    (dict(type="auth", control="required", module_path="m.so", state="before",
          new_type="auth"), "needs new_control, new_module_path"),
    (dict(type="auth", control="required", module_path="m.so", new_control="sometimes"),
     "not one of required"),
    (dict(type="auth", control="required", module_path="m.so",
          new_control="[success=jump]"), "not a PAM action"),
    (dict(type="auth", control="required", module_path="m.so",
          new_control="[sucess=1]"), "not a PAM return value"),
    (dict(type="login", control="required", module_path="m.so"), "type='login'"),
    # community.general refuses it too, with these words
    (dict(type="auth", control="required", module_path="pam_env.so", state="args_present",
          module_arguments=["[user_readenv=0 envfile=/x]"]),
     "Unable to process bracketed '[' complex arguments with 'args_present'"),
])
def test_pamd_refuses_bad_arguments(args, message):
    with pytest.raises(EditError, match=message.replace("[", r"\[")):
        pamd(AUTH, Pamd(**args))


def test_pamd_missing_file_fails():
    with pytest.raises(EditError, match="/etc/pam.d/nope does not exist"):
        pamd(None, Pamd("auth", "required", "m.so", state="absent"), "/etc/pam.d/nope")


def test_module_found_by_its_full_name_and_the_short_name_ansible_routes():
    module = modules.lookup("community.general.pamd", {})
    assert module.name == "community.general.pamd"
    assert modules.is_module_key("community.general.pamd")
    assert modules.lookup("pamd", {}) is module  # ansible-core routes `pamd` there too
    with pytest.raises(InputError, match="unknown module 'community.general.pamd2'"):
        modules.lookup("community.general.pamd2", {})


def test_module_arguments_are_checked_at_load():
    module = modules.lookup("community.general.pamd", {})
    args = module.normalise({"name": "sshd", "type": "session", "control": "optional",
                             "module_path": "pam_motd.so", "state": "absent",
                             "module_arguments": "crond,quiet"}, {})
    assert args["module_arguments"] == ["crond", "quiet"]
    assert args["path"] == "/etc/pam.d" and args["backup"] is False
    with pytest.raises(InputError, match="state='args_updated' is not one of"):
        module.normalise({"name": "sshd", "type": "session", "control": "optional",
                          "module_path": "pam_motd.so", "state": "args_updated"}, {})
    with pytest.raises(InputError, match="needs the argument 'module_path'"):
        module.normalise({"name": "sshd", "type": "session", "control": "optional"}, {})
