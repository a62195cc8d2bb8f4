"""Gathered facts: what Ansible's `setup` module returns, read through one pyinfra fact whose one
shell command prints the raw material and whose `process()` turns it into Ansible's fact names.

Why one command: Ansible's setup runs dozens of probes inside one Python module on the host;
pyinfra's own facts are one command each. A play reading `ansible_os_family`,
`ansible_default_ipv4.address` and `ansible_facts.python.version.minor` must not cost a round
trip per fact, so `AnsibleFacts` is one POSIX `sh` script (the host needs no Python: without one
the `python*` facts are simply absent) printing sections (`@@orc:NAME`), parsed on the
controller into the keys `ansible_facts` holds, under the rules of ansible-core's fact
collectors as observed against ansible-core 2.19 on Debian 12 (tests/test_gather.py compares
every key with `ansible -m setup` on a lab host).

Shapes (the engine calls these four):
- `gather(host, subset=("all",), *, python=None, become=False, become_user=None)` ->
  `dict[str, Any]`: Ansible's `ansible_facts` without the `ansible_` prefix (`distribution`,
  `os_family`, `default_ipv4`, `python`, `date_time`, ...; `ansible_local` keeps its prefix,
  as in Ansible), plus `gather_subset` (the items asked for) and `module_setup: True`, as
  setup returns them. One command per host per run: see `Gatherer` for the cache.
- `as_variables(facts)` -> `{"ansible_facts": facts, "ansible_<name>": value, ...}`: what
  Ansible injects as host variables (INJECT_FACTS_AS_VARS, true by default).
- `package_facts(host)` -> `{"packages": {name: [{name, version, arch, category, origin,
  source: "apt"}, ...]}}` (Debian) and `service_facts(host)` -> `{"services": {name: {name,
  state, status, source}}}`: what `package_facts` and `service_facts` set, one command each,
  never cached (a run changes packages and services).

Errors: an unknown `gather_subset` name is an `InputError` worded as Ansible's ("Bad subset
'x' given to Ansible. gather_subset options allowed: ..."); a host whose command could not run
is a `HostError`.

Where it knowingly differs: `loadavg` comes from /proc/loadavg (two decimals; Ansible's
os.getloadavg() has more). Not produced: `lvm` when LVM tools are installed (the key is left
out rather than guessed; without them it is Ansible's "N/A"), facter_* and ohai_* (the `facter`
and `ohai` subsets are accepted and add nothing, as on a host without those tools).
Distribution facts follow Ansible exactly for Debian and Ubuntu and come from os-release's ID
and VERSION_ID elsewhere; virtualization is detected for containers and the common hypervisors
(KVM/QEMU, Xen, VMware, VirtualBox, Hyper-V, OpenStack, Parallels) only; `package_facts` reads
apt/dpkg only.
"""

from __future__ import annotations

import configparser
import copy
import ipaddress
import json
import re
import shlex
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pyinfra.api import FactBase

from orchestrator.errors import HostError, InputError


_MARK = "@@orc:"

# The one command (POSIX sh), after a `PY=<interpreter>` line (AnsibleFacts.command).
_SCRIPT = r"""# The one command behind gather.AnsibleFacts (POSIX sh, no Python needed).
# It prints raw material in sections, each opened by a line "@@orc:NAME[ ARG]"; parsing
# happens on the controller. Every probe is allowed to fail: a missing file or tool leaves its
# section empty, as a missing file leaves the matching Ansible fact at its default.
# `PY`, the Python interpreter to report, is set on the line before this script.
s() { printf '\n@@orc:%s\n' "$*"; }
f() { [ -r "$1" ] && cat "$1" 2>/dev/null; }
have() { command -v "$1" >/dev/null 2>&1; }
s uname; uname -s; uname -r; uname -v; uname -m; uname -n
s bits; getconf LONG_BIT 2>/dev/null
s fqdn; n=$(uname -n); addr=$(getent ahosts "$n" 2>/dev/null | awk '{print $1; exit}')
[ -n "$addr" ] && getent hosts "$addr" 2>/dev/null | head -n 1
s os-release; f /etc/os-release || f /usr/lib/os-release
s debian_version; f /etc/debian_version
s lsb-release; f /etc/lsb-release
s lsb_release; have lsb_release && lsb_release -a 2>/dev/null
s machine-id; f /var/lib/dbus/machine-id || f /etc/machine-id
s python; if have "$PY"; then "$PY" -S -c '
import platform, sys
try:
    import ssl
    ctx = hasattr(ssl, "SSLContext")
except ImportError:
    ctx = False
v = sys.version_info
print(v[0], v[1], v[2], v[3], v[4])
print(sys.executable)
print(platform.python_implementation().lower())
print(ctx)
print(platform.architecture()[0][:-3])
print(platform.python_version())
' 2>/dev/null; fi
s id; id -u; id -g; id -ru; id -rg; id -un
s passwd; getent passwd "${LOGNAME:-${USER:-$(id -un)}}" 2>/dev/null
s env; env -0 2>/dev/null || env
s selinux-lib; for d in /lib /lib64 /usr/lib /usr/lib64 /lib/*-linux-gnu* /usr/lib/*-linux-gnu*; do
  [ -e "$d/libselinux.so.1" ] && { echo "$d/libselinux.so.1"; break; }; done
s selinux-enforce; f /sys/fs/selinux/enforce
s selinux-policyvers; f /sys/fs/selinux/policyvers
s selinux-config; [ -e /sys/fs/selinux/enforce ] && f /etc/selinux/config
s apparmor; [ -e /sys/kernel/security/apparmor ] && echo enabled
s caps; have capsh && capsh --print 2>/dev/null | grep '^Current:'
s cmdline; f /proc/cmdline
s date; LC_ALL=C date +'%Y|%m|%d|%H|%M|%S|%s|%N|%A|%w|%W|%Z|%z|%j|%b|%B|%a' 2>/dev/null
y=$(date +%Y); for d in "$y-01-01" "$y-07-01"; do date -d "$d" +'%Z %z' 2>/dev/null; done
s resolv; f /etc/resolv.conf
s fips; f /proc/sys/crypto/fips_enabled
s facts.d; if [ -d /etc/ansible/facts.d ]; then echo present
  for p in /etc/ansible/facts.d/*.fact; do [ -f "$p" ] || continue
    s fact "$p"; if [ -x "$p" ]; then "$p" 2>/dev/null; else cat "$p" 2>/dev/null; fi; done; fi
s pkg-paths; for p in /usr/bin/rpm-ostree /usr/bin/yum /usr/bin/dnf-3 /usr/bin/dnf5 \
  /usr/bin/apt-get /usr/bin/zypper /usr/sbin/urpmi /usr/bin/pacman /bin/opkg /usr/pkg/bin/pkgin \
  /opt/local/bin/pkgin \
  /opt/tools/bin/pkgin /opt/local/bin/port /usr/local/bin/brew /opt/homebrew/bin/brew /sbin/apk \
  /usr/sbin/pkg /usr/sbin/swlist /usr/bin/emerge /usr/sbin/pkgadd /usr/bin/pkg \
  /usr/bin/xbps-install \
  /usr/local/sbin/pkg /usr/bin/swupd /usr/sbin/sorcery /usr/bin/installp /usr/bin/rpm; do
  [ -e "$p" ] && echo "$p"; done
s init; f /proc/1/comm; printf '\n'
s init-link; [ -L /sbin/init ] && readlink /sbin/init
s init-paths; have systemctl && echo systemctl; have initctl && echo initctl
for p in /run/systemd/system/ /dev/.run/systemd/ /dev/.systemd/ /etc/init/ /sbin/openrc \
  /etc/init.d/ \
  /etc/dinit.d/; do [ -e "$p" ] && echo "$p"; done
s ssh-keys; for t in dsa rsa ecdsa ed25519; do p=/etc/ssh/ssh_host_${t}_key.pub
  [ -r "$p" ] && printf '%s ' "$t" && head -n 1 "$p"; done
s systemd; have systemctl && systemctl --version 2>/dev/null | head -n 2
s chroot; stat -c '%d %i' / 2>/dev/null; stat -c '%d %i' /proc/1/root/. 2>/dev/null
s iscsi; f /etc/iscsi/initiatorname.iscsi
s nvme; f /etc/nvme/hostnqn
s fc; for p in /sys/class/fc_host/*/port_name; do [ -r "$p" ] && cat "$p"; done
s loadavg; f /proc/loadavg
s uptime; f /proc/uptime
s meminfo; f /proc/meminfo
s cpuinfo; f /proc/cpuinfo
s nproc; have nproc && nproc 2>/dev/null
s xen; { [ -e /proc/xen ] && echo proc-xen; } || f /sys/hypervisor/type
D=/sys/devices/virtual/dmi/id
s dmi-present; [ -e $D/product_name ] && echo present
s dmi; grep -s -H '' $D/bios_date $D/bios_vendor $D/bios_version $D/board_asset_tag $D/board_name \
  $D/board_serial $D/board_vendor $D/board_version $D/chassis_asset_tag $D/chassis_serial \
  $D/chassis_vendor $D/chassis_version $D/chassis_type $D/product_name $D/product_serial \
  $D/product_uuid $D/product_version $D/sys_vendor
s sysinfo; f /proc/sysinfo
s vgs; have vgs && echo present
s mtab; if [ -e /etc/mtab ]; then f /etc/mtab; else f /proc/mounts; fi
s findmnt; have findmnt && findmnt -l -n -o TARGET,SOURCE 2>/dev/null
s lsblk; have lsblk && lsblk -ln --paths --output NAME,UUID --exclude 2 2>/dev/null
s statfs; { if [ -e /etc/mtab ]; then cat /etc/mtab; else cat /proc/mounts; fi; } 2>/dev/null |
  while read -r dev mnt rest; do case "$dev" in /*|*:/*) m=$(printf '%b' "$(echo "$mnt" |
  sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g')"); printf '%s\t' "$mnt"
  stat -f -c '%s %S %b %f %a %c %d' "$m" 2>/dev/null || echo;; esac; done
s links; for k in by-id by-uuid by-label; do [ -d /dev/disk/$k ] || continue
  for l in /dev/disk/$k/*; do [ -L "$l" ] && printf '%s %s %s\n' "$k" "${l##*/}" "$(readlink "$l")"
  done; done
for p in /sys/block/*/slaves/*; do [ -e "$p" ] && echo "masters $p"; done
s lspci; have lspci && lspci -D 2>/dev/null
B=/sys/block
s blocks; LC_ALL=C ls -l "$B/" 2>/dev/null
# one grep reads every attribute of every device: `path:value`, nothing for an empty file
s block-attrs; grep -s -H '' $B/*/removable $B/*/size $B/*/queue/rotational $B/*/queue/scheduler \
  $B/*/queue/logical_block_size $B/*/queue/hw_sector_size $B/*/queue/discard_max_hw_bytes \
  $B/*/queue/discard_granularity $B/*/device/vendor $B/*/device/model $B/*/device/sas_address \
  $B/*/device/sas_device_handle $B/*/device/serial $B/*/*/start $B/*/*/size \
  $B/*/*/queue/logical_block_size $B/*/*/queue/hw_sector_size $B/*/holders/*/dm/name \
  $B/*/*/holders/*/dm/name
s block-dirs; ls -d $B/*/device $B/*/holders/dm-* $B/*/*/holders/dm-* $B/*/*/start 2>/dev/null
s ip; have ip && echo present
s route4; have ip && ip -4 route get 8.8.8.8 2>/dev/null
s route6; have ip && ip -6 route get 2404:6800:400a:800::1012 2>/dev/null
s local4; have ip && ip -4 route show table local 2>/dev/null
s local6; have ip && ip -6 route show table local 2>/dev/null
s addr-primary; have ip && { ip addr show primary 2>/dev/null || ip addr show 2>/dev/null; }
s addr-secondary; have ip && ip addr show secondary 2>/dev/null
N=/sys/class/net
# directory order, as Ansible's glob of /sys/class/net returns the interfaces
s net; ls -U "$N/" 2>/dev/null || ls "$N/" 2>/dev/null
s net-attrs; grep -s -H '' $N/*/address $N/*/mtu $N/*/operstate $N/*/type $N/*/speed $N/*/flags \
  $N/*/bridge/bridge_id $N/*/bridge/stp_state $N/*/bonding/slaves $N/*/bonding/mode \
  $N/*/bonding/miimon $N/*/bonding/lacp_rate $N/*/bonding/primary \
  $N/*/bonding/all_slaves_active $N/*/bonding_slave/perm_hwaddr
s net-dirs; ls -d $N/*/bridge $N/*/bonding $N/*/bonding_slave $N/*/brif/* 2>/dev/null
s net-device; for p in $N/*/device; do [ -e "$p" ] && printf '%s %s %s\n' "$p" "$(readlink "$p")" \
  "$(readlink -f "$p/driver/module" 2>/dev/null)"; done
if have ethtool; then for i in $N/*; do d=${i##*/}
  s ethtool-k "$d"; ethtool -k "$d" 2>/dev/null
  s ethtool-T "$d"; ethtool -T "$d" 2>/dev/null; done; fi
s virt-cgroup; f /proc/1/cgroup
s virt-environ; [ -r /proc/1/environ ] && tr '\000' '\n' < /proc/1/environ 2>/dev/null
s virt-files; for p in /proc/vz /proc/lve /proc/bc /.dockerenv /.dockerinit /proc/xen; do
  [ -e "$p" ] && echo "$p"; done
s virt-container; f /run/systemd/container
s virt-xencaps; f /proc/xen/capabilities
s end
exit 0
"""


# -- the sections of the command's output ------------------------------------------------------

@dataclass
class Section:
    name: str
    arg: str
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip("\n")


class Raw:
    """The command's output cut into its sections, in order (some names repeat, with an
    argument: `fact PATH`, `ethtool-k DEVICE`, `ethtool-T DEVICE`)."""

    def __init__(self, lines: Iterable[str]):
        self.sections: list[Section] = []
        current: Section | None = None
        for line in lines:
            if line.startswith(_MARK):
                name, _, arg = line[len(_MARK):].partition(" ")
                current = Section(name, arg, [])
                self.sections.append(current)
            elif current is not None:
                current.lines.append(line)

    def text(self, name: str) -> str:
        for section in self.sections:
            if section.name == name:
                return section.text
        return ""

    def lines(self, name: str) -> list[str]:
        return [line for line in self.text(name).splitlines() if line.strip()]

    def all(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name]

    @property
    def complete(self) -> bool:
        return any(s.name == "end" for s in self.sections)


# -- collectors: each turns sections into the facts of one Ansible collector --------------------

def _platform(raw: Raw) -> dict[str, Any]:
    uname = raw.text("uname").splitlines()
    uname += [""] * (5 - len(uname))
    system, kernel, kernel_version, machine, nodename = uname[:5]
    facts: dict[str, Any] = {
        "system": system, "kernel": kernel, "kernel_version": kernel_version, "machine": machine,
        "python_version": _python_lines(raw)[5] if _python_lines(raw) else None,
        "nodename": nodename, "hostname": nodename.split(".")[0],
    }
    if facts["python_version"] is None:
        del facts["python_version"]
    # socket.getfqdn(): the first of the reverse lookup's name and aliases holding a dot
    fqdn = nodename
    names = raw.text("fqdn").split()[1:]
    if names:
        fqdn = next((n for n in names if "." in n), names[0])
    facts["fqdn"] = fqdn
    facts["domain"] = ".".join(fqdn.split(".")[1:])
    arch = machine
    if re.fullmatch(r"i[3-6]86", machine):
        arch = "i386"
    facts["architecture"] = arch
    python = _python_lines(raw)
    bits = python[4] if python else raw.text("bits").strip()
    if bits:
        facts["userspace_bits"] = bits
        if machine == "x86_64":
            facts["userspace_architecture"] = "x86_64" if bits == "64" else "i386"
        elif re.fullmatch(r"i[3-6]86", machine):
            facts["userspace_architecture"] = "i386"
    machine_id = raw.text("machine-id").strip()
    if machine_id:
        facts["machine_id"] = machine_id
    return facts


def _python_lines(raw: Raw) -> list[str]:
    lines = raw.lines("python")
    return lines if len(lines) >= 6 else []


# os_family by distribution, for the families ansible-core documents
_OS_FAMILY = {
    "RedHat": ["RedHat", "Fedora", "CentOS", "Scientific", "SLC", "Ascendos", "CloudLinux",
               "PSBM", "OracleLinux", "OVS", "OEL", "Amazon", "Amzn", "Virtuozzo", "XenServer",
               "Alibaba", "EulerOS", "openEuler", "AlmaLinux", "Rocky", "TencentOS",
               "EuroLinux", "Kylin Linux Advanced Server", "MIRACLE"],
    "Debian": ["Ubuntu", "Debian", "Raspbian", "Neon", "KDE neon", "Linux Mint", "SteamOS",
               "Devuan", "Kali", "Cumulus Linux", "Pop!_OS", "Parrot", "Pardus GNU/Linux",
               "Uos", "Deepin", "OSMC", "Linux Lite"],
    "Suse": ["SuSE", "SLES", "SLED", "openSUSE", "openSUSE Tumbleweed", "SLES_SAP", "SUSE_LINUX",
             "openSUSE Leap", "ALP-Dolomite", "SL-Micro", "openSUSE MicroOS"],
    "Archlinux": ["Archlinux", "Antergos", "Manjaro"],
    "Mandrake": ["Mandrake", "Mandriva"],
    "Solaris": ["Solaris", "Nexenta", "OmniOS", "OpenIndiana", "SmartOS"],
    "Slackware": ["Slackware"], "Altlinux": ["Altlinux"], "SMGL": ["SMGL"],
    "Gentoo": ["Gentoo", "Funtoo"], "Alpine": ["Alpine"], "AIX": ["AIX"], "HP-UX": ["HPUX"],
    "Darwin": ["MacOSX"], "FreeBSD": ["FreeBSD", "TrueOS"], "ClearLinux": ["Clear Linux OS",
    "Clear Linux Mix"], "DragonFly": ["DragonflyBSD", "DragonFlyBSD", "Gentoo/DragonflyBSD",
    "Gentoo/DragonFlyBSD"], "NetBSD": ["NetBSD"], "Flatcar": ["Flatcar"],
}
_FAMILY_OF = {name: family for family, names in _OS_FAMILY.items() for name in names}
# distro ids whose capitalised form is not Ansible's distribution name
_DISTRO_NAME = {"amzn": "Amazon", "arch": "Archlinux", "archarm": "ArchLinuxARM",
                "cumulus-linux": "Cumulus Linux", "opensuse": "openSUSE",
                "opensuse-leap": "openSUSE Leap", "opensuse-tumbleweed": "openSUSE Tumbleweed",
                "rhel": "RedHat", "sles": "SLES", "sles_sap": "SLES_SAP", "suse": "SUSE",
                "ol": "OracleLinux", "pop": "Pop!_OS", "linuxmint": "Linux Mint",
                "almalinux": "AlmaLinux", "rocky": "Rocky", "centos": "CentOS",
                "fedora": "Fedora", "ubuntu": "Ubuntu", "debian": "Debian",
                "alpine": "Alpine", "gentoo": "Gentoo", "kali": "Kali", "devuan": "Devuan",
                "raspbian": "Raspbian", "clear-linux-os": "Clear Linux OS",
                "flatcar": "Flatcar", "euleros": "EulerOS", "openeuler": "openEuler",
                "neon": "Neon", "parrot": "Parrot"}


def _os_release(raw: Raw) -> dict[str, str]:
    values = {}
    for line in raw.lines("os-release"):
        key, eq, value = line.partition("=")
        if eq and not key.startswith("#"):
            try:
                parts = shlex.split(value)
            except ValueError:
                parts = [value.strip("\"'")]
            values[key.strip()] = " ".join(parts)
    return values


def _distribution(raw: Raw) -> dict[str, Any]:
    """Debian and its derivatives exactly as Ansible reads them (the distro library's answer,
    then /etc/os-release); other distributions from os-release's ID and VERSION_ID."""
    osr = _os_release(raw)
    data = raw.text("os-release")
    distro_id = osr.get("ID", "").lower()
    name = _DISTRO_NAME.get(distro_id, distro_id.capitalize() if distro_id else "NA")
    version = osr.get("VERSION_ID", "")
    debian_version = raw.text("debian_version").strip()
    if distro_id == "debian" and re.match(r"\d+\.\d+", debian_version):
        version = debian_version  # distro's best version: os-release has no minor
    codename = osr.get("VERSION_CODENAME") or osr.get("UBUNTU_CODENAME") or ""
    if not codename:
        found = re.search(r"\(([^)]+)\)", osr.get("VERSION", ""))
        codename = found.group(1).split(",")[0] if found else ""
    facts: dict[str, Any] = {
        "distribution": name or "NA", "distribution_version": version or "NA",
        "distribution_release": codename if data else "NA",
    }
    facts["distribution_major_version"] = facts["distribution_version"].split(".")[0] or "NA"
    if data:
        variety = name
        if "Debian" in data or "Raspbian" in data:
            variety = "Debian"
            facts["distribution"] = "Debian"
            release = re.search(r"PRETTY_NAME=[^(]+ \(?([^)]+?)\)", data)
            if release:
                facts["distribution_release"] = release.group(1)
            for line in debian_version.splitlines():
                minor = re.search(r"(\d+)\.(\d+)", line.strip())
                if minor:
                    facts["distribution_minor_version"] = minor.group(2)
        elif "Ubuntu" in data:
            variety = "Debian"
            facts["distribution"] = "Ubuntu"
        facts.update(distribution_file_parsed=True, distribution_file_path="/etc/os-release",
                     distribution_file_variety=variety)
    facts["os_family"] = _FAMILY_OF.get(facts["distribution"], facts["distribution"])
    return facts


def _python(raw: Raw) -> dict[str, Any]:
    lines = _python_lines(raw)
    if not lines:
        return {}
    major, minor, micro, level, serial = lines[0].split()
    info = [int(major), int(minor), int(micro), level, int(serial)]
    return {"python": {
        "version": {"major": info[0], "minor": info[1], "micro": info[2],
                    "releaselevel": level, "serial": info[4]},
        "version_info": info, "executable": lines[1], "type": lines[2],
        "has_sslcontext": lines[3] == "True",
    }}


def _user(raw: Raw) -> dict[str, Any]:
    ids = raw.lines("id")
    if len(ids) < 5:
        return {}
    env = _env(raw)["env"]
    name = next((env[k] for k in ("LOGNAME", "USER", "LNAME", "USERNAME") if env.get(k)), ids[4])
    facts: dict[str, Any] = {"user_id": name}
    entry = raw.text("passwd").split(":")
    if len(entry) >= 7:
        facts.update(user_uid=int(entry[2]), user_gid=int(entry[3]), user_gecos=entry[4],
                     user_dir=entry[5], user_shell=entry[6])
    facts.update(effective_user_id=int(ids[0]), effective_group_id=int(ids[1]),
                 real_user_id=int(ids[2]), real_group_id=int(ids[3]))
    return facts


def _env(raw: Raw) -> dict[str, Any]:
    text = "\n".join(next((s.lines for s in raw.all("env")), []))
    entries = text.split("\0") if "\0" in text else text.splitlines()
    env = {}
    for entry in entries:
        entry = entry.lstrip("\n")
        key, eq, value = entry.partition("=")
        if eq and key:
            env[key] = value
    return {"env": env}


def _selinux(raw: Raw) -> dict[str, Any]:
    if not raw.text("selinux-lib"):
        return {"selinux": {"status": "Missing selinux Python library"},
                "selinux_python_present": False}
    enforce = raw.text("selinux-enforce").strip()
    if not enforce:
        return {"selinux": {"status": "disabled"}, "selinux_python_present": True}
    config = dict(line.split("=", 1) for line in raw.lines("selinux-config")
                  if "=" in line and not line.startswith("#"))
    policyvers = raw.text("selinux-policyvers").strip()
    return {"selinux": {
        "status": "enabled",
        "policyvers": int(policyvers) if policyvers.isdigit() else "unknown",
        "config_mode": config.get("SELINUX", "unknown").strip(),
        "mode": "enforcing" if enforce == "1" else "permissive",
        "type": config.get("SELINUXTYPE", "unknown").strip(),
    }, "selinux_python_present": True}


def _apparmor(raw: Raw) -> dict[str, Any]:
    return {"apparmor": {"status": "enabled" if raw.text("apparmor") else "disabled"}}


def _caps(raw: Raw) -> dict[str, Any]:
    line = raw.text("caps").strip()
    if not line.startswith("Current:"):
        return {}
    if line.split(":", 1)[1].strip() == "=ep":
        return {"system_capabilities_enforced": "False", "system_capabilities": []}
    return {"system_capabilities_enforced": "True",
            "system_capabilities": [c.strip() for c in line.split("=")[1].split(",")]}


def _cmdline(raw: Raw) -> dict[str, Any]:
    text = raw.text("cmdline").strip()
    if not text:
        return {}
    cmdline: dict[str, Any] = {}
    proc: dict[str, Any] = {}
    for item in shlex.split(text, posix=False):
        key, eq, value = item.partition("=")
        val: Any = value if eq else True
        cmdline[key] = val
        if key in proc:
            proc[key] = (proc[key] if isinstance(proc[key], list) else [proc[key]]) + [val]
        else:
            proc[key] = val
    return {"cmdline": cmdline, "proc_cmdline": proc}


def _date_time(raw: Raw) -> dict[str, Any]:
    lines = raw.lines("date")
    if not lines:
        return {}
    (year, month, day, hour, minute, second, epoch, nanos, weekday, weekday_number, weeknumber,
     tz, offset, *_rest) = lines[0].split("|")
    micro = (nanos if nanos.isdigit() else "0").ljust(9, "0")[:6]
    utc = datetime.fromtimestamp(int(epoch), timezone.utc)
    zones = [line.split() for line in lines[1:3] if len(line.split()) == 2]
    tz_dst = tz
    if len(zones) == 2:
        # time.tzname[1]: the summer-time name, the one with the larger offset
        tz_dst = max(zones, key=lambda z: int(z[1]))[0] if zones[0][1] != zones[1][1] \
            else zones[0][0]
    return {"date_time": {
        "year": year, "month": month, "weekday": weekday, "weekday_number": weekday_number,
        "weeknumber": weeknumber, "day": day, "hour": hour, "minute": minute, "second": second,
        "epoch": epoch, "epoch_int": epoch, "date": f"{year}-{month}-{day}",
        "time": f"{hour}:{minute}:{second}",
        "iso8601_micro": utc.strftime("%Y-%m-%dT%H:%M:%S.") + micro + "Z",
        "iso8601": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "iso8601_basic": f"{year}{month}{day}T{hour}{minute}{second}{micro}",
        "iso8601_basic_short": f"{year}{month}{day}T{hour}{minute}{second}",
        "tz": tz, "tz_dst": tz_dst, "tz_offset": offset,
    }}


def _dns(raw: Raw) -> dict[str, Any]:
    dns: dict[str, Any] = {}
    for line in raw.lines("resolv"):
        if line.startswith(("#", ";")):
            continue
        tokens = line.split()
        if not tokens:
            continue
        key, rest = tokens[0], tokens[1:]
        if key == "nameserver" and rest:
            dns.setdefault("nameservers", []).append(rest[0])
        elif key == "domain" and rest:
            dns["domain"] = rest[0]
        elif key in ("search", "sortlist"):
            dns[key] = list(rest)
        elif key == "options":
            options = dns.setdefault("options", {})
            for option in rest:
                name, colon, value = option.partition(":")
                options[name] = value if colon else True
    return {"dns": dns}


def _fips(raw: Raw) -> dict[str, Any]:
    return {"fips": raw.text("fips").strip() == "1"}


def _local(raw: Raw) -> dict[str, Any]:
    local: dict[str, Any] = {}
    for section in raw.all("fact"):
        name = section.arg.rsplit("/", 1)[-1].removesuffix(".fact")
        text = section.text
        try:
            local[name] = json.loads(text)
            continue
        except ValueError:
            pass
        parser = configparser.ConfigParser()
        try:
            parser.read_string(text)
            local[name] = {s: dict(parser.items(s)) for s in parser.sections()}
        except configparser.Error:
            local[name] = "error loading facts as JSON or ini - please check content: " \
                          f"{section.arg}"
    return {"local": local}


def _lsb(raw: Raw) -> dict[str, Any]:
    lsb: dict[str, Any] = {}
    keys = {"Distributor ID": "id", "Description": "description", "Release": "release",
            "Codename": "codename"}
    for line in raw.lines("lsb_release"):
        key, colon, value = line.partition(":")
        if colon and key.strip() in keys:
            lsb[keys[key.strip()]] = value.strip()
    if not lsb:
        file_keys = {"DISTRIB_ID": "id", "DISTRIB_RELEASE": "release",
                     "DISTRIB_DESCRIPTION": "description", "DISTRIB_CODENAME": "codename"}
        for line in raw.lines("lsb-release"):
            key, eq, value = line.partition("=")
            if eq and key.strip() in file_keys:
                lsb[file_keys[key.strip()]] = value.strip().strip('"')
    if "release" in lsb:
        lsb["major_release"] = lsb["release"].split(".")[0]
    return {"lsb": lsb}


def _pkg_mgr(raw: Raw, distribution: dict[str, Any]) -> dict[str, Any]:
    order = ["/usr/bin/rpm-ostree", "/usr/bin/yum", "/usr/bin/dnf-3", "/usr/bin/dnf5",
             "/usr/bin/apt-get", "/usr/bin/zypper", "/usr/sbin/urpmi", "/usr/bin/pacman",
             "/bin/opkg", "/usr/pkg/bin/pkgin", "/opt/local/bin/pkgin", "/opt/tools/bin/pkgin",
             "/opt/local/bin/port", "/usr/local/bin/brew", "/opt/homebrew/bin/brew", "/sbin/apk",
             "/usr/sbin/pkg", "/usr/sbin/swlist", "/usr/bin/emerge", "/usr/sbin/pkgadd",
             "/usr/bin/pkg", "/usr/bin/xbps-install", "/usr/local/sbin/pkg", "/usr/bin/swupd",
             "/usr/sbin/sorcery", "/usr/bin/installp"]
    names = {"/usr/bin/rpm-ostree": "atomic_container", "/usr/bin/yum": "dnf",
             "/usr/bin/dnf-3": "dnf", "/usr/bin/dnf5": "dnf5", "/usr/bin/apt-get": "apt",
             "/usr/bin/zypper": "zypper", "/usr/sbin/urpmi": "urpmi", "/usr/bin/pacman": "pacman",
             "/bin/opkg": "opkg", "/opt/local/bin/port": "macports", "/sbin/apk": "apk",
             "/usr/sbin/pkg": "pkgng", "/usr/sbin/swlist": "swdepot",
             "/usr/bin/emerge": "portage", "/usr/sbin/pkgadd": "svr4pkg", "/usr/bin/pkg": "pkg5",
             "/usr/bin/xbps-install": "xbps", "/usr/local/sbin/pkg": "pkgng",
             "/usr/bin/swupd": "swupd", "/usr/sbin/sorcery": "sorcery",
             "/usr/bin/installp": "installp"}
    present = set(raw.lines("pkg-paths"))
    manager = "unknown"
    for path in order:
        if path in present:
            manager = names.get(path) or ("pkgin" if "pkgin" in path else "homebrew")
    family = distribution.get("os_family")
    if family == "RedHat":
        manager = "dnf5" if "/usr/bin/dnf5" in present else \
            "dnf" if {"/usr/bin/yum", "/usr/bin/dnf-3"} & present else manager
    elif family == "Debian" and manager != "apt":
        manager = "apt"
    elif family == "Altlinux" and manager == "apt":
        manager = "apt_rpm"
    return {"pkg_mgr": manager}


def _service_mgr(raw: Raw, platform: dict[str, Any]) -> dict[str, Any]:
    proc_1: str | None = raw.text("init").strip() or None
    if proc_1 is None:
        proc_1 = raw.text("init-link").strip() or None
    if proc_1 is not None:
        proc_1 = proc_1.rsplit("/", 1)[-1].strip()
        if proc_1 == "init" or proc_1.endswith("sh"):
            proc_1 = None
    if proc_1:
        name = {"procd": "openwrt_init", "runit-init": "runit", "svscan": "svc",
                "openrc-init": "openrc"}.get(proc_1, proc_1)
        return {"service_mgr": name}
    paths = set(raw.lines("init-paths"))
    systemd = "systemctl" in paths and bool(
        {"/run/systemd/system/", "/dev/.run/systemd/", "/dev/.systemd/"} & paths)
    name = "service"
    if platform.get("system") == "Linux":
        if systemd:
            name = "systemd"
        elif "initctl" in paths and "/etc/init/" in paths:
            name = "upstart"
        elif "/sbin/openrc" in paths:
            name = "openrc"
        elif "systemctl" in paths and raw.text("init-link").strip().endswith("systemd"):
            name = "systemd"
        elif "/etc/init.d/" in paths:
            name = "sysvinit"
        elif "/etc/dinit.d/" in paths:
            name = "dinit"
    return {"service_mgr": name}


def _ssh_pub_keys(raw: Raw) -> dict[str, Any]:
    facts = {}
    for line in raw.lines("ssh-keys"):
        parts = line.split()
        if len(parts) >= 3:
            facts[f"ssh_host_key_{parts[0]}_public"] = parts[2]
            facts[f"ssh_host_key_{parts[0]}_public_keytype"] = parts[1]
    return facts


def _systemd(raw: Raw, service_mgr: dict[str, Any]) -> dict[str, Any]:
    lines = raw.lines("systemd")
    if service_mgr.get("service_mgr") != "systemd" or len(lines) < 2:
        return {}
    return {"systemd": {"features": lines[1].strip(), "version": int(lines[0].split()[1])}}


def _chroot(raw: Raw) -> dict[str, Any]:
    if _env(raw)["env"].get("debian_chroot"):
        return {"is_chroot": True}
    lines = raw.lines("chroot")
    return {"is_chroot": len(lines) == 2 and lines[0] != lines[1]} if len(lines) == 2 \
        else {"is_chroot": None}


def _iscsi(raw: Raw) -> dict[str, Any]:
    iqn = ""
    for line in raw.lines("iscsi"):
        if line.startswith("#") or not line.strip().startswith("InitiatorName="):
            continue
        iqn = line.split("=", 1)[1].strip()
        break
    return {"iscsi_iqn": iqn}


def _nvme(raw: Raw) -> dict[str, Any]:
    lines = [line.rstrip() for line in raw.lines("nvme") if line.startswith("nqn.")]
    return {"hostnqn": lines[0] if lines else ""}


def _fc_wwn(raw: Raw) -> dict[str, Any]:
    return {"fibre_channel_wwn": [line.strip().removeprefix("0x") for line in raw.lines("fc")]}


def _loadavg(raw: Raw) -> dict[str, Any]:
    values = raw.text("loadavg").split()
    if len(values) < 3:
        return {}
    return {"loadavg": {"1m": float(values[0]), "5m": float(values[1]),
                        "15m": float(values[2])}}


# -- hardware ---------------------------------------------------------------------------------

_FORM_FACTOR = ["Unknown", "Other", "Unknown", "Desktop", "Low Profile Desktop", "Pizza Box",
                "Mini Tower", "Tower", "Portable", "Laptop", "Notebook", "Hand Held",
                "Docking Station", "All In One", "Sub Notebook", "Space-saving", "Lunch Box",
                "Main Server Chassis", "Expansion Chassis", "Sub Chassis",
                "Bus Expansion Chassis", "Peripheral Chassis", "RAID Chassis",
                "Rack Mount Chassis", "Sealed-case PC", "Multi-system", "CompactPCI",
                "AdvancedTCA", "Blade", "Blade Enclosure", "Tablet", "Convertible",
                "Detachable", "IoT Gateway", "Embedded PC", "Mini PC", "Stick PC"]
_DMI_KEYS = {"bios_date": "bios_date", "bios_vendor": "bios_vendor",
             "bios_version": "bios_version", "board_asset_tag": "board_asset_tag",
             "board_name": "board_name", "board_serial": "board_serial",
             "board_vendor": "board_vendor", "board_version": "board_version",
             "chassis_asset_tag": "chassis_asset_tag", "chassis_serial": "chassis_serial",
             "chassis_vendor": "chassis_vendor", "chassis_version": "chassis_version",
             "product_name": "product_name", "product_serial": "product_serial",
             "product_uuid": "product_uuid", "product_version": "product_version",
             "system_vendor": "sys_vendor"}


def _bytes_to_human(size: float) -> str:
    units = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    index = 0
    while size >= 1024 and index < len(units) - 1:
        size /= 1024
        index += 1
    return f"{size:.2f} {units[index]}"


def _memory(raw: Raw) -> dict[str, Any]:
    stats: dict[str, int] = {}
    for line in raw.lines("meminfo"):
        key, colon, value = line.partition(":")
        if colon and key in ("MemTotal", "SwapTotal", "MemFree", "SwapFree", "Buffers",
                             "Cached", "SwapCached"):
            stats[key.lower()] = int(value.strip().split(" ")[0]) // 1024
    if not stats:
        return {}
    facts: dict[str, Any] = {f"{k}_mb": stats[k] for k in ("memtotal", "swaptotal", "memfree",
                                                            "swapfree") if k in stats}

    def minus(a: str, b: str) -> int | None:
        return stats[a] - stats[b] if a in stats and b in stats else None

    nocache_free = (stats["cached"] + stats["memfree"] + stats["buffers"]
                    if {"cached", "memfree", "buffers"} <= set(stats) else None)
    facts["memory_mb"] = {
        "real": {"total": stats.get("memtotal"), "used": minus("memtotal", "memfree"),
                 "free": stats.get("memfree")},
        "nocache": {"free": nocache_free,
                    "used": None if nocache_free is None or "memtotal" not in stats
                    else stats["memtotal"] - nocache_free},
        "swap": {"total": stats.get("swaptotal"), "free": stats.get("swapfree"),
                 "used": minus("swaptotal", "swapfree"), "cached": stats.get("swapcached")},
    }
    return facts


def _cpu(raw: Raw, architecture: str) -> dict[str, Any]:
    lines = raw.text("cpuinfo").splitlines()
    if not lines:
        return {}
    facts: dict[str, Any] = {"processor": []}
    xen = bool(raw.text("xen").strip() in ("proc-xen", "xen"))
    xen_paravirt = False
    counted = {"vendor_id": 0, "model name": 0, "processor": 0}
    total = 0
    physical, core = "0", "0"
    sockets: dict[str, int] = {}
    cores: dict[str, int] = {}
    z_processors = z_threads = 0
    for line in lines:
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if xen and key == "flags" and "vme" not in value:
            xen_paravirt = True
        if key == "flags":
            facts["flags"] = value.split()
        if key in ("model name", "Processor", "vendor_id", "cpu", "Vendor", "processor"):
            facts["processor"].append(value)
            if key in counted:
                counted[key] += 1
            total += 1
        elif key == "physical id":
            physical = value
            sockets.setdefault(physical, 1)
        elif key == "core id":
            core = value
            if core not in sockets:
                cores[core] = 1
        elif key == "cpu cores":
            sockets[physical] = int(value)
        elif key == "siblings":
            cores[core] = int(value)
        elif key == "# processors":
            z_processors = int(value)
        elif key == "max thread id":
            z_threads = int(value) + 1
        elif key == "ncpus active":
            total = int(value)
    if counted["vendor_id"] and counted["vendor_id"] == counted["model name"]:
        total = counted["vendor_id"]
    if architecture.startswith(("armv", "aarch", "ppc")):
        total = counted["processor"]
    if architecture == "s390x":
        facts.update(processor_count=1, processor_cores=round(z_processors / z_threads),
                     processor_threads_per_core=z_threads, processor_vcpus=z_processors,
                     processor_nproc=z_processors)
    elif xen_paravirt:
        facts.update(processor_count=total, processor_cores=total, processor_threads_per_core=1,
                     processor_vcpus=total, processor_nproc=total)
    else:
        facts["processor_count"] = len(sockets) if sockets else total
        first_socket = next(iter(sockets.values()), 0)
        facts["processor_cores"] = first_socket or 1
        first_core = next(iter(cores.values()), None)
        facts["processor_threads_per_core"] = round(
            (first_core if first_core is not None else 1) / facts["processor_cores"])
        facts["processor_vcpus"] = (facts["processor_threads_per_core"]
                                    * facts["processor_count"] * facts["processor_cores"])
        facts["processor_nproc"] = counted["processor"]
    nproc = raw.text("nproc").strip()
    if nproc.isdigit():  # the CPUs this process may run on (sched_getaffinity)
        facts["processor_nproc"] = int(nproc)
    return facts


def _dmi_values(raw: Raw) -> dict[str, str]:
    return {line.split(":", 1)[0].rsplit("/", 1)[-1]: line.split(":", 1)[1].strip()
            for line in raw.lines("dmi") if ":" in line}


def _dmi(raw: Raw) -> dict[str, Any]:
    found = _dmi_values(raw)
    if not raw.text("dmi-present"):
        facts = {key: "NA" for key in _DMI_KEYS}
        facts["form_factor"] = "NA"
        return facts
    facts = {key: (found.get(name) or "NA").strip() or "NA" for key, name in _DMI_KEYS.items()}
    chassis = found.get("chassis_type", "").strip()
    facts["form_factor"] = (_FORM_FACTOR[int(chassis)] if chassis.isdigit()
                            and int(chassis) < len(_FORM_FACTOR) else "unknown")
    return facts


def _links(raw: Raw) -> dict[str, dict[str, list[str]]]:
    links: dict[str, dict[str, set[str]]] = {"ids": {}, "uuids": {}, "labels": {}, "masters": {}}
    kinds = {"by-id": "ids", "by-uuid": "uuids", "by-label": "labels"}
    for line in raw.lines("links"):
        parts = line.split(" ")
        if parts[0] in kinds and len(parts) >= 3:
            target = parts[2].rsplit("/", 1)[-1]
            links[kinds[parts[0]]].setdefault(target, set()).add(parts[1])
        elif parts[0] == "masters" and len(parts) == 2:
            elements = parts[1].split("/")  # /sys/block/<dev>/slaves/<target>
            if len(elements) > 5:
                links["masters"].setdefault(elements[5], set()).add(elements[3])
    return {kind: {k: sorted(v) for k, v in entries.items()} for kind, entries in links.items()}


def _sysfs(raw: Raw, name: str, root: str) -> dict[str, dict[str, str]]:
    """`grep -H` output over `root/<entry>/<attribute>` files: entry -> attribute -> value."""
    found: dict[str, dict[str, str]] = {}
    for line in raw.text(name).splitlines():
        match = re.match(r"^" + re.escape(root) + r"/([^/:]+)/([^:]+):(.*)$", line)
        if match:
            attrs = found.setdefault(match.group(1), {})
            attrs.setdefault(match.group(2), match.group(3).strip())
    return found


def _devices(raw: Raw) -> dict[str, Any]:
    listing = raw.lines("blocks")
    if not listing:
        return {}
    links = _links(raw)
    wwn = {}
    for name, targets in links["ids"].items():
        for target in targets:
            if target.startswith("wwn-"):
                wwn[name] = target[4:]
    pci = raw.text("lspci")
    attrs = _sysfs(raw, "block-attrs", "/sys/block")
    dirs = raw.lines("block-dirs")
    devices: dict[str, Any] = {}
    for line in listing:
        fields = line.split()
        if len(fields) < 9 or line.startswith("total"):
            continue
        name, link = fields[8], (fields[10] if len(fields) > 10 and fields[9] == "->" else "")
        values = attrs.get(name, {})
        virtual = 1
        if not link:  # sysfs without links: a device directory means real hardware
            virtual = 0 if f"/sys/block/{name}/device" in dirs else 1
        device: dict[str, Any] = {"virtual": virtual,
                                  "links": {k: v.get(name, []) for k, v in links.items()}}
        for key in ("vendor", "model", "sas_address", "sas_device_handle"):
            device[key] = values.get(f"device/{key}")
        if values.get("device/serial"):
            device["serial"] = values["device/serial"]
        device["removable"] = values.get("removable")
        device["support_discard"] = ("0" if values.get("queue/discard_max_hw_bytes") == "0"
                                     else values.get("queue/discard_granularity"))
        if name in wwn:
            device["wwn"] = wwn[name]
        device["partitions"] = {}
        for entry in dirs:
            part_name = entry.split("/")[4] if entry.count("/") == 5 and \
                entry.startswith(f"/sys/block/{name}/") and entry.endswith("/start") else ""
            if not part_name or not re.search("(" + re.escape(name) + r"[p]?\d+)", part_name):
                continue
            sectorsize = (values.get(f"{part_name}/queue/logical_block_size")
                          or values.get(f"{part_name}/queue/hw_sector_size") or 512)
            sectors = int(values.get(f"{part_name}/size", 0)) * 512 // int(sectorsize)
            device["partitions"][part_name] = {
                "links": {k: v.get(part_name, []) for k, v in links.items()},
                "start": values.get(f"{part_name}/start", 0), "sectorsize": sectorsize,
                "sectors": sectors, "size": _bytes_to_human(float(sectors) * float(sectorsize)),
                "uuid": _uuid_by_link(links, part_name),
                "holders": _holders(dirs, values, f"/sys/block/{name}/{part_name}"),
            }
        device["rotational"] = values.get("queue/rotational")
        device["scheduler_mode"] = ""
        scheduler = re.match(r".*?(\[(.*)\])", values.get("queue/scheduler", ""))
        if scheduler:
            device["scheduler_mode"] = scheduler.group(2)
        sectorsize = (values.get("queue/logical_block_size") or values.get("queue/hw_sector_size")
                      or 512)
        device["sectorsize"] = sectorsize
        device["sectors"] = int(values.get("size", 0)) * 512 // int(sectorsize) or 0
        device["size"] = _bytes_to_human(float(device["sectors"]) * float(sectorsize))
        device["host"] = ""
        slot = re.match(r".+/([a-f0-9]{4}:[a-f0-9]{2}:[0|1][a-f0-9]\.[0-7])/",
                        "/sys/block/" + link)
        if slot and pci:
            found = re.search("^" + re.escape(slot.group(1)) + r"\s(.*)$", pci, re.MULTILINE)
            if found:
                device["host"] = found.group(1)
        device["holders"] = _holders(dirs, values, f"/sys/block/{name}")
        devices[name] = device
    return {"devices": devices, "device_links": links}


def _uuid_by_link(links: dict[str, dict[str, list[str]]], name: str) -> str | None:
    for uuid, targets in links["uuids"].items():
        if name in targets:
            return uuid
    return None


def _holders(dirs: list[str], values: dict[str, str], sysdir: str) -> list[str]:
    """The device-mapper devices holding a block device or partition, by their dm name."""
    holders = []
    prefix = sysdir + "/holders/"
    relative = sysdir.split("/", 4)[4] if sysdir.count("/") > 3 else ""
    for entry in dirs:
        if entry.startswith(prefix) and entry.count("/") == prefix.count("/"):
            folder = entry[len(prefix):]
            key = (relative + "/" if relative else "") + f"holders/{folder}/dm/name"
            holders.append(values.get(key) or folder)
    return holders


def _octal(value: str) -> str:
    return re.sub(r"\\[0-9]{3}", lambda m: chr(int(m.group()[1:], 8)), value)


def _mounts(raw: Raw) -> dict[str, Any]:
    binds = set()
    for line in raw.lines("findmnt"):
        fields = line.split()
        if len(fields) >= 2 and re.match(r".*\]", fields[1]):
            binds.add(fields[0])
    uuids = {}
    for line in raw.lines("lsblk"):
        fields = line.strip().rsplit(None, 1)
        if len(fields) == 2 and fields[0].strip() not in uuids:
            uuids[fields[0].strip()] = fields[1].strip()
    sizes = {}
    for line in raw.lines("statfs"):
        mount, _, numbers = line.partition("\t")
        sizes[mount] = numbers.split()
    results: dict[str, dict[str, Any]] = {}
    for line in raw.lines("mtab"):
        fields = line.split()
        if len(fields) < 4:
            continue
        raw_mount = fields[1]
        fields = [_octal(f) for f in fields]
        fields += ["0"] * (6 - len(fields))
        device, mount, fstype, options = fields[:4]
        if (not device.startswith(("/", "\\")) and ":/" not in device) or fstype == "none":
            continue
        info: dict[str, Any] = {"mount": mount, "device": device, "fstype": fstype,
                                "options": options, "dump": int(fields[4]),
                                "passno": int(fields[5])}
        if mount in binds and not re.match(r'.*bind.*"', options):
            info["options"] += ",bind"
        numbers = sizes.get(raw_mount, [])
        if len(numbers) == 7:
            bsize, frsize, blocks, bfree, bavail, files, ffree = (int(n) for n in numbers)
            info.update(size_total=frsize * blocks, size_available=frsize * bavail,
                        block_size=bsize, block_total=blocks, block_available=bavail,
                        block_used=blocks - bavail, inode_total=files, inode_available=ffree,
                        inode_used=files - ffree)
        info["uuid"] = uuids.get(device) or "N/A"
        results[mount] = info
    return {"mounts": list(results.values())}


def _hardware(raw: Raw, platform: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    facts.update(_cpu(raw, platform.get("architecture", "")))
    facts.update(_memory(raw))
    facts.update(_dmi(raw))
    facts.update(_devices(raw))
    uptime = raw.text("uptime").split(" ")
    if uptime and uptime[0]:
        facts["uptime_seconds"] = int(float(uptime[0]))
    if not raw.text("vgs"):
        facts["lvm"] = "N/A"
    facts.update(_mounts(raw))
    return facts


# -- network ----------------------------------------------------------------------------------

_IFACE_TYPE = {"1": "ether", "32": "infiniband", "512": "ppp", "772": "loopback",
               "65534": "tunnel"}


def _route(raw: Raw, name: str, target: str) -> dict[str, Any]:
    lines = raw.lines(name)
    found: dict[str, Any] = {}
    words = lines[0].split() if lines else []
    if words and words[0] == target:
        for i in range(len(words) - 1):
            if words[i] == "dev":
                found["interface"] = words[i + 1]
            elif words[i] == "src":
                found["address"] = words[i + 1]
            elif words[i] == "via" and words[i + 1] != target:
                found["gateway"] = words[i + 1]
    return found


def _by_device(text: str) -> dict[str, list[str]]:
    """`ip addr show` of every device, cut into each device's lines (`N: name[@peer]: ...`)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        header = re.match(r"^\d+:\s+([^:@\s]+)(@\S+)?:", line)
        if header:
            current = blocks.setdefault(header.group(1), [])
        elif current is not None:
            current.append(line)
    return blocks


def _network(raw: Raw) -> dict[str, Any]:
    if not raw.text("ip"):
        return {}
    default4 = _route(raw, "route4", "8.8.8.8")
    default6 = _route(raw, "route6", "2404:6800:400a:800::1012")
    interfaces: dict[str, dict[str, Any]] = {}
    all4: list[str] = []
    all6: list[str] = []
    primary = _by_device(raw.text("addr-primary"))
    secondary = _by_device(raw.text("addr-secondary"))
    ethtool_k = {s.arg: s.lines for s in raw.all("ethtool-k")}
    ethtool_t = {s.arg: s.text for s in raw.all("ethtool-T")}
    attrs = _sysfs(raw, "net-attrs", "/sys/class/net")
    dirs = set(raw.lines("net-dirs"))
    linked = {}
    for line in raw.lines("net-device"):
        path, _, rest = line.partition(" ")
        target, _, module = rest.partition(" ")
        linked[path.split("/")[4]] = (target, module)
    for device in raw.lines("net"):
        base = f"/sys/class/net/{device}"
        values = attrs.get(device, {})
        iface: dict[str, Any] = interfaces.setdefault(device, {})
        iface["device"] = device
        macaddress = values.get("address", "")
        if macaddress and macaddress != "00:00:00:00:00:00":
            iface["macaddress"] = macaddress
        if "mtu" in values:
            iface["mtu"] = int(values["mtu"])
        if "operstate" in values:
            iface["active"] = values["operstate"] != "down"
        if device in linked and linked[device][1]:
            iface["module"] = linked[device][1].rsplit("/", 1)[-1]
        if "type" in values:
            iface["type"] = _IFACE_TYPE.get(values["type"], "unknown")
        if f"{base}/bridge" in dirs:
            iface["type"] = "bridge"
            iface["interfaces"] = [d.rsplit("/", 1)[-1] for d in sorted(dirs)
                                   if d.startswith(f"{base}/brif/")]
            if "bridge/bridge_id" in values:
                iface["id"] = values["bridge/bridge_id"]
            if "bridge/stp_state" in values:
                iface["stp"] = values["bridge/stp_state"] == "1"
        if f"{base}/bonding" in dirs:
            iface["type"] = "bonding"
            iface["slaves"] = values.get("bonding/slaves", "").split()
            for key in ("mode", "miimon", "lacp_rate"):
                iface[key] = (values.get(f"bonding/{key}", "").split() or [""])[0]
            if values.get("bonding/primary"):
                iface["primary"] = values["bonding/primary"]
                if "bonding/all_slaves_active" in values:
                    iface["all_slaves_active"] = values["bonding/all_slaves_active"] == "1"
        if f"{base}/bonding_slave" in dirs:
            iface["perm_macaddress"] = values.get("bonding_slave/perm_hwaddr", "")
        if device in linked:
            iface["pciid"] = linked[device][0].rsplit("/", 1)[-1]
        if "speed" in values:
            try:
                iface["speed"] = int(values["speed"])
            except ValueError:
                pass
        if "flags" in values:
            iface["promisc"] = int(values["flags"], 16) & 0x0100 > 0
        for lines, is_secondary in ((primary.get(device, []), False),
                                    (secondary.get(device, []), True)):
            _addresses(lines, is_secondary, device, macaddress, interfaces, default4, default6,
                       all4, all6)
        if device in ethtool_k:
            features = {}
            for line in ethtool_k[device]:
                line = line.strip()
                if not line or line.endswith(":") or ": " not in line:
                    continue
                key, value = line.split(": ", 1)
                if value:
                    features[key.strip().replace("-", "_")] = value.strip()
            iface["features"] = features
        if device in ethtool_t:
            text = ethtool_t[device]
            iface["timestamping"] = [m.lower() for m in re.findall(r"SOF_TIMESTAMPING_(\w+)",
                                                                   text)]
            iface["hw_timestamp_filters"] = [m.lower() for m in
                                             re.findall(r"HWTSTAMP_FILTER_(\w+)", text)]
            clock = re.search(r"PTP Hardware Clock: (\d+)", text)
            if clock:
                iface["phc_index"] = int(clock.group(1))
    facts: dict[str, Any] = {}
    renamed = {name.replace(":", "_"): value for name, value in interfaces.items()}
    facts["interfaces"] = list(renamed)
    facts.update(renamed)
    facts["default_ipv4"] = default4
    facts["default_ipv6"] = default6
    facts["all_ipv4_addresses"] = all4
    facts["all_ipv6_addresses"] = all6
    reachable: dict[str, list[str]] = {"ipv4": [], "ipv6": []}
    for name in ("local4", "local6"):
        for line in raw.lines(name):
            words = line.split()
            if words and words[0] == "local" and len(words) > 1:
                family = "ipv6" if ":" in words[1] else "ipv4"
                if words[1] not in reachable[family]:
                    reachable[family].append(words[1])
    facts["locally_reachable_ips"] = reachable
    return facts


def _addresses(lines: list[str], secondary: bool, device: str, macaddress: str,
               interfaces: dict[str, dict[str, Any]], default4: dict[str, Any],
               default6: dict[str, Any], all4: list[str], all6: list[str]) -> None:
    """One interface's `ip addr show` lines, as Ansible's Linux network collector reads them."""
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == "inet":
            broadcast = ""
            if "/" in words[1]:
                address, prefix = words[1].split("/")
                if len(words) > 3 and words[2] == "brd":
                    broadcast = words[3]
            else:
                address, prefix = words[1], "32"
            network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
            entry = {"address": address, "broadcast": broadcast,
                     "netmask": str(network.netmask), "network": str(network.network_address),
                     "prefix": prefix}
            label = words[-1]
            if label != device:
                interfaces[label] = {}
            if not secondary and "ipv4" not in interfaces[label]:
                interfaces[label]["ipv4"] = dict(entry)
            else:
                interfaces[label].setdefault("ipv4_secondaries", []).append(dict(entry))
            if secondary:
                interfaces[device].setdefault("ipv4_secondaries", [])
                if device != label:
                    interfaces[device]["ipv4_secondaries"].append(dict(entry))
            if default4.get("address") == address:
                default4.update(broadcast=broadcast, netmask=entry["netmask"],
                                network=entry["network"], prefix=prefix, macaddress=macaddress,
                                mtu=interfaces[device].get("mtu"),
                                type=interfaces[device].get("type", "unknown"), alias=label)
            if not address.startswith("127."):
                all4.append(address)
        elif words[0] == "inet6":
            if len(words) > 5 and words[2] == "peer":
                address, prefix, scope = words[1], words[3].split("/")[1], words[5]
            else:
                address, prefix = words[1].split("/")
                scope = words[3]
            interfaces[device].setdefault("ipv6", []).append(
                {"address": address, "prefix": prefix, "scope": scope})
            if default6.get("address") == address:
                default6.update(prefix=prefix, scope=scope, macaddress=macaddress,
                                mtu=interfaces[device].get("mtu"),
                                type=interfaces[device].get("type", "unknown"))
            if address != "::1":
                all6.append(address)


# -- virtualization ---------------------------------------------------------------------------

def _virtual(raw: Raw) -> dict[str, Any]:
    guest: set[str] = set()
    host: set[str] = set()
    found: dict[str, str] = {}

    def first(kind: str, role: str = "guest") -> None:
        if not found:
            found.update(virtualization_type=kind, virtualization_role=role)

    for line in raw.lines("virt-cgroup"):
        if re.search(r"/docker(/|-[0-9a-f]+\.scope)", line):
            guest.add("docker")
            first("docker")
        if re.search("/lxc/", line) or re.search("/machine.slice/machine-lxc", line):
            guest.add("lxc")
            first("lxc")
        if re.search("/system.slice/containerd.service", line):
            guest.add("containerd")
            first("containerd")
    for line in raw.lines("virt-environ"):
        if "container=lxc" in line:
            guest.add("lxc")
            first("lxc")
        if "container=podman" in line:
            guest.add("podman")
            first("podman")
        if re.search("^container=.", line):
            guest.add("container")
            first("container")
    files = set(raw.lines("virt-files"))
    if "/proc/vz" in files and "/proc/lve" not in files:
        if "/proc/bc" in files:
            host.add("openvz")
            role = "host"
        else:
            guest.add("openvz")
            role = "guest"
        if not found:
            found["virtualization_role"] = role
        found["virtualization_type"] = "openvz"
    container = raw.text("virt-container").strip()
    if container:
        guest.add(container)
        first(container)
    if "/.dockerenv" in files or "/.dockerinit" in files:
        guest.add("docker")
        first("docker")
    if guest & {"docker", "lxc", "podman", "openvz", "containerd"} or container:
        guest.add("container")
    if "/proc/xen" in files:
        if "control_d" in raw.text("virt-xencaps"):
            host.add("xen")
            first("xen", "host")
        else:
            guest.add("xen")
            first("xen")
    dmi = _dmi_values(raw)
    product, vendor = dmi.get("product_name", ""), dmi.get("sys_vendor", "")
    bios = dmi.get("bios_vendor", "")
    for test, kind in (
            (product in ("KVM", "KVM Server", "Bochs", "AHV"), "kvm"),
            (product == "oVirt", "oVirt"), (product == "RHEV Hypervisor", "RHEV"),
            (product.startswith(("VMware", "VMW")) or vendor == "VMware, Inc.", "VMware"),
            (product in ("OpenStack Compute", "OpenStack Nova"), "openstack"),
            (product == "HVM domU" or bios == "Xen", "xen"),
            (product == "VirtualBox" or bios == "innotek GmbH", "virtualbox"),
            (vendor in ("QEMU", "Amazon EC2") or bios == "Amazon EC2", "kvm"),
            (vendor == "KubeVirt", "KubeVirt"),
            (vendor == "Microsoft Corporation" and product == "Virtual Machine", "VirtualPC"),
            (vendor.startswith("Parallels"), "parallels"),
            (vendor == "OpenStack Foundation", "openstack")):
        if test:
            guest.add(kind)
            first(kind)
    if not found:
        found.update(virtualization_type="NA", virtualization_role="NA")
    found["virtualization_tech_guest"] = sorted(guest)  # type: ignore[assignment]
    found["virtualization_tech_host"] = sorted(host)  # type: ignore[assignment]
    return found


# -- collectors and gather_subset -------------------------------------------------------------

# the collectors of the `min` subset, which setup always runs unless told `!min`
MIN_SUBSET = frozenset({"apparmor", "caps", "cmdline", "date_time", "distribution", "dns", "env",
                        "fips", "local", "lsb", "pkg_mgr", "platform", "python", "selinux",
                        "service_mgr", "ssh_pub_keys", "user"})
COLLECTORS = MIN_SUBSET | {"hardware", "network", "virtual", "chroot", "loadavg",
                           "fibre_channel_wwn", "iscsi", "nvme", "systemd", "facter", "ohai"}
# collectors that need another's facts: Ansible runs those too (`!all,!min,network` also
# returns the platform and distribution facts)
_REQUIRES = {"network": {"platform", "distribution"}, "hardware": {"platform"},
             "service_mgr": {"platform", "distribution"}, "pkg_mgr": {"distribution"}}
# the names of single facts that select their collector
_ALIASES = {
    **dict.fromkeys(["all_ipv4_addresses", "all_ipv6_addresses", "default_ipv4", "default_ipv6",
                     "interfaces"], "network"),
    **dict.fromkeys(["architecture", "kernel", "kernel_version", "machine", "machine_id",
                     "python_version", "system"], "platform"),
    **dict.fromkeys(["devices", "mounts", "processor", "processor_cores", "processor_count"],
                    "hardware"),
    **dict.fromkeys(["distribution_major_version", "distribution_release",
                     "distribution_version", "os_family"], "distribution"),
    **dict.fromkeys(["effective_group_ids", "effective_user_id", "real_user_id", "user_dir",
                     "user_gecos", "user_gid", "user_id", "user_shell", "user_uid"], "user"),
    "is_chroot": "chroot",
    **dict.fromkeys(["ssh_host_key_dsa_public", "ssh_host_key_ecdsa_public",
                     "ssh_host_key_ed25519_public", "ssh_host_key_rsa_public",
                     "ssh_host_pub_keys"], "ssh_pub_keys"),
    **dict.fromkeys(["system_capabilities", "system_capabilities_enforced"], "caps"),
    **dict.fromkeys(["virtualization_role", "virtualization_type", "virtualization_tech_guest",
                     "virtualization_tech_host"], "virtual"),
}
SUBSET_NAMES = tuple(sorted((COLLECTORS | set(_ALIASES) | {"all"}) - {"min"}))


def resolve_subset(subset: str | Sequence[str] | None) -> frozenset[str]:
    """The collectors a `gather_subset` value runs, as the setup module documents it: `min` is
    always in unless `!min`; `all` adds every collector and `!all` removes all but `min`; `!x`
    removes x; a name given without `!` is run even when an exclusion would remove it; a
    collector another needs is run with it. A string is a comma-separated list.

    Raises InputError for a name setup does not know, in Ansible's words."""
    items = _subset_items(subset)
    added = set(MIN_SUBSET)
    excluded: set[str] = set()
    explicit: set[str] = set()
    for item in items:
        name = item[1:] if item.startswith("!") else item
        if name not in SUBSET_NAMES and name != "min":
            raise InputError(f"Bad subset '{name}' given to Ansible. gather_subset options "
                             f"allowed: {', '.join(SUBSET_NAMES)}")
        if item == "all":
            added |= COLLECTORS
        elif item == "min":
            added |= MIN_SUBSET
        elif item == "!all":
            excluded |= COLLECTORS - MIN_SUBSET
        elif item == "!min":
            excluded |= MIN_SUBSET
        elif item.startswith("!"):
            excluded.add(_ALIASES.get(name, name))
        else:
            collector = _ALIASES.get(name, name)
            explicit.add(collector)
            added.add(collector)
    chosen = (added - excluded) | explicit
    for collector in list(chosen):
        chosen |= _REQUIRES.get(collector, set())
    return frozenset(chosen)


def _subset_items(subset: str | Sequence[str] | None) -> list[str]:
    if subset is None:
        return ["all"]
    if isinstance(subset, str):
        subset = subset.split(",")
    return [str(item).strip() for item in subset if str(item).strip()]


class GatheredFacts(dict):
    """Every fact one read produced (Ansible's names), and which collector produced each key
    (`collectors`), so a `gather_subset` is a filter over one read, never another command."""

    def __init__(self, facts: dict[str, Any], collectors: dict[str, frozenset[str]]):
        super().__init__(facts)
        self.collectors = collectors

    def subset(self, chosen: frozenset[str]) -> dict[str, Any]:
        keys = set().union(*(self.collectors.get(name, frozenset()) for name in chosen))
        return {key: value for key, value in self.items() if key in keys}


def collect(lines: Iterable[str]) -> GatheredFacts:
    """Ansible's facts from the command's output lines (the parsing half of AnsibleFacts)."""
    raw = Raw(lines)
    if not raw.complete:
        raise HostError("the fact-gathering command stopped before its end")
    by: dict[str, dict[str, Any]] = {}
    by["platform"] = _platform(raw)
    by["distribution"] = _distribution(raw)
    by["service_mgr"] = _service_mgr(raw, by["platform"])
    by["pkg_mgr"] = _pkg_mgr(raw, by["distribution"])
    by["hardware"] = _hardware(raw, by["platform"])
    by["systemd"] = _systemd(raw, by["service_mgr"])
    for name, build in (("apparmor", _apparmor), ("caps", _caps), ("cmdline", _cmdline),
                        ("date_time", _date_time), ("dns", _dns), ("env", _env),
                        ("fips", _fips), ("lsb", _lsb), ("python", _python),
                        ("selinux", _selinux), ("ssh_pub_keys", _ssh_pub_keys),
                        ("user", _user), ("network", _network), ("virtual", _virtual),
                        ("chroot", _chroot), ("loadavg", _loadavg),
                        ("fibre_channel_wwn", _fc_wwn), ("iscsi", _iscsi), ("nvme", _nvme)):
        by[name] = build(raw)
    # ansible_facts keeps this one's prefix (`ansible_facts.ansible_local`)
    by["local"] = {"ansible_local": _local(raw)["local"]}
    facts: dict[str, Any] = {}
    for collected in by.values():
        facts.update(collected)
    return GatheredFacts(facts, {name: frozenset(c) for name, c in by.items()})


class AnsibleFacts(FactBase):
    """Every fact Ansible's setup module gathers on a Linux host, from one shell command.

    `python` names the interpreter whose version and path become `python` and
    `python_version` (Ansible reports the one that ran its module); without it on the host
    those facts are absent. The value is a `GatheredFacts` (a dict of Ansible's names)."""

    def command(self, python: str = "python3") -> str:
        return f"PY={shlex.quote(python)}\n" + _SCRIPT

    @staticmethod
    def default() -> GatheredFacts:
        return GatheredFacts({}, {})

    def process(self, output: list[str]) -> GatheredFacts:  # type: ignore[override]
        return collect(output)


# -- once per host per run --------------------------------------------------------------------

class Gatherer:
    """The gathered facts of one run: each host's facts are read with one command the first
    time they are asked for and answered from memory after that.

    The cache is keyed by the pyinfra host's name, the Python interpreter and the user the
    facts are read as (become, become_user: the user_* and env facts depend on it); it lives
    as long as this object (the engine owns one per run) and `forget(host)` (or `forget()`
    for every host) clears it, for a task that asks for facts afresh (`setup`, `gather_facts`
    after a change the play wants to see). `reads` counts the commands run."""

    def __init__(self) -> None:
        self._facts: dict[tuple[str, str, bool, str | None], GatheredFacts] = {}
        self.reads = 0

    def gather(self, host: Any, subset: str | Sequence[str] | None = ("all",), *,
               python: str | None = None, become: bool = False,
               become_user: str | None = None, fresh: bool = False) -> dict[str, Any]:
        """`host`'s facts restricted to `subset` (see `resolve_subset`), Ansible's shape: the
        keys `ansible_facts` holds, plus `gather_subset` (the items as given) and
        `module_setup: True`; a fresh copy each call, so a caller may change it. `fresh`
        reads the host again and keeps that answer, as an explicit `setup` task does in
        Ansible (the play's own gathering is the read the rest of the run reuses).

        `python` is the interpreter Ansible would run its module with (default: the host's
        `ansible_python_interpreter`, else `python3`); `become`/`become_user` read the facts
        through sudo, as a play with `become: true` gathers them. InputError for an unknown
        subset name (before any command), HostError when the host could not answer."""
        chosen = resolve_subset(subset)
        interpreter = python or _interpreter(host)
        key = (host.name, interpreter, become, become_user if become else None)
        if fresh or key not in self._facts:
            self._facts[key] = _read(host, interpreter, become, become_user)
            self.reads += 1
        facts = copy.deepcopy(self._facts[key].subset(chosen))
        facts["gather_subset"] = _subset_items(subset)
        facts["module_setup"] = True
        return facts

    def forget(self, host: Any = None) -> None:
        if host is None:
            self._facts.clear()
            return
        for key in [k for k in self._facts if k[0] == host.name]:
            del self._facts[key]


# one Gatherer per pyinfra State: a State serves one wave and a host is in one wave of a run
_BY_STATE: weakref.WeakKeyDictionary[Any, Gatherer] = weakref.WeakKeyDictionary()


def gatherer_for(state: Any) -> Gatherer:
    """The Gatherer of the run `state` belongs to (made on first use, gone with the State)."""
    if state not in _BY_STATE:
        _BY_STATE[state] = Gatherer()
    return _BY_STATE[state]


def gather(host: Any, subset: str | Sequence[str] | None = ("all",), *,
           python: str | None = None, become: bool = False,
           become_user: str | None = None, fresh: bool = False) -> dict[str, Any]:
    """`Gatherer.gather` on the Gatherer of `host`'s pyinfra State: one command the first
    time per host and State, none after unless `fresh` (see Gatherer for the shape and the
    errors)."""
    return gatherer_for(host.state).gather(host, subset, python=python, become=become,
                                           become_user=become_user, fresh=fresh)


def as_variables(facts: dict[str, Any]) -> dict[str, Any]:
    """The host variables Ansible makes of gathered facts (INJECT_FACTS_AS_VARS, on by
    default): `ansible_facts` itself and each fact again as `ansible_<name>`; keys already
    named `ansible_*` (`ansible_local`) keep their name, and setup's own `gather_subset` and
    `module_setup` are injected as they are."""
    variables: dict[str, Any] = {"ansible_facts": facts}
    for key, value in facts.items():
        if key.startswith("ansible_") or key in ("gather_subset", "module_setup"):
            variables[key] = value
        else:
            variables[f"ansible_{key}"] = value
    return variables


def _interpreter(host: Any) -> str:
    data = getattr(host, "data", None)
    value = data.get("ansible_python_interpreter") if hasattr(data, "get") else None
    if not value or str(value).startswith("auto"):
        return "python3"
    return str(value)


def _read(host: Any, python: str, become: bool = False,
          become_user: str | None = None) -> GatheredFacts:
    become_args: dict[str, Any] = {"_sudo": True} if become else {}
    if become and become_user:
        become_args["_sudo_user"] = become_user
    try:
        facts = host.get_fact(AnsibleFacts, python=python, **become_args)
    except HostError:
        raise
    except Exception as exc:  # the connector's failure is this host's answer
        raise HostError(f"{host.name}: could not gather facts: {exc}") from None
    if not facts:
        raise HostError(f"{host.name}: could not gather facts")
    return facts


# -- package_facts and service_facts ----------------------------------------------------------

_PACKAGES_SCRIPT = r"""
if command -v python3 >/dev/null 2>&1 && python3 -c 'import apt' 2>/dev/null; then
python3 -c '
import apt
cache = apt.Cache()
for name in cache.keys():
    pkg = cache[name]
    v = pkg.installed
    if v is None:
        continue
    origin = v.origins[0].origin if v.origins else ""
    print("\t".join([name, v.version, v.architecture, v.section or "", origin]))
'
exit 0
fi
command -v dpkg-query >/dev/null 2>&1 || exit 0
installed=$(dpkg-query -W 2>/dev/null \
  -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${Section}\n')
echo '@@orc:dpkg'
printf '%s\n' "$installed"
echo '@@orc:lists'
# only the archive records of installed versions travel back, not whole package lists
for r in /var/lib/apt/lists/*_Release /var/lib/apt/lists/*_InRelease; do [ -r "$r" ] || continue
  o=$(sed -n 's/^Origin: //p' "$r" | head -n 1); b=${r%_*Release}
  for p in "$b"_*Packages; do [ -r "$p" ] || continue
    printf '%s\n' "$installed" | awk -v o="$o" '
      FNR == NR { split($0, f, "\t"); want[f[2] "\t" f[3]] = 1; next }
      /^Package: /{n=substr($0, 10)} /^Version: /{v=substr($0, 10)} /^Section: /{c=substr($0, 10)}
      /^$/{if ((n "\t" v) in want) print n "\t" v "\t" o "\t" c; n=""; v=""; c=""}
      END{if ((n "\t" v) in want) print n "\t" v "\t" o "\t" c}' - "$p"; done
done
exit 0
"""


def packages_from(lines: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """package_facts' `packages` from PACKAGES_SCRIPT's output: python-apt's view when the
    host has it (what Ansible itself reads), else dpkg's status with each version's origin
    and section taken from the apt lists that carry it (origin "" for a version no list
    carries, as python-apt gives it)."""
    rows: list[list[str]] = []
    dpkg: list[list[str]] = []
    origins: dict[tuple[str, str], tuple[str, str]] = {}
    mode = "apt"
    for line in lines:
        if line in ("@@orc:dpkg", "@@orc:lists"):
            mode = line[6:]
            continue
        fields = line.split("\t")
        if mode == "apt" and len(fields) == 5:
            rows.append(fields)
        elif mode == "dpkg" and len(fields) == 5 and fields[0].strip()[1:2] in ("i",):
            dpkg.append(fields[1:])
        elif mode == "lists" and len(fields) == 4:
            origins.setdefault((fields[0], fields[1]), (fields[2], fields[3]))
    for name, version, arch, section in dpkg:
        # python-apt reads origin and section from the archive's record of the version
        origin, archive_section = origins.get((name, version), ("", ""))
        rows.append([name, version, arch, archive_section or section, origin])
    packages: dict[str, list[dict[str, str]]] = {}
    for name, version, arch, category, origin in rows:
        packages.setdefault(name, []).append({"name": name, "version": version, "arch": arch,
                                              "category": category, "origin": origin,
                                              "source": "apt"})
    return packages


class DebianPackages(FactBase):
    """Installed packages as Ansible's package_facts (manager apt) lists them."""

    def command(self) -> str:
        return _PACKAGES_SCRIPT

    @staticmethod
    def default() -> dict:
        return {}

    def process(self, output: list[str]) -> dict:  # type: ignore[override]
        return packages_from(output)


def package_facts(host: Any) -> dict[str, Any]:
    """`{"packages": {name: [{name, version, arch, category, origin, source: "apt"}]}}`,
    what `package_facts` sets on a Debian host, read afresh with one command (packages change
    during a run, so never cached). HostError when the host has no dpkg."""
    packages = host.get_fact(DebianPackages)
    if not packages:
        raise HostError(f"{host.name}: Could not detect a supported package manager "
                        "(orc reads apt/dpkg only)")
    return {"packages": packages}


_SERVICES_SCRIPT = r"""
export LANG=C LC_ALL=C
if command -v service >/dev/null 2>&1 && ! command -v chkconfig >/dev/null 2>&1 \
   && ! command -v rc-status >/dev/null 2>&1; then
  echo '@@orc:sysv'; service --status-all 2>/dev/null; fi
if command -v systemctl >/dev/null 2>&1 && { [ -e /run/systemd/system/ ] \
   || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ]; }; then
  echo '@@orc:units'; systemctl list-units --no-pager --type service --all --plain 2>/dev/null
  echo '@@orc:unit-files'
  files=$(systemctl list-unit-files --no-pager --type service --all 2>/dev/null)
  printf '%s\n' "$files"
  # one `systemctl show` for every unit file (a template name would stop it: left out)
  names=$(printf '%s\n' "$files" | awk '/\.service/ {print $1}' | grep -v '@\.service$')
  echo '@@orc:active'; printf '%s\n' "$names"
  echo '@@orc:states'; [ -n "$names" ] && systemctl show --property=ActiveState $names 2>/dev/null
fi
exit 0
"""


def services_from(lines: Iterable[str]) -> dict[str, dict[str, str]]:
    """service_facts' `services` from SERVICES_SCRIPT's output: `service --status-all`
    (source sysv), then systemd's units and unit files (source systemd), read as
    ansible-core's service_facts reads them."""
    parts: dict[str, list[str]] = {"sysv": [], "units": [], "unit-files": [], "active": [],
                                   "states": []}
    current = None
    for line in lines:
        if line.startswith("@@orc:"):
            current = line[6:]
            continue
        if current in parts:
            parts[current].append(line)
    services: dict[str, dict[str, str]] = {}
    for line in parts["sysv"]:
        found = re.match(r"^\s*\[ (?P<state>\+|\-) \]\s+(?P<name>.+)$", line)
        if found:
            services[found["name"]] = {"name": found["name"], "state": "running"
                                       if found["state"] == "+" else "stopped", "source": "sysv"}
    bad = ("not-found", "masked", "failed")
    for line in parts["units"]:
        if ".service" not in line:
            continue
        fields = line.split()
        status = next((b for b in bad if b in fields[:-1]), fields[2])
        services[fields[0]] = {"name": fields[0],
                               "state": "running" if fields[3] == "running" else "stopped",
                               "status": status, "source": "systemd"}
    # `systemctl show` answers in the order it was asked; a template unit, or an answer that
    # does not line up, is "unknown" as Ansible's failed `systemctl show` is
    names = [line.strip() for line in parts["active"] if line.strip()]
    states = [line.strip() for line in parts["states"] if line.startswith("ActiveState=")]
    active = dict(zip(names, (state.replace("ActiveState=", "") or "unknown"
                              for state in states))) if len(states) == len(names) else {}
    for line in parts["unit-files"]:
        if ".service" not in line:
            continue
        name, status = line.split()[:2]
        if name not in services:
            services[name] = {"name": name, "state": active.get(name, "unknown"),
                              "status": status, "source": "systemd"}
        elif services[name]["status"] not in bad:
            services[name]["status"] = status
    return services


class Services(FactBase):
    """Services as Ansible's service_facts lists them (sysv scripts and systemd units)."""

    def command(self) -> str:
        return _SERVICES_SCRIPT

    @staticmethod
    def default() -> dict:
        return {}

    def process(self, output: list[str]) -> dict:  # type: ignore[override]
        return services_from(output)


def service_facts(host: Any) -> dict[str, Any]:
    """`{"services": {name: {name, state, status, source}}}` (sysv entries have no
    `status`), what `service_facts` sets, read afresh with one command."""
    return {"services": host.get_fact(Services)}
