"""Benchmark: public Ansible roles, unchanged, applied by orc (and ansible-core) on fresh hosts.

CORPUS_DIR holds one folder per role and `playbooks/ROLE.yml`, the play each runs under (see
its SOURCES.md). For every role, on its own fresh lab host:

  * loads:      orc reads the playbook and the role (the one-line error when it cannot);
  * converges:  the first apply ends without a failed task;
  * idempotent: a second apply reports 0 changed;
  * same files: with `--ansible`, the role also runs (twice) through ansible-playbook on another
                fresh host, and every file either run left under /etc, /usr, /opt, /srv and
                /var/www (read from each host's overlay: exactly what the run changed) has the
                same bytes and mode on both hosts;
  * wall time:  of the two applies together, for each tool.

    .venv/bin/python bench/roles_corpus.py CORPUS_DIR [--ansible] [--roles nginx,pip]
                                           [--lab corpus] [--json FILE]

Runs as root (it starts lab hosts, one per role and tool); the lab is taken down at the end.
A role orc cannot load is reported with its load error and costs no host time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchestrator import lab as orc_lab
from orchestrator.errors import OrcError
from orchestrator.engine.options import RunOptions
from orchestrator.engine.run import run_playbook
from orchestrator.inventory import load_inventory
from orchestrator.lab.state import Lab
from orchestrator.load.playbook import load_playbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' shared oracle
from tests.support.ansible_collections import collections_path  # noqa: E402

ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
# the parts of a host a role's files live in (the rest of an overlay is logs, caches, keys)
COMPARED = ("etc", "usr", "opt", "srv", "var/www")
# written per host by the lab or by the tools themselves, never by a role: the lab's own files;
# key material and databases generated afresh on each host (ssl-cert's snakeoil pair,
# newaliases' Berkeley DB)
IGNORED = re.compile(r"^(etc/(hostname|hosts|machine-id|ssh/ssh_host_.*|systemd/network/.*"
                     r"|apt/apt.conf.d/01orc-proxy|ld.so.cache|aliases.db"
                     r"|ssl/certs/ssl-cert-snakeoil.pem|ssl/private/ssl-cert-snakeoil.key)"
                     r"|usr/lib/python3.*/__pycache__/.*|.*\.pyc)$")
# packages ansible-core's apt module installs for itself on a host without them: their files
# (dpkg's list of each) are the tool's, not the role's
TOOL_PACKAGES = ("python3-apt", "python-apt-common", "distro-info-data")


@dataclass
class ToolRun:
    loads: bool = False
    error: str = ""  # the one-line load (or run) error
    converges: bool | None = None
    idempotent: bool | None = None
    changed: list[int] = field(default_factory=list)  # per apply
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)  # path -> "mode sha256"


@dataclass
class RoleResult:
    role: str
    orc: ToolRun
    ansible: ToolRun | None = None
    same_files: str = "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="the corpus folder (roles + playbooks/)")
    parser.add_argument("--ansible", action="store_true",
                        help="also apply each role with ansible-playbook and compare files")
    parser.add_argument("--roles", help="only these roles, comma separated")
    parser.add_argument("--lab", default="corpus", help="name of the lab this benchmark owns")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    playbooks = args.corpus / "playbooks"
    if not playbooks.is_dir():
        parser.error(f"{args.corpus} has no playbooks/ folder")
    roles = sorted(p.stem for p in playbooks.glob("*.yml"))
    if args.roles:
        wanted = [r.strip() for r in args.roles.split(",")]
        unknown = sorted(set(wanted) - set(roles))
        if unknown:
            parser.error(f"no playbook for {', '.join(unknown)} in {playbooks}")
        roles = wanted
    if os.geteuid() != 0:
        parser.error("run as root: the benchmark starts lab hosts")

    work = Path(tempfile.mkdtemp(prefix="orc-bench-corpus-"))
    results = []
    try:
        for role in roles:
            results.append(bench_role(args.corpus, role, work, args.lab, args.ansible))
            print(row_line(results[-1]), flush=True)
    finally:
        if Lab.load(args.lab) is not None:
            orc_lab.down(args.lab)
    print()
    print(table(results, args.ansible))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print(f"\nlogs and work folders: {work}")
    return 0


def stage(corpus: Path, role: str, work: Path) -> Path:
    """The role in roles/ beside its playbook, as SOURCES.md says to lay it out."""
    directory = work / role
    shutil.copytree(corpus / role, directory / "roles" / role)
    shutil.copy(corpus / "playbooks" / f"{role}.yml", directory / "site.yml")
    return directory


def bench_role(corpus: Path, role: str, work: Path, lab_name: str, ansible: bool) -> RoleResult:
    directory = stage(corpus, role, work)
    playbook = directory / "site.yml"
    result = RoleResult(role, ToolRun())
    try:
        load_playbook(playbook)
        result.orc.loads = True
    except OrcError as err:
        result.orc.error = one_line(str(err), directory)
    hosts_needed = int(result.orc.loads) + int(ansible)
    if not hosts_needed:
        return result
    lab, inventory = fresh_hosts(lab_name, hosts_needed, work)
    names = [h.name for h in lab.hosts]
    if result.orc.loads:
        apply_with_orc(playbook, inventory, names.pop(0), result.orc, lab)
    if ansible:
        result.ansible = ToolRun(loads=True)
        apply_with_ansible(playbook, inventory, names.pop(0), result.ansible, lab, work)
        if result.orc.converges and result.ansible.converges:
            result.same_files = compare_files(result.orc.files, result.ansible.files,
                                              work / f"{role}-files.diff")
    return result


def fresh_hosts(lab_name: str, count: int, work: Path) -> tuple[Lab, Path]:
    """`count` hosts nobody has touched: the lab is taken down and brought up anew."""
    if Lab.load(lab_name) is not None:
        orc_lab.down(lab_name)
    inventory = work / f"{lab_name}.yaml"
    return orc_lab.up(count, lab_name, inventory), inventory


def apply_with_orc(playbook: Path, inventory: Path, host: str, run: ToolRun, lab: Lab) -> None:
    started = time.monotonic()
    for _ in range(2):
        try:
            result = run_playbook(load_playbook(playbook),
                                  load_inventory([str(inventory)], playbook_dir=playbook.parent),
                                  RunOptions(limit=host))
        except OrcError as err:
            run.error = one_line(str(err), playbook.parent)
            run.converges = False
            break
        run.changed.append(result.changed)
        if result.failed:
            run.converges = False
            failed = [t for p in result.plays for h in p.hosts.values() for t in h.tasks
                      if t.status == "failed"]
            hosts = [h for p in result.plays for h in p.hosts.values() if h.failed]
            run.error = one_line(f"{failed[0].where}: {failed[0].error or failed[0].name}"
                                 if failed else (hosts[0].reason if hosts else None) or "failed",
                                 playbook.parent)
            break
        run.converges = True
    run.seconds = time.monotonic() - started
    if run.converges:
        run.idempotent = len(run.changed) == 2 and run.changed[1] == 0
    run.files = changed_files(lab, host)


RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                   re.MULTILINE)


def apply_with_ansible(playbook: Path, inventory: Path, host: str, run: ToolRun, lab: Lab,
                       work: Path) -> None:
    config = work / "ansible.cfg"
    collections = collections_path()  # ansible.posix, community.general (ssh_hardening's pamd)
    config.write_text("[defaults]\n"
                      + (f"collections_path = {collections}\n" if collections else ""))
    env = {**os.environ, "ANSIBLE_CONFIG": str(config), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_RETRY_FILES_ENABLED": "false"}
    started = time.monotonic()
    for index in range(2):
        proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), "-l", host,
                               str(playbook)], cwd=playbook.parent, env=env,
                              capture_output=True, text=True, check=False, timeout=3600)
        (work / f"{playbook.parent.name}-ansible-{index + 1}.log").write_text(proc.stdout
                                                                            + proc.stderr)
        recap = {m.group(1): m for m in RECAP.finditer(proc.stdout)}.get(host)
        if proc.returncode != 0 or recap is None or int(recap.group(5)) \
                or int(recap.group(4)):
            run.converges = False
            run.error = f"ansible-playbook exit {proc.returncode} (see the log in {work})"
            break
        run.changed.append(int(recap.group(3)))
        run.converges = True
    run.seconds = time.monotonic() - started
    if run.converges:
        run.idempotent = len(run.changed) == 2 and run.changed[1] == 0
    run.files = changed_files(lab, host)


def changed_files(lab: Lab, host_name: str) -> dict[str, str]:
    """Every regular file the runs wrote under the compared folders: what the host's overlay
    holds over the base image (mode and a SHA-256 of the bytes)."""
    host = lab.find(host_name)
    upper = lab.host_dir(host) / "upper" if host else None
    files: dict[str, str] = {}
    if upper is None or not upper.is_dir():
        return files
    tools = set()
    for package in TOOL_PACKAGES:
        listing = upper / "var/lib/dpkg/info" / f"{package}.list"
        if listing.is_file():
            tools |= {line.lstrip("/") for line in listing.read_text().splitlines()}
    for part in COMPARED:
        top = upper / part
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*")):
            relative = str(path.relative_to(upper))
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode) or IGNORED.match(relative) or relative in tools:
                continue
            # a file naming its own host (postfix's myhostname) is compared with the name
            # taken out: each tool has a host of its own
            data = path.read_bytes().replace(host_name.encode(), b"<host>")
            digest = hashlib.sha256(data).hexdigest()[:16]
            files[relative] = f"{stat.S_IMODE(info.st_mode):04o} {digest}"
    return files


def compare_files(ours: dict[str, str], theirs: dict[str, str],
                  listing: Path | None = None) -> str:
    """Whether both hosts hold the same files; every difference is written to `listing`
    (path, orc's mode and digest, Ansible's), one per line."""
    differ = sorted(p for p in set(ours) | set(theirs) if ours.get(p) != theirs.get(p))
    if listing is not None:
        listing.write_text("".join(f"/{p}\torc: {ours.get(p, 'absent')}\t"
                                   f"ansible: {theirs.get(p, 'absent')}\n" for p in differ))
    if not differ:
        return f"yes ({len(theirs)} files)"
    return f"no: {len(differ)} differ, e.g. /{differ[0]}"


def one_line(message: str, directory: Path) -> str:
    text = message.strip().splitlines()[0] if message.strip() else message
    return text.replace(str(directory) + "/", "")


def mark(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def row_line(result: RoleResult) -> str:
    orc = result.orc
    line = f"{result.role}: orc loads={mark(orc.loads)} converges={mark(orc.converges)} " \
           f"idempotent={mark(orc.idempotent)} {orc.seconds:.1f}s"
    if orc.error:
        line += f"  [{orc.error}]"
    if result.ansible:
        a = result.ansible
        line += f"; ansible converges={mark(a.converges)} idempotent={mark(a.idempotent)} " \
                f"{a.seconds:.1f}s; same files: {result.same_files}"
    return line


def table(results: list[RoleResult], ansible: bool) -> str:
    header = ["role", "loads", "converges", "idempotent", "same files as Ansible", "orc s"]
    if ansible:
        header += ["ansible converges", "ansible idempotent", "ansible s"]
    rows = [header]
    for r in results:
        row = [r.role, mark(r.orc.loads), mark(r.orc.converges), mark(r.orc.idempotent),
               r.same_files, f"{r.orc.seconds:.1f}" if r.orc.converges is not None else "-"]
        if ansible and r.ansible:
            row += [mark(r.ansible.converges), mark(r.ansible.idempotent),
                    f"{r.ansible.seconds:.1f}"]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    errors = [f"{r.role}: {r.orc.error}" for r in results if r.orc.error]
    return "\n".join(lines + ([""] + ["orc errors:"] + errors if errors else []))


if __name__ == "__main__":
    sys.exit(main())
