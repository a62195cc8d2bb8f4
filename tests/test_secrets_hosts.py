"""Secrets on real hosts over SSH: each host remembers the versions it got, so a controller with
no state of its own (a CI runner on a fresh clone) cannot deploy an older signed file."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from orchestrator.secrets import masking
from orchestrator.secrets.replay import HOST_RECORD
from tests.support.orc import ORC, REPO, run_orc

pytestmark = pytest.mark.lab

BOOK = """\
- hosts: all
  vars_files: [secrets/lab.yaml]
  tasks:
    - copy: {content: "{{ marker }}", dest: /tmp/orc-replay-marker, mode: "0644"}
    - copy: {content: "{{ secrets.app.token }}", dest: /tmp/orc-replay-token, mode: "0600"}
"""


@pytest.fixture(scope="module", autouse=True)
def _example_estate(example_estate_env):
    """The clones decrypt with the published example key."""


def _clone(base: Path) -> Path:
    """What a CI runner checks out: the repository's secrets and a playbook, no `.orc/`."""
    root = base / "clone"
    shutil.copytree(REPO / "secrets", root / "secrets")
    shutil.copy(REPO / ".sops.yaml", root / ".sops.yaml")
    (root / ".git").mkdir()
    (root / "book.yaml").write_text(BOOK)
    return root


def _apply(clone: Path, inventory: Path, host: str, marker: str, *extra: str):
    return run_orc("apply", str(clone / "book.yaml"), "-i", str(inventory), "--limit", host,
                   "--yes", "--ci", "-e", f"marker={marker}",
                   "--state-dir", str(clone / ".orc"), *extra)


def test_a_fresh_clone_cannot_deploy_an_older_signed_secret(lab: Lab, lab_inventory: Path,
                                                             tmp_path: Path, ssh) -> None:
    host = lab.hosts[1].name
    old = _clone(tmp_path / "old")
    new = _clone(tmp_path / "new")
    env = {**os.environ, "ORC_SIGNING_KEY_FILE": str(REPO / "secrets/example-keys/signing.key")}
    rotated = subprocess.run([ORC, "secrets", "rotate", "secrets/lab.yaml"], cwd=new, env=env,
                             capture_output=True, text=True, timeout=60)
    assert rotated.returncode == 0, rotated.stderr
    old_version = int((old / "secrets/lab.yaml.sig").read_text().split("version: ")[1].split()[0])
    assert f"version {old_version + 1}" in rotated.stderr
    shutil.rmtree(new / ".orc", ignore_errors=True)  # a CI runner keeps nothing between runs

    deployed = _apply(new, lab_inventory, host, "new")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    record = ssh(host, f"stat -c '%a %U' {HOST_RECORD} && cat {HOST_RECORD}").stdout.split("\n")
    assert record[0] == "600 root"
    assert json.loads(record[1]) == {"secrets/lab.yaml": old_version + 1,
                                     "secrets/signers.yaml": 1}

    # the older, validly signed file from another fresh clone: refused by the host's record
    assert not (old / ".orc").exists()
    for command in ("plan", "apply"):
        args = ("--yes", "--state-dir", str(old / ".orc")) if command == "apply" else ()
        replayed = run_orc(command, str(old / "book.yaml"), "-i", str(lab_inventory), "--limit",
                           host, "-e", "marker=old", *args)
        assert replayed.returncode == 1, replayed.stdout + replayed.stderr
        assert replayed.stderr.strip() == (
            f"error: secrets/lab.yaml: version {old_version} is older than version "
            f"{old_version + 1} already deployed to {host} (a replayed file?); refused unless "
            "--allow-downgrade")
    assert ssh(host, "cat /tmp/orc-replay-marker").stdout == "new"  # nothing ran

    # an operator who means it; this also leaves the lab at the repository's version
    allowed = _apply(old, lab_inventory, host, "old", "--allow-downgrade")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert ssh(host, "cat /tmp/orc-replay-marker").stdout == "old"
    assert json.loads(ssh(host, f"cat {HOST_RECORD}").stdout)["secrets/lab.yaml"] == old_version


# secrets/lab.yaml's values, and what templates make of them
PASSWORD = "VslEjkxgU15XNnnuRC0kzN7k"
TOKEN = "61d7c1bb1570085251698bf5dec96147d639dcbb"
DERIVED = {
    "b64encode": base64.b64encode(PASSWORD.encode()).decode(),
    "upper": PASSWORD.upper(),
    "[:20]": PASSWORD[:20],
    "dsn": f"postgres://app:{PASSWORD}@db/app",
    "dsn | upper": f"postgres://app:{PASSWORD}@db/app".upper(),
    "[:7] in a template file": f"short = {PASSWORD[:7]}",
    "loop in a template file": f"char = {PASSWORD[0]}",
}
LEAKY = """\
- hosts: all
  vars_files: [secrets/lab.yaml]
  vars:
    dsn: "postgres://app:{{ secrets.db.password }}@db/app"
  tasks:
    - name: store the password
      shell: "echo {{ secrets.db.password | b64encode }} {{ secrets.db.password | upper }}; exit 3"
      ignore_errors: true
    - copy: {content: "pw={{ secrets.db.password[:20] }}\\n", dest: /tmp/orc-leak-copy, mode: "0600"}
    - template: {src: leak.j2, dest: /tmp/orc-leak-template, mode: "0600"}
    - name: quiet
      shell: "echo {{ dsn | upper }} >&2; exit 4"
      no_log: true
      ignore_errors: true
"""
TEMPLATE = """\
# rendered by orc
port = 5432
dsn = {{ dsn }}
short = {{ secrets.db.password[:7] }}
{% for c in secrets.db.password[:1] %}
char = {{ c }}
{% endfor %}
"""
QUIET_PLAY = """\
- hosts: all
  no_log: true
  vars_files: [secrets/lab.yaml]
  tasks:
    - name: hidden by the play
      shell: "echo {{ secrets.db.password | upper }} >&2; exit 5"
      ignore_errors: true
    - name: shown by its own no_log
      shell: "echo visible-output >&2; exit 6"
      no_log: false
      ignore_errors: true
"""
FAILING = """\
- hosts: all
  vars_files: [secrets/lab.yaml]
  tasks:
    - copy: {content: "{{ {}[secrets.app.token] }}", dest: /tmp/orc-leak-never}
"""


def _leaks(text: str) -> list[str]:
    found = [name for name, value in DERIVED.items() if value in text]
    return found + [s for s in (PASSWORD, TOKEN) if s in text]


def test_no_secret_nor_anything_rendered_from_one_reaches_any_output(
    lab: Lab, lab_inventory: Path, tmp_path: Path, ssh,
) -> None:
    """Before: plan -v showed `pw=<password[:20]>` in a diff, `orc show --json` and .orc/orc.db
    held the b64 and upper-cased password in a command line, a failed render printed the
    token (also with --debug), and .orc/ was 0755 with 0644 files."""
    host = lab.hosts[2].name
    clone = _clone(tmp_path)
    (clone / "leaky.yaml").write_text(LEAKY)
    (clone / "templates").mkdir()
    (clone / "templates" / "leak.j2").write_text(TEMPLATE)
    (clone / "failing.yaml").write_text(FAILING)
    ssh(host, "rm -f /tmp/orc-leak-*")
    state = tmp_path / "state"
    common = ("-i", str(lab_inventory), "--limit", host)

    plan = run_orc("plan", str(clone / "leaky.yaml"), *common, "-v")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "+port = 5432" in plan.stdout, plan.stdout  # what does not come from a secret stays readable
    assert "+********" in plan.stdout
    apply = run_orc("apply", str(clone / "leaky.yaml"), *common, "--yes", "--ci", "-v",
                    "--state-dir", str(state), "--json", str(tmp_path / "report.json"),
                    "--junit", str(tmp_path / "report.xml"))
    assert apply.returncode == 0, apply.stdout + apply.stderr
    # the host got the real values
    assert ssh(host, "cat /tmp/orc-leak-copy").stdout == f"pw={PASSWORD[:20]}\n"
    assert f"short = {PASSWORD[:7]}" in ssh(host, "cat /tmp/orc-leak-template").stdout

    report = json.loads((tmp_path / "report.json").read_text())
    run_id = report["run_id"]
    show = run_orc("show", run_id, "--json", "--state-dir", str(state))
    assert show.returncode == 0, show.stderr
    quiet = [t for w in report["waves"] for h in w["apply"]["hosts"].values()
             for t in h["tasks"] if t["name"] == "quiet"]
    assert [t["error"] for t in quiet] == [
        "the output has been hidden due to the fact that 'no_log: true' was "
        "specified for this result"]

    (clone / "quiet.yaml").write_text(QUIET_PLAY)
    quiet_play = run_orc("apply", str(clone / "quiet.yaml"), *common, "--yes", "--ci",
                         "--state-dir", str(state), "--json", str(tmp_path / "quiet.json"))
    assert quiet_play.returncode == 0, quiet_play.stdout + quiet_play.stderr
    errors = {t["name"]: t["error"] for w in json.loads((tmp_path / "quiet.json").read_text())[
        "waves"] for h in w["apply"]["hosts"].values() for t in h["tasks"]}
    assert errors == {"hidden by the play": masking.NO_LOG,
                      "shown by its own no_log": "ignored: visible-output"}

    failed = run_orc("apply", str(clone / "failing.yaml"), *common, "--yes", "--ci",
                     "--state-dir", str(state))
    assert failed.returncode == 1
    assert failed.stderr.strip() == ("error: " + str(clone / "failing.yaml") + ":4: undefined "
                                     "variable: 'dict object' has no attribute '********'")
    debug = run_orc("--debug", "apply", str(clone / "failing.yaml"), *common, "--yes", "--ci",
                    "--state-dir", str(state))
    assert debug.returncode == 1 and "Traceback" in debug.stderr

    outputs = {
        "plan -v": plan.stdout + plan.stderr,
        "apply -v": apply.stdout + apply.stderr,
        "--json": (tmp_path / "report.json").read_text(),
        "--junit": (tmp_path / "report.xml").read_text(),
        "show --json": show.stdout,
        "failed render": failed.stdout + failed.stderr,
        "--debug": debug.stdout + debug.stderr,
        "no_log play": quiet_play.stdout + (tmp_path / "quiet.json").read_text(),
    }
    for path in state.rglob("*"):  # the index, deployed versions, the fact reads kept
        if path.is_dir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
            continue
        outputs[f".orc/{path.relative_to(state)}"] = path.read_bytes().decode("latin-1")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert any(name.startswith(".orc/facts/") for name in outputs)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert {name: _leaks(text) for name, text in outputs.items() if _leaks(text)} == {}


def test_purge_journals_removes_old_copies_but_not_the_locked_run(lab: Lab, lab_inventory: Path,
                                                                   ssh) -> None:
    host = lab.hosts[0].name
    runs = "/var/lib/orc/runs"
    setup = (f"mkdir -p {runs}/20000101-000000-aaaaaa/b/files {runs}/20000102-000000-bbbbbb "
             f"{runs}/20000103-000000-cccccc && echo old-secret > "
             f"{runs}/20000101-000000-aaaaaa/b/files/0 && "
             f"cp -p /var/lib/orc/rollout.lock /tmp/orc-lock-saved 2>/dev/null; "
             f"printf %s 20000101-000000-aaaaaa > /var/lib/orc/rollout.lock")
    assert ssh(host, setup).returncode == 0
    try:
        before = set(ssh(host, f"ls -1 {runs}").stdout.split())
        kept = run_orc("secrets", "purge-journals", host, "-i", str(lab_inventory), "--keep", "1")
        assert kept.returncode == 0, kept.stdout + kept.stderr
        left = set(ssh(host, f"ls -1 {runs}").stdout.split())
        newest = max(before - {"20000101-000000-aaaaaa"})
        assert left == {"20000101-000000-aaaaaa", newest}  # the lock holder and the newest
        assert kept.stdout.strip() == f"{host}: 2 run journal(s) left"
        ssh(host, "rm -f /var/lib/orc/rollout.lock")
        purged = run_orc("secrets", "purge-journals", host, "-i", str(lab_inventory))
        assert purged.stdout.strip() == f"{host}: 0 run journal(s) left"
        assert ssh(host, f"ls -A {runs}").stdout == ""
    finally:
        ssh(host, "rm -f /var/lib/orc/rollout.lock; "
                  "[ -e /tmp/orc-lock-saved ] && mv /tmp/orc-lock-saved /var/lib/orc/rollout.lock")
