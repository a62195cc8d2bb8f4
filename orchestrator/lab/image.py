"""The lab's base image: one debootstrapped Debian bookworm, built once and cached.

Every lab host is an overlay on this directory, so it must never change while hosts are mounted
on it: a new recipe gets a new directory (the version in its name) instead of editing the old one.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from orchestrator.errors import LabError
from orchestrator.lab.state import cache_root
from orchestrator.lab.system import require_root, require_tools, run

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = [
    "openssh-server", "python3", "sudo", "iproute2", "ca-certificates",
    "systemd", "systemd-sysv", "dbus", "libpam-systemd",
]
# Bump when the recipe below changes: hosts of running labs keep the directory they were made on.
RECIPE_VERSION = 1

APT_CONF = """\
// Lab hosts: keep each host's overlay small and never fetch translations.
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::Install-Recommends "false";
"""
SSHD_CONF = """\
# Lab hosts: keys only, no DNS lookups of clients (the lab has no DNS).
PasswordAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
"""
# Timers that would run apt or disk jobs on their own, and a wait that only slows the boot.
MASKED_UNITS = [
    "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer",
    "systemd-networkd-wait-online.service",
]

Progress = Callable[[str], None]


def image_dir() -> Path:
    return cache_root() / "lab" / f"{SUITE}-v{RECIPE_VERSION}"


def is_ready() -> bool:
    return (image_dir() / "etc" / "orc-lab-image").exists()


def ensure(progress: Progress = lambda line: None) -> Path:
    """Return the cached base image, building it first if needed (about a minute, once)."""
    target = image_dir()
    if is_ready():
        return target
    require_root("building the lab image")
    require_tools("debootstrap", "systemd-nspawn")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second `orc lab up` waits for the first build
        if is_ready():
            return target
        partial = target.with_name(target.name + ".partial")
        if not (partial / ".debootstrap-complete").exists():
            shutil.rmtree(partial, ignore_errors=True)
            _debootstrap(partial, progress)
            (partial / ".debootstrap-complete").touch()
        progress("configuring the image for lab hosts")
        _customize(partial)
        (partial / ".debootstrap-complete").unlink()
        (partial / "etc" / "orc-lab-image").write_text(f"{SUITE} recipe {RECIPE_VERSION}\n")
        partial.rename(target)
    return target


def _debootstrap(dest: Path, progress: Progress) -> None:
    cmd = [
        "debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
        SUITE, str(dest), MIRROR,
    ]
    progress(f"debootstrap {SUITE} (once; cached in {dest.parent})")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.strip()
        if line:
            tail = (tail + [line])[-5:]
            progress(line)
    if proc.wait() != 0:
        raise LabError(f"debootstrap of {SUITE} failed: {tail[-1] if tail else 'no output'}")


def _customize(root: Path) -> None:
    # debootstrap copies this machine's resolver; lookups from a host would hang for 20 s each
    (root / "etc" / "resolv.conf").unlink(missing_ok=True)
    (root / "etc" / "resolv.conf").write_text("")
    (root / "etc" / "apt" / "apt.conf.d" / "00orc-lab").write_text(APT_CONF)
    (root / "etc" / "ssh" / "sshd_config.d" / "orc-lab.conf").write_text(SSHD_CONF)
    # every host gets its own host key and machine id; none may be shared through the base
    for key in (root / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc" / "machine-id").write_text("")
    (root / "var" / "lib" / "dbus" / "machine-id").unlink(missing_ok=True)
    run(["chroot", str(root), "systemctl", "enable", "systemd-networkd", "ssh"])
    run(["chroot", str(root), "systemctl", "mask", *MASKED_UNITS])
    # package files fetched while bootstrapping are not needed by any host
    for deb in (root / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        deb.unlink()
