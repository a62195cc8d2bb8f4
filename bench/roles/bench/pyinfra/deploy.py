"""The bench role written as a plain pyinfra deploy, for `pyinfra INVENTORY.py deploy.py`.

Each task of ../tasks/main.yaml is the pyinfra operation orc maps it to (orchestrator/modules),
called with the same arguments, in the same order; the handler runs with `_if` on the operations
that notify it. Variables come from ../defaults/main.yaml, templates from ../templates/.
"""

import io
from pathlib import Path

import yaml
from pyinfra import host
from pyinfra.operations import apt, crontab, files, server, systemd
from pyinfra.operations.util import any_changed

ROLE = Path(__file__).resolve().parent.parent
V = yaml.safe_load((ROLE / "defaults" / "main.yaml").read_text())
TEMPLATE_VARS = {**V, "inventory_hostname": host.name}


def template(name: str, src: str, dest: str, **owned):
    # Ansible's (and orc's) template whitespace: the newline after a block tag is dropped
    return files.template(name=name, src=str(ROLE / "templates" / src), dest=dest, **owned,
                          jinja_env_kwargs={"trim_blocks": True}, **TEMPLATE_VARS)


def copy(name: str, src: str, dest: str, mode: str):
    return files.put(name=name, src=str(ROLE / "files" / src), dest=dest, mode=mode)


apt.packages(name="packages", packages=V["bench_packages"], present=True, update=False,
             no_recommends=True)
server.group(name="operators group", group=V["bench_group"], system=True)
server.group(name="service account group", group=V["bench_app_user"], system=True)
server.user(name="service account", user=V["bench_app_user"], group=V["bench_app_user"],
            home=V["bench_root"], shell="/usr/sbin/nologin", system=True, create_home=False,
            comment="bench service")
for operator in V["bench_operators"]:
    server.user(name=f"operator accounts ({operator})", user=operator,
                groups=[V["bench_group"]], shell="/bin/bash", comment="bench operator")

files.directory(name="application directory", path=V["bench_root"], user=V["bench_app_user"],
                group=V["bench_app_user"], mode="755")
files.directory(name="application bin directory", path=f"{V['bench_root']}/bin", mode="755")
files.directory(name="configuration directory", path=V["bench_conf_dir"], mode="755")
for directory in V["bench_dirs"]:
    files.directory(name=f"state and log directories ({directory})", path=directory,
                    user=V["bench_app_user"], group=V["bench_app_user"], mode="750")

conf = V["bench_conf_dir"]
app_conf = template("application configuration", "app.conf.j2", f"{conf}/app.conf",
                    user="root", group=V["bench_app_user"], mode="640")
template("upstreams", "upstreams.conf.j2", f"{conf}/upstreams.conf", mode="644")
ticker_env = template("ticker environment", "ticker.env.j2", f"{conf}/ticker.env", mode="644")
ticker_unit = template("ticker unit", "bench-ticker.service.j2",
                       "/etc/systemd/system/bench-ticker.service", mode="644")
template("message of the day", "motd.j2", "/etc/motd", mode="644")
files.put(name="version file", src=io.BytesIO(f"{V['bench_version']}\n".encode()),
          dest=f"{V['bench_root']}/VERSION", mode="644")
ticker = copy("ticker program", "bench-ticker", f"{V['bench_root']}/bin/bench-ticker", "755")
copy("report program", "bench-report", f"{V['bench_root']}/bin/bench-report", "755")
copy("shell profile", "bench-profile.sh", "/etc/profile.d/bench.sh", "644")
copy("log rotation", "bench-logrotate", "/etc/logrotate.d/bench", "644")
files.link(name="report command on the path", path="/usr/local/bin/bench-report",
           target=f"{V['bench_root']}/bin/bench-report")

files.line(name="environment name", path="/etc/environment", line="^BENCH_ENVIRONMENT=",
           replace=f"BENCH_ENVIRONMENT={V['bench_environment']}", extended_regex=True,
           ensure_newline=True)
files.line(name="environment root", path="/etc/environment", line="^BENCH_ROOT=",
           replace=f"BENCH_ROOT={V['bench_root']}", extended_regex=True, ensure_newline=True)
files.line(name="name of the first upstream", path="/etc/hosts", line=" bench-upstream$",
           replace=f"{V['bench_upstreams'][0]} bench-upstream", extended_regex=True,
           ensure_newline=True)
files.block(name="shell prompt", path="/etc/bash.bashrc",
            content=f"export BENCH_HOST={host.name}\n"
                    "alias bench-status='systemctl status bench-ticker'",
            marker="# {mark} ANSIBLE MANAGED BLOCK", begin="BEGIN", end="END")
files.block(name="open files limit", path="/etc/security/limits.conf",
            content=f"{V['bench_app_user']} soft nofile 65536\n"
                    f"{V['bench_app_user']} hard nofile 65536",
            marker="# {mark} bench limits", begin="BEGIN", end="END")

for key, value in V["bench_sysctl"].items():
    server.sysctl(name=f"kernel settings ({key})", key=key, value=value, persist=True,
                  persist_file="/etc/sysctl.conf")

crontab.crontab(name="report every quarter hour", command=f"{V['bench_root']}/bin/bench-report"
                " > /dev/null", user="root", cron_name="bench report", minute="*/15",
                hour="*", day_of_month="*", month="*", day_of_week="*")
systemd.service(name="cron running", service="cron", running=True, enabled=True)
systemd.service(name="ticker running", service="bench-ticker", running=True, enabled=True)

systemd.service(name="handler: restart bench-ticker", service="bench-ticker", running=True,
                restarted=True, daemon_reload=True,
                _if=any_changed(app_conf, ticker_env, ticker_unit, ticker))
