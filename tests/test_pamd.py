"""community.general.pamd as a pure edit (orchestrator/modules/pamd.py), table-driven, bytes in
and bytes out, with the task-level checks (module lookup by full name, argument errors).

The rows follow community.general.pamd's documented behaviour (its EXAMPLES and option texts):
rules match on type, control and module path; `updated` replaces what `new_*` and
`module_arguments` give; `before`/`after` insert once; `args_present`/`args_absent` edit the
argument words; `absent` removes the rule. Lines that do not change keep their bytes.
"""

from __future__ import annotations

import pytest

from orchestrator import modules
from orchestrator.errors import InputError
from orchestrator.modules.edits import EditError
from orchestrator.modules.pamd import Pamd, pamd

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

# (id, arguments, bytes before, bytes after)
ROWS = [
    ("absent-removes-every-match",
     dict(type="session", control="optional", module_path="pam_motd.so", state="absent"),
     SSHD,
     SSHD.replace(b"session    optional     pam_motd.so  motd=/run/motd.dynamic\n", b"")
         .replace(b"session    optional     pam_motd.so noupdate\n", b"")),
    ("absent-again-unchanged",
     dict(type="session", control="optional", module_path="pam_motd.so", state="absent"),
     b"# none\naccount required pam_nologin.so\n",
     b"# none\naccount required pam_nologin.so\n"),
    ("absent-needs-the-control-to-match",
     dict(type="session", control="required", module_path="pam_motd.so", state="absent"),
     SSHD, SSHD),
    ("bracketed-control-matches-whatever-its-spacing",
     dict(type="session", control="[success=ok  ignore=ignore module_unknown=ignore "
                                   "default = bad]",
          module_path="pam_selinux.so", state="absent"),
     SSHD,
     SSHD.replace(b"session [success=ok ignore=ignore module_unknown=ignore default=bad]"
                  b"        pam_selinux.so close\n", b"")),
    ("updated-new-control",
     dict(type="auth", control="required", module_path="pam_faillock.so",
          new_control="sufficient"),
     AUTH,
     AUTH.replace(b"auth\trequired\tpam_faillock.so preauth silent deny=5\n",
                  b"auth       sufficient pam_faillock.so preauth silent deny=5\n")),
    ("updated-replaces-arguments",
     dict(type="auth", control="required", module_path="pam_faillock.so",
          module_arguments=["preauth silent deny=3 unlock_time=604800"]),
     AUTH,
     AUTH.replace(b"auth\trequired\tpam_faillock.so preauth silent deny=5\n",
                  b"auth       required pam_faillock.so preauth silent deny=3 "
                  b"unlock_time=604800\n")),
    ("updated-empty-arguments-removes-them",
     dict(type="auth", control="required", module_path="pam_faillock.so",
          module_arguments=[""]),
     AUTH,
     AUTH.replace(b"auth\trequired\tpam_faillock.so preauth silent deny=5\n",
                  b"auth       required pam_faillock.so\n")),
    ("updated-same-values-unchanged",
     dict(type="auth", control="required", module_path="pam_faillock.so",
          new_control="required", module_arguments=["preauth", "silent", "deny=5"]),
     AUTH, AUTH),
    ("before-inserts",
     dict(type="auth", control="required", module_path="pam_faillock.so", state="before",
          new_type="auth", new_control="sufficient", new_module_path="pam_rootok.so"),
     AUTH,
     AUTH.replace(b"auth\trequired\tpam_faillock.so",
                  b"auth       sufficient pam_rootok.so\nauth\trequired\tpam_faillock.so")),
    ("before-already-there",
     dict(type="auth", control="required", module_path="pam_faillock.so", state="before",
          new_type="auth", new_control="required", new_module_path="pam_env.so"),
     AUTH, AUTH),
    ("after-inserts-with-arguments",
     dict(type="auth", control="sufficient", module_path="pam_unix.so", state="after",
          new_type="auth", new_control="required", new_module_path="pam_wheel.so",
          module_arguments=["use_uid"]),
     AUTH,
     AUTH + b"auth       required pam_wheel.so use_uid\n"),
    ("after-last-line-without-newline",
     dict(type="auth", control="sufficient", module_path="pam_unix.so", state="after",
          new_type="auth", new_control="required", new_module_path="pam_wheel.so"),
     AUTH.rstrip(b"\n"),
     AUTH + b"auth       required pam_wheel.so\n"),
    ("after-already-there",
     dict(type="auth", control="required", module_path="pam_env.so", state="after",
          new_type="auth", new_control="required", new_module_path="pam_faillock.so"),
     AUTH, AUTH),
    ("args-present-adds-and-updates-values",
     dict(type="auth", control="required", module_path="pam_faillock.so",
          state="args_present", module_arguments=["deny=3", "audit", "silent"]),
     AUTH,
     AUTH.replace(b"auth\trequired\tpam_faillock.so preauth silent deny=5\n",
                  b"auth       required pam_faillock.so preauth silent deny=3 audit\n")),
    ("args-present-already-unchanged",
     dict(type="auth", control="required", module_path="pam_faillock.so",
          state="args_present", module_arguments=["deny=5", "silent"]),
     AUTH, AUTH),
    ("args-present-bracketed-argument",
     dict(type="auth", control="required", module_path="pam_env.so",
          state="args_present", module_arguments=["[user_readenv=0 envfile=/x]"]),
     AUTH,
     AUTH.replace(b"auth\trequired\tpam_env.so\n",
                  b"auth       required pam_env.so [user_readenv=0 envfile=/x]\n")),
    ("args-absent-removes-words-and-keys",
     dict(type="auth", control="required", module_path="pam_faillock.so",
          state="args_absent", module_arguments=["silent", "deny"]),
     AUTH,
     AUTH.replace(b"auth\trequired\tpam_faillock.so preauth silent deny=5\n",
                  b"auth       required pam_faillock.so preauth\n")),
    ("args-absent-none-there-unchanged",
     dict(type="auth", control="required", module_path="pam_faillock.so",
          state="args_absent", module_arguments=["nullok"]),
     AUTH, AUTH),
    ("dash-type-and-crlf-kept",
     dict(type="-session", control="optional", module_path="pam_systemd.so",
          new_control="required"),
     b"# x\r\n-session optional pam_systemd.so\r\nsession required pam_unix.so\r\n",
     b"# x\r\n-session   required pam_systemd.so\r\nsession required pam_unix.so\r\n"),
    ("comments-and-includes-never-match",
     dict(type="auth", control="required", module_path="pam_env.so", state="absent"),
     b"# auth required pam_env.so\n@include common-auth\n",
     b"# auth required pam_env.so\n@include common-auth\n"),
]


@pytest.mark.parametrize("args, before, after", [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_pamd_rows(args, before, after):
    assert pamd(before, Pamd(**args), "/etc/pam.d/x") == after
    # a second run leaves what the first made (idempotent)
    assert pamd(after, Pamd(**args), "/etc/pam.d/x") == after


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
