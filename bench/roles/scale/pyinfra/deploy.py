"""The scale role written as a plain pyinfra deploy, for `pyinfra INVENTORY.py deploy.py`.

Each task of ../tasks/main.yaml is the pyinfra operation orc maps it to (orchestrator/modules),
called with the same arguments, in the same order; a command guarded by `creates` is added only
when nothing is at that path, as orc decides it. Variables come from ../defaults/main.yaml,
templates from ../templates/.
"""

import io
from pathlib import Path

import yaml
from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.operations import files, server

ROLE = Path(__file__).resolve().parent.parent
V = yaml.safe_load((ROLE / "defaults" / "main.yaml").read_text())
TEMPLATE_VARS = {**V, "inventory_hostname": host.name}
ROOT, CONF = V["scale_root"], V["scale_conf_dir"]


def template(name: str, src: str, dest: str, mode: str):
    # Ansible's (and orc's) template whitespace: the newline after a block tag is dropped
    return files.template(name=name, src=str(ROLE / "templates" / src), dest=dest, mode=mode,
                          jinja_env_kwargs={"trim_blocks": True}, **TEMPLATE_VARS)


def copy(name: str, src: str, dest: str, mode: str):
    return files.put(name=name, src=str(ROLE / "files" / src), dest=dest, mode=mode)


def guarded(name: str, command: str, creates: str):
    if host.get_fact(File, path=creates) is None:
        server.shell(name=name, commands=[command])


for directory in V["scale_dirs"]:
    files.directory(name=f"directories ({directory})", path=directory, mode="755")

template("application configuration", "app.conf.j2", f"{CONF}/app.conf", "640")
template("upstreams", "upstreams.conf.j2", f"{CONF}/upstreams.conf", "644")
template("environment file", "scale.env.j2", f"{CONF}/scale.env", "644")
template("host settings", "host.conf.j2", f"{CONF}/conf.d/host.conf", "644")
template("features", "features.conf.j2", f"{CONF}/conf.d/features.conf", "644")
template("message of the day", "motd.j2", "/etc/motd", "644")
files.put(name="version file", src=io.BytesIO(f"{V['scale_version']}\n".encode()),
          dest=f"{ROOT}/VERSION", mode="644")
files.put(name="release marker",
          src=io.BytesIO(f"release {V['scale_version']} of {V['scale_environment']}\n".encode()),
          dest=f"{ROOT}/releases/current", mode="644")
copy("init program", "scale-init", f"{ROOT}/bin/scale-init", "755")
copy("report program", "scale-report", f"{ROOT}/bin/scale-report", "755")
copy("shell profile", "scale-profile.sh", "/etc/profile.d/scale.sh", "644")
copy("cron entry file", "scale-cron", "/etc/cron.d/scale", "644")
files.link(name="report command on the path", path="/usr/local/bin/scale-report",
           target=f"{ROOT}/bin/scale-report")

files.line(name="environment name", path="/etc/environment", line="^SCALE_ENVIRONMENT=",
           replace=f"SCALE_ENVIRONMENT={V['scale_environment']}", extended_regex=True,
           ensure_newline=True)
files.line(name="environment root", path="/etc/environment", line="^SCALE_ROOT=",
           replace=f"SCALE_ROOT={ROOT}", extended_regex=True, ensure_newline=True)
files.line(name="name of the first upstream", path="/etc/hosts", line=" scale-upstream$",
           replace=f"{V['scale_upstreams'][0]} scale-upstream", extended_regex=True,
           ensure_newline=True)
files.line(name="shell history size", path="/etc/bash.bashrc", line="^HISTSIZE=",
           replace="HISTSIZE=5000", extended_regex=True, ensure_newline=True)
files.block(name="shell prompt", path="/etc/bash.bashrc",
            content=f"export SCALE_HOST={host.name}\n"
                    f"alias scale-status='cat {ROOT}/VERSION'",
            marker="# {mark} ANSIBLE MANAGED BLOCK", begin="BEGIN", end="END")
files.block(name="open files limit", path="/etc/security/limits.conf",
            content="root soft nofile 65536\nroot hard nofile 65536",
            marker="# {mark} scale limits", begin="BEGIN", end="END")
files.file(name="no legacy configuration", path=f"{CONF}/legacy.conf", present=False)

guarded("first initialisation", f"{ROOT}/bin/scale-init", "/var/lib/scale/initialized")
guarded("seed file", f"echo {host.name} > /var/lib/scale/seed", "/var/lib/scale/seed")
