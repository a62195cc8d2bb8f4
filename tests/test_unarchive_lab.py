"""unarchive on a real lab host: `orc plan` shows what the archive would write and touches
nothing, `orc apply` writes each member (bytes, modes with setuid, owners the host knows and one
it does not, a symbolic link) through journaled operations, a second apply is ok, and
`orc rollback` removes what the archive created and puts back the file it overwrote."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from orchestrator.lab import Lab
from tests.support.books import orc, tasks, work_on
from tests.support.orc import run_orc

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ARCHIVE = (Path(__file__).parent / "conformance" / "cases" / "modules-unarchive" / "files"
           / "tool-1.2.tar.gz")
DEST = "/srv/orc-unarchive"
PLAYBOOK = f"""\
- hosts: all
  gather_facts: false
  tasks:
    - name: the tool
      unarchive:
        src: tool-1.2.tar.gz
        dest: {DEST}
        list_files: true
      register: tool
    - name: what it listed
      copy: {{dest: /srv/orc-unarchive-listed, content: "{{{{ tool.files | join(',') }}}}"}}
"""


@pytest.fixture(scope="module")
def work(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("unarchive")
    (path / "files").mkdir()
    shutil.copy(ARCHIVE, path / "files" / ARCHIVE.name)
    return work_on(lab, lab_inventory, path, site_yaml=PLAYBOOK)


# path under DEST -> `stat -c '%F %a %u:%g'`, and a file's bytes or a link's target
EXTRACTED = {
    "tool-1.2": ("directory 750 0:0", None),
    "tool-1.2/bin": ("directory 755 0:0", None),
    "tool-1.2/bin/tool": ("regular file 4755 0:0", "#!/bin/sh\necho tool\n"),
    "tool-1.2/bin/tool-again": ("regular file 4755 0:0", "#!/bin/sh\necho tool\n"),
    "tool-1.2/share/doc": ("directory 755 0:0", None),
    "tool-1.2/share/doc/README": ("regular file 600 65534:65534", "read me\n"),
    "tool-1.2/data.bin": ("regular file 640 4242:4343", None),
    "tool-1.2/current": ("symbolic link 777 0:0", "bin/tool"),
    "tool-1.2/etc": ("directory 700 1:1", None),
    "tool-1.2/etc/tool.conf": ("regular file 640 1:1", "level = 2\n"),
}


def state(ssh, name: str, path: str) -> tuple[str, str | None]:
    full = f"{DEST}/{path}"
    proc = ssh(name, f"stat -c '%F %a %u:%g' {full} 2>/dev/null || echo absent")
    kind = proc.stdout.strip()
    if kind.startswith("regular"):
        data = base64.b64decode(ssh(name, f"base64 -w0 {full}").stdout)
        return kind, data.decode("utf-8", "backslashreplace")
    if kind.startswith("symbolic"):
        return kind, ssh(name, f"readlink {full}").stdout.strip()
    return kind, None


def test_extracted_by_journaled_operations_and_rolled_back(work, ssh) -> None:
    name = work["name"]
    before = (f"rm -rf {DEST} /srv/orc-unarchive-listed && mkdir -p {DEST}/tool-1.2/etc && "
              f"printf 'old\\n' > {DEST}/tool-1.2/etc/tool.conf && "
              f"chmod 600 {DEST}/tool-1.2/etc/tool.conf")
    assert ssh(name, before).returncode == 0

    code, plan = orc(work, "plan")
    assert code == 2, plan
    planned = tasks(plan, name)[0]
    assert planned["status"] == "changed"
    assert "-old\n+level = 2\n" in planned["diff"], planned
    assert f"+++ {name}:{DEST}/tool-1.2/bin/tool" in planned["diff"]
    assert state(ssh, name, "tool-1.2/etc/tool.conf") == ("regular file 600 0:0", "old\n")
    assert state(ssh, name, "tool-1.2/bin")[0] == "absent"

    code, applied = orc(work, "apply")
    assert code == 0, applied
    assert [t["status"] for t in tasks(applied, name)] == ["changed", "changed"]
    for path, (kind, content) in EXTRACTED.items():
        found = state(ssh, name, path)
        assert found[0] == kind and (content is None or found[1] == content), (path, found)
    data = ssh(name, f"od -An -v -tu1 {DEST}/tool-1.2/data.bin").stdout.split()
    assert [int(b) for b in data] == list(range(256))
    mtime = ssh(name, f"stat -c %Y {DEST}/tool-1.2/etc/tool.conf").stdout.strip()
    assert mtime == "1700000000"
    assert ssh(name, "cat /srv/orc-unarchive-listed").stdout == ",".join([
        "tool-1.2/", "tool-1.2/bin/tool", "tool-1.2/share/doc/README", "tool-1.2/data.bin",
        "tool-1.2/current", "tool-1.2/bin/tool-again", "tool-1.2/etc/",
        "tool-1.2/etc/tool.conf"])

    code, again = orc(work, "apply")
    assert code == 0 and [t["status"] for t in tasks(again, name)] == ["ok", "ok"], again

    proc = run_orc("rollback", applied["run_id"], "--ci", "--state-dir", str(work["state"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert state(ssh, name, "tool-1.2/etc/tool.conf") == ("regular file 600 0:0", "old\n")
    assert state(ssh, name, "tool-1.2")[0] == "directory 755 0:0"
    assert state(ssh, name, "tool-1.2/etc")[0] == "directory 755 0:0"
    for path in ("tool-1.2/bin", "tool-1.2/share", "tool-1.2/data.bin", "tool-1.2/current"):
        assert state(ssh, name, path)[0] == "absent", path
    assert ssh(name, "test -e /srv/orc-unarchive-listed").returncode != 0
