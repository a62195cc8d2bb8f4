"""uri with `dest` on a real lab host: `orc plan` skips it and sends nothing (Ansible's uri does
not support check mode), `orc apply` writes the body through a journaled files.put and reports
changed as Ansible does (a task's `check_mode: true` skips it), and `orc rollback` puts back
the file it overwrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.lab import Lab
from tests.support.books import orc, tasks, work_on
from tests.support.orc import run_orc

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: download
      uri:
        url: http://127.0.0.1:8091/page.json
        dest: /srv/orc-uri/copy.json
        method: POST
        body: '{"k": 1}'
        body_format: json
        status_code: [200, 501]
      register: got
    - name: check_mode true, as Ansible skips what does not support it
      uri: {url: "http://127.0.0.1:8091/page.json", dest: /srv/orc-uri/checked.json}
      check_mode: true
    - name: what it registered
      copy:
        dest: /srv/orc-uri/registered
        content: "{{ got.status | default('-') }} {{ got.path | default('-') }}\\n"
"""


@pytest.fixture(scope="module")
def work(lab: Lab, lab_inventory: Path, tmp_path_factory: pytest.TempPathFactory):
    return work_on(lab, lab_inventory, tmp_path_factory.mktemp("uri"), site_yaml=PLAYBOOK)


def test_dest_written_by_a_journaled_put_and_rolled_back(work, ssh) -> None:
    name = work["name"]
    # a server that logs each request it gets: http.server answers POST with 501
    setup = ("systemctl stop orc-uri-lab 2>/dev/null; rm -rf /srv/orc-uri /srv/www-orc-uri && "
             "mkdir -p /srv/orc-uri /srv/www-orc-uri && printf 'old\\n' > /srv/orc-uri/copy.json && "
             "chmod 640 /srv/orc-uri/copy.json && "
             "systemd-run --unit orc-uri-lab python3 -m http.server 8091 --bind 127.0.0.1 "
             "--directory /srv/www-orc-uri && "
             "for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/8091) 2>/dev/null && break; "
             "sleep 0.1; done")
    assert ssh(name, setup).returncode == 0
    try:
        code, plan = orc(work, "plan")
        assert code in (0, 2), plan
        assert tasks(plan, name)[0]["status"] == "skipped", plan
        assert "POST" not in ssh(name, "journalctl -u orc-uri-lab -q --no-pager").stdout
        assert ssh(name, "cat /srv/orc-uri/copy.json").stdout == "old\n"

        code, applied = orc(work, "apply")
        assert code == 0, applied
        assert [t["status"] for t in tasks(applied, name)] == ["changed", "skipped",
                                                                 "changed"]
        assert ssh(name, "test -e /srv/orc-uri/checked.json").returncode != 0
        body = ssh(name, "cat /srv/orc-uri/copy.json").stdout
        assert "501" in body and body != "old\n"
        assert ssh(name, "stat -c %a /srv/orc-uri/copy.json").stdout.strip() == "640"
        assert ssh(name, "cat /srv/orc-uri/registered").stdout == \
            "501 /srv/orc-uri/copy.json\n"

        proc = run_orc("show", applied["run_id"], "--state-dir", str(work["state"]), "--json")
        assert "/srv/orc-uri/copy.json" in proc.stdout, proc.stdout + proc.stderr

        proc = run_orc("rollback", applied["run_id"], "--ci", "--state-dir",
                       str(work["state"]))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert ssh(name, "cat /srv/orc-uri/copy.json").stdout == "old\n"
        assert ssh(name, "stat -c %a /srv/orc-uri/copy.json").stdout.strip() == "640"
    finally:
        ssh(name, "systemctl stop orc-uri-lab")
