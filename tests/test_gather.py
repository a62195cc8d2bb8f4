"""Gathered facts (orchestrator.engine.gather) against ansible-core's setup, package_facts and
service_facts: on output captured from a Debian 12 lab host (fast), and live on a lab host
(`lab`), where every key gather() returns must equal what `ansible -m setup` returns.

The captured files in tests/data/gather/ were taken together from one lab host: the raw output
of AnsibleFacts' command, `ansible -m setup` (and package_facts, service_facts) right after,
and the keys `ansible -m setup -a gather_subset=...` returned for each subset name.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engine import gather as g
from orchestrator.errors import InputError

DATA = Path(__file__).resolve().parent / "data" / "gather"
ANSIBLE = str(Path(sys.executable).with_name("ansible"))

# Keys whose value changes between two reads of the same host, so two reads a second apart
# (Ansible's, then ours) cannot be equal; each is compared for its shape instead.
VOLATILE = {
    "date_time",  # the clock moves between the two reads
    "loadavg",  # changes every few seconds; Ansible also reads it with more decimals (getloadavg)
    "memfree_mb", "memory_mb",  # free memory moves with every process started
    "uptime_seconds",  # the clock again
    "mounts",  # free blocks and inodes move with every file written
    "env",  # per connection: SSH_CLIENT port, session id, Ansible's pty (SSH_TTY, TERM), LANG
    "interfaces",  # the order follows Ansible's collector run (it differs between the `all`
                   # and `network` subsets on one host); compared as a set
    "virtualization_tech_guest", "virtualization_tech_host",  # sets in Ansible: any order
}
# per-connection environment variables (see `env` above)
CONNECTION_ENV = {"SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "TERM", "XDG_SESSION_ID", "_",
                  "LANG"}
# mount fields that move with every file written
MOUNT_USAGE = {"block_available", "block_used", "size_available", "inode_available",
               "inode_used"}


def ansible_names(setup: dict[str, Any]) -> dict[str, Any]:
    """`ansible -m setup`'s ansible_facts under the names `ansible_facts` holds in a play."""
    return {k.removeprefix("ansible_") if k != "ansible_local" else k: v
            for k, v in setup.items()}


def assert_same_facts(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Every key equal, volatile ones compared as far as two reads can agree."""
    assert sorted(ours) == sorted(theirs)
    for key in sorted(theirs):
        if key in VOLATILE:
            continue
        assert ours[key] == theirs[key], f"{key}: ours {ours[key]!r}, ansible {theirs[key]!r}"
    assert sorted(ours["interfaces"]) == sorted(theirs["interfaces"])
    for key in ("virtualization_tech_guest", "virtualization_tech_host"):
        assert sorted(ours[key]) == sorted(theirs[key])
    assert sorted(ours["date_time"]) == sorted(theirs["date_time"])
    for key in ("tz", "tz_dst", "tz_offset", "year"):
        assert ours["date_time"][key] == theirs["date_time"][key]
    assert abs(int(ours["date_time"]["epoch"]) - int(theirs["date_time"]["epoch"])) < 600
    assert sorted(ours["loadavg"]) == sorted(theirs["loadavg"])
    assert ours["memory_mb"]["real"]["total"] == theirs["memory_mb"]["real"]["total"]
    assert ours["memory_mb"]["swap"] == theirs["memory_mb"]["swap"]
    assert {k: v for k, v in ours["env"].items() if k not in CONNECTION_ENV} == \
        {k: v for k, v in theirs["env"].items() if k not in CONNECTION_ENV}

    def steady(mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(({k: v for k, v in m.items() if k not in MOUNT_USAGE} for m in mounts),
                      key=lambda m: m["mount"])

    assert steady(ours["mounts"]) == steady(theirs["mounts"])
    for mount in ours["mounts"]:
        assert mount["block_used"] + mount["block_available"] == mount["block_total"]


def captured_lines(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()


@functools.cache
def captured_facts() -> g.GatheredFacts:
    return g.collect(captured_lines("debian12-setup.txt"))


def captured_ansible(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


# -- on captured output -----------------------------------------------------------------------

def test_captured_command_output_gives_ansibles_facts():
    facts = g.collect(captured_lines("debian12-setup.txt"))
    theirs = ansible_names(captured_ansible("debian12-setup.ansible.json"))
    ours = dict(facts)
    ours.update(gather_subset=["all"], module_setup=True)
    assert_same_facts(ours, theirs)
    # what roles read most, spelled out
    assert ours["os_family"] == "Debian" and ours["distribution_major_version"] == "12"
    assert ours["python"]["version"]["minor"] == 11
    assert ours["service_mgr"] == "systemd" and ours["pkg_mgr"] == "apt"


SUBSETS = captured_ansible("subsets.ansible.json")


@pytest.mark.parametrize("subset", sorted(SUBSETS["keys"]))
def test_gather_subset_selects_ansibles_keys(subset: str):
    chosen = captured_facts().subset(g.resolve_subset(subset))
    chosen.update(gather_subset=subset.split(","), module_setup=True)
    assert sorted(ansible_names({k: None for k in SUBSETS["keys"][subset]})) == sorted(chosen)


def test_unknown_subset_is_refused_in_ansibles_words():
    with pytest.raises(InputError) as err:
        g.resolve_subset(["!all", "foo"])
    assert str(err.value) == SUBSETS["bad_subset_foo"]
    with pytest.raises(InputError, match="Bad subset 'hardwar'"):
        g.resolve_subset("!hardwar")


def test_subset_string_is_a_comma_separated_list():
    assert g.resolve_subset("!all,!min,network") == g.resolve_subset(["!all", "!min", "network"])
    assert g.resolve_subset(None) == g.resolve_subset(["all"])
    assert g.resolve_subset(["!all", "!min"]) == frozenset()


def test_as_variables_injects_each_fact_with_the_ansible_prefix():
    facts = {"os_family": "Debian", "ansible_local": {}, "gather_subset": ["all"],
             "module_setup": True, "python": {"version": {"minor": 11}}}
    variables = g.as_variables(facts)
    assert variables["ansible_facts"] is facts
    assert variables["ansible_os_family"] == "Debian"
    assert variables["ansible_python"] == {"version": {"minor": 11}}
    assert variables["ansible_local"] == {}
    assert variables["gather_subset"] == ["all"] and variables["module_setup"] is True
    assert "ansible_ansible_local" not in variables and "ansible_gather_subset" not in variables


def test_captured_package_output_gives_ansibles_package_facts():
    theirs = captured_ansible("debian12-packages.ansible.json")["packages"]
    assert g.packages_from(captured_lines("debian12-packages.txt")) == theirs
    # without python-apt: dpkg's list with each version's archive record
    assert g.packages_from(captured_lines("debian12-packages-dpkg.txt")) == theirs


def test_captured_service_output_gives_ansibles_service_facts():
    theirs = captured_ansible("debian12-services.ansible.json")["services"]
    assert g.services_from(captured_lines("debian12-services.txt")) == theirs


def _replace_section(lines: list[str], name: str, body: list[str]) -> list[str]:
    out, skipping = [], False
    for line in lines:
        if line.startswith("@@orc:"):
            skipping = line == f"@@orc:{name}"
            out.append(line)
            if skipping:
                out.extend(body)
            continue
        if not skipping:
            out.append(line)
    return out


def test_host_without_python_has_no_python_facts():
    lines = _replace_section(captured_lines("debian12-setup.txt"), "python", [])
    facts = g.collect(lines)
    assert "python" not in facts and "python_version" not in facts
    assert facts["userspace_bits"] == "64"  # from getconf
    assert facts["os_family"] == "Debian"


@pytest.mark.parametrize("section, body, key, expected", [
    ("resolv", ["# generated", "nameserver 10.0.0.2", "nameserver 10.0.0.3", "search a.example b",
                "options ndots:2 rotate", "domain a.example"], "dns",
     {"nameservers": ["10.0.0.2", "10.0.0.3"], "search": ["a.example", "b"],
      "options": {"ndots": "2", "rotate": True}, "domain": "a.example"}),
    ("cmdline", ["ro quiet console=tty0 console=ttyS0"], "proc_cmdline",
     {"ro": True, "quiet": True, "console": ["tty0", "ttyS0"]}),
    ("cmdline", ["ro quiet console=tty0 console=ttyS0"], "cmdline",
     {"ro": True, "quiet": True, "console": "ttyS0"}),
    ("apparmor", ["enabled"], "apparmor", {"status": "enabled"}),
    ("fips", ["1"], "fips", True),
    ("lsb-release", ["DISTRIB_ID=Ubuntu", "DISTRIB_RELEASE=22.04", "DISTRIB_CODENAME=jammy",
                     'DISTRIB_DESCRIPTION="Ubuntu 22.04.4 LTS"'], "lsb",
     {"id": "Ubuntu", "release": "22.04", "codename": "jammy",
      "description": "Ubuntu 22.04.4 LTS", "major_release": "22"}),
    ("init", ["bash"], "service_mgr", "systemd"),  # a shell as pid 1: decided by systemd's dirs
    ("init", ["openrc-init"], "service_mgr", "openrc"),
    ("caps", ["Current: =ep"], "system_capabilities", []),
    ("route4", ["8.8.8.8 via 10.213.56.1 dev host0 src 10.213.56.11 uid 0", "    cache"],
     "default_ipv4", {"address": "10.213.56.11", "interface": "host0", "gateway": "10.213.56.1",
                      "broadcast": "10.213.56.255", "netmask": "255.255.255.0",
                      "network": "10.213.56.0", "prefix": "24",
                      "macaddress": "ca:e7:31:e3:c0:4c", "mtu": 1500, "type": "ether",
                      "alias": "host0"}),
])
def test_sections_are_read_as_ansible_reads_them(section, body, key, expected):
    facts = g.collect(_replace_section(captured_lines("debian12-setup.txt"), section, body))
    assert facts[key] == expected


def test_date_time_names_summer_time_as_python_does():
    lines = _replace_section(captured_lines("debian12-setup.txt"), "date", [
        "2026|01|15|13|04|05|1768478645|123456789|Thursday|4|02|CET|+0100|015|Jan|January|Thu",
        "CET +0100", "CEST +0200"])
    date_time = g.collect(lines)["date_time"]
    assert date_time["tz"] == "CET" and date_time["tz_dst"] == "CEST"
    assert date_time["iso8601"] == "2026-01-15T12:04:05Z"
    assert date_time["iso8601_micro"] == "2026-01-15T12:04:05.123456Z"
    assert date_time["iso8601_basic"] == "20260115T130405123456"


def test_secondary_addresses_and_aliases():
    block = ["2: eth0@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP",
             "    link/ether ca:e7:31:e3:c0:4c brd ff:ff:ff:ff:ff:ff link-netnsid 0",
             "    inet 10.213.56.11/24 brd 10.213.56.255 scope global host0",
             "    inet6 fe80::1/64 scope link",
             "       valid_lft forever preferred_lft forever"]
    secondary = ["2: eth0@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue",
                 "    inet 10.213.56.12/24 brd 10.213.56.255 scope global secondary host0:1"]
    lines = _replace_section(captured_lines("debian12-setup.txt"), "addr-primary",
                             [b.replace("eth0", "host0") for b in block])
    lines = _replace_section(lines, "addr-secondary", [b.replace("eth0", "host0")
                                                       for b in secondary])
    facts = g.collect(lines)
    assert facts["host0"]["ipv6"] == [{"address": "fe80::1", "prefix": "64", "scope": "link"}]
    assert facts["host0_1"]["ipv4_secondaries"][0]["address"] == "10.213.56.12"
    assert facts["host0"]["ipv4_secondaries"][0]["address"] == "10.213.56.12"
    assert facts["all_ipv4_addresses"] == ["10.213.56.11", "10.213.56.12"]
    assert facts["all_ipv6_addresses"] == ["fe80::1"]
    assert "host0_1" in facts["interfaces"]


def test_a_cut_short_output_is_a_host_error():
    lines = captured_lines("debian12-setup.txt")
    with pytest.raises(g.HostError):
        g.collect(lines[: len(lines) // 2])


# -- live, against ansible-core on a lab host -------------------------------------------------

def _ansible(inventory: Path, host: str, module: str, args: str | None = None,
             workdir: Path | None = None, extra: list[str] | None = None) -> dict[str, Any]:
    workdir = workdir or inventory.parent
    config = workdir / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(config), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp")}
    argv = [ANSIBLE, "-i", str(inventory), host, "-m", module]
    if args:
        argv += ["-a", args]
    argv += extra or []
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert "=>" in done.stdout, done.stdout + done.stderr
    result = json.loads(done.stdout.split("=>", 1)[1])
    assert "ansible_facts" in result, result
    return result["ansible_facts"]


@pytest.fixture
def lab_host(lab, lab_inventory):
    """A connected pyinfra host for the lab's last host, and its inventory name."""
    from orchestrator.inventory import load_inventory
    from orchestrator.transport.session import open_session

    name = lab.hosts[-1].name
    session = open_session(load_inventory([str(lab_inventory)]), [name])
    if name not in session.hosts:
        pytest.fail(f"setup: {name} is unreachable: {session.unreachable}", pytrace=False)
    host = session.hosts[name]
    yield host
    host.disconnect()


def _count_commands(host) -> list[str]:
    """Every command pyinfra runs on `host` from now on (the real call is made)."""
    commands: list[str] = []
    run = host.run_shell_command

    def counted(command, *args, **kwargs):
        commands.append(str(command))
        return run(command, *args, **kwargs)

    host.run_shell_command = counted
    return commands


@pytest.mark.lab
def test_gather_equals_ansible_setup_on_a_lab_host(lab_host, lab_inventory):
    commands = _count_commands(lab_host)
    ours = g.gather(lab_host)
    theirs = ansible_names(_ansible(lab_inventory, lab_host.name, "setup"))
    assert_same_facts(ours, theirs)
    assert len(commands) == 1  # one round trip for every fact


# a host set up the way real ones are and lab hosts are not: a default route, a secondary
# address and an alias interface, a resolver, a name with a domain, local facts (.fact files)
CONFIGURED = """
ip route add default via {gateway}
ip addr add {secondary}/24 dev host0
ip addr add 192.168.77.5/24 dev host0 label host0:7
mkdir -p /etc/ansible/facts.d
printf '[general]\\nasdf=1\\nbar=2\\n' > /etc/ansible/facts.d/ini.fact
cat > /etc/ansible/facts.d/run.fact <<'FACT'
#!/bin/sh
echo '{{"a": [1, 2]}}'
FACT
printf 'not json\\n' > /etc/ansible/facts.d/broken.fact
chmod +x /etc/ansible/facts.d/run.fact
cp /etc/resolv.conf /etc/resolv.conf.orc-test; cp /etc/hosts /etc/hosts.orc-test
printf 'nameserver {gateway}\\nsearch lab.example\\noptions ndots:2 edns0\\n' > /etc/resolv.conf
sed -i 's/^127.0.1.1.*/127.0.1.1 {name}.lab.example {name}/' /etc/hosts
"""
RESTORED = """
ip route del default; ip addr del {secondary}/24 dev host0; ip addr del 192.168.77.5/24 dev host0
rm -rf /etc/ansible; mv /etc/resolv.conf.orc-test /etc/resolv.conf
mv /etc/hosts.orc-test /etc/hosts
"""


@pytest.mark.lab
def test_gather_equals_ansible_setup_on_a_configured_host(lab, lab_host, lab_inventory, ssh):
    host = next(h for h in lab.hosts if h.name == lab_host.name)
    values = {"gateway": lab.bridge_address, "name": host.name,
              "secondary": str(ipaddress.ip_address(host.address) + 100)}
    done = ssh(host.name, CONFIGURED.format(**values))
    assert done.returncode == 0, done.stderr
    try:
        ours = g.gather(lab_host)
        theirs = ansible_names(_ansible(lab_inventory, lab_host.name, "setup"))
    finally:
        ssh(host.name, RESTORED.format(**values))
    assert_same_facts(ours, theirs)
    assert ours["default_ipv4"]["gateway"] == lab.bridge_address
    assert ours["fqdn"] == f"{host.name}.lab.example" and ours["domain"] == "lab.example"
    assert ours["ansible_local"]["ini"] == {"general": {"asdf": "1", "bar": "2"}}
    assert ours["ansible_local"]["run"] == {"a": [1, 2]}
    assert "host0_7" in ours["interfaces"] and ours["host0"]["ipv4_secondaries"]


@pytest.mark.lab
def test_gather_with_become_reads_as_that_user(lab_host, lab_inventory):
    ours = g.gather(lab_host, "!all,!min,user", become=True, become_user="nobody")
    theirs = ansible_names(_ansible(lab_inventory, lab_host.name, "setup",
                                    "gather_subset=!all,!min,user",
                                    extra=["-b", "--become-user", "nobody"]))
    assert ours == theirs
    assert ours["user_id"] == "nobody"


@pytest.mark.lab
def test_gather_runs_one_command_per_host_per_run(lab_host):
    commands = _count_commands(lab_host)
    gatherer = g.Gatherer()
    first = gatherer.gather(lab_host, ["!all", "!min", "network"])
    assert len(commands) == 1
    again = gatherer.gather(lab_host)  # another subset of the same run: from memory
    assert len(commands) == 1 and gatherer.reads == 1
    assert first["default_ipv4"] == again["default_ipv4"] and "python" in again
    # the module-level gather keeps one Gatherer per pyinfra State
    g.gather(lab_host)
    g.gather(lab_host, "min")
    assert len(commands) == 2
    gatherer.forget(lab_host)
    gatherer.gather(lab_host)
    assert len(commands) == 3 and gatherer.reads == 2
    gatherer.gather(lab_host, fresh=True)  # an explicit `setup` task reads again
    gatherer.gather(lab_host)
    assert len(commands) == 4 and gatherer.reads == 3


@pytest.mark.lab
@pytest.mark.parametrize("subset", ["!all", "!all,!min,network", "!all,!min,hardware",
                                    "!all,hardware,!mounts", "!min,!all,python"])
def test_gather_subset_matches_ansible_on_a_lab_host(lab_host, lab_inventory, subset):
    ours = g.gather(lab_host, subset)
    theirs = ansible_names(_ansible(lab_inventory, lab_host.name, "setup",
                                    f"gather_subset={subset}"))
    assert sorted(ours) == sorted(theirs)


@pytest.mark.lab
def test_service_facts_equal_ansibles_on_a_lab_host(lab_host, lab_inventory):
    commands = _count_commands(lab_host)
    ours = g.service_facts(lab_host)
    assert len(commands) == 1
    theirs = _ansible(lab_inventory, lab_host.name, "service_facts")
    assert ours == theirs


@pytest.mark.lab
@pytest.mark.slow
def test_package_facts_equal_ansibles_on_a_lab_host(lab_host, lab_inventory, ssh):
    commands = _count_commands(lab_host)
    name = lab_host.name
    without_apt = g.package_facts(lab_host)  # read from dpkg and the apt lists
    assert len(commands) == 1
    # Ansible's package_facts needs python3-apt on the host
    done = ssh(name, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-apt")
    assert done.returncode == 0, done.stdout + done.stderr
    with_apt = g.package_facts(lab_host)
    theirs = _ansible(lab_inventory, name, "package_facts")
    assert with_apt == theirs
    # python3-apt itself (and what it pulled in) is the only difference from before
    added = set(with_apt["packages"]) - set(without_apt["packages"])
    assert "python3-apt" in added
    assert {k: v for k, v in with_apt["packages"].items() if k not in added} == \
        without_apt["packages"]


def test_dmi_facts_and_a_kvm_guest():
    dmi = "/sys/devices/virtual/dmi/id"
    lines = _replace_section(captured_lines("debian12-setup.txt"), "dmi-present", ["present"])
    lines = _replace_section(lines, "dmi", [f"{dmi}/product_name:KVM", f"{dmi}/sys_vendor:QEMU",
                                            f"{dmi}/chassis_type:1", f"{dmi}/bios_vendor:SeaBIOS"])
    lines = _replace_section(lines, "virt-container", [])
    lines = _replace_section(lines, "virt-environ", [])
    facts = g.collect(lines)
    assert facts["product_name"] == "KVM" and facts["system_vendor"] == "QEMU"
    assert facts["bios_vendor"] == "SeaBIOS" and facts["product_serial"] == "NA"
    assert facts["form_factor"] == "Other"
    assert (facts["virtualization_type"], facts["virtualization_role"]) == ("kvm", "guest")
