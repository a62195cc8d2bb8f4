"""A Vagrant box for the lxc provider, made from the lab's cached base image (`orc lab box`).

Workstations run `vagrant/Vagrantfile` on VirtualBox or libvirt with Debian's own boxes; on a
machine like this one, with no KVM but LXC, the same Vagrantfile runs on vagrant-lxc with this
box. What vagrant-lxc 1.4 needs of a box, learnt the hard way:
- the rootfs tarball's entries start with `./rootfs/` (its template strips two components);
- no `template-opts` in metadata.json (the template rejects options it does not know);
- no DNS nameserver in the image (lookups from the hosts would hang: the lab has no DNS);
- `lxc.backingstore = 'dir'` in the Vagrantfile (the default probes for btrfs, zfs, lvm).
Like any Vagrant base box it has a `vagrant` user with passwordless sudo and Vagrant's
well-known public key, which Vagrant swaps for a key of its own on the first `vagrant up`.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.errors import LabError, SetupError
from orchestrator.lab import image
from orchestrator.lab.state import cache_root
from orchestrator.lab.system import require_root, run

BOX_NAME = "orc/bookworm"
# Bump when the recipe below changes; the base image's own version is part of the file name.
BOX_RECIPE = 2
INSECURE_KEY_GLOBS = (
    "/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub",
    "/usr/share/vagrant/keys/vagrant.pub",
)
LXC_CONFIG = """\
lxc.include = /usr/share/lxc/config/debian.common.conf
lxc.arch = x86_64
# systemd halts on SIGRTMIN+3; LXC's default (SIGPWR) would make every stop wait its timeout
lxc.signal.halt = SIGRTMIN+3
"""
# The base image has no SSH host keys (each lab host gets its own); a box's hosts make theirs on
# first boot, before sshd starts.
HOST_KEYS_UNIT = """\
[Unit]
Description=Generate this host's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""

Progress = Callable[[str], None]


def box_path() -> Path:
    return cache_root() / "vagrant" / f"orc-{image.image_dir().name}-box{BOX_RECIPE}.box"


def insecure_public_key() -> str:
    for pattern in INSECURE_KEY_GLOBS:
        for path in sorted(glob.glob(pattern)):
            return Path(path).read_text().strip()
    raise SetupError("Vagrant's public key (keys/vagrant.pub) was not found: "
                     "apt-get install vagrant")


def ensure_box(progress: Progress = lambda line: None, force: bool = False) -> Path:
    """The box file, built from the base image unless a current one is cached."""
    target = box_path()
    if target.exists() and not force:
        return target
    require_root("building the Vagrant box")
    key = insecure_public_key()
    base = image.ensure(progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        root = work / "rootfs"
        progress(f"copying the base image {base}")
        run(["cp", "-a", "--reflink=auto", str(base), str(root)])
        customize(root, key)
        progress("packing the root filesystem")
        # vagrant-lxc's template strips two components: the entries must read ./rootfs/...
        run(["tar", "--numeric-owner", "--xattrs", "-I", "gzip -1", "-cf",
             str(work / "rootfs.tar.gz"), "-C", str(work), "./rootfs"])
        (work / "metadata.json").write_text(json.dumps({
            "provider": "lxc", "version": "1.0.0",
            "built-on": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }) + "\n")
        (work / "lxc-config").write_text(LXC_CONFIG)
        partial = target.with_suffix(".partial")
        run(["tar", "-cf", str(partial), "-C", str(work),
             "metadata.json", "lxc-config", "rootfs.tar.gz"])
        partial.rename(target)
    return target


def customize(root: Path, insecure_key: str) -> None:
    """Turn a copy of the base image into a Vagrant base box's root filesystem."""
    etc = root / "etc"
    (etc / "orc-lab-image").unlink(missing_ok=True)
    (etc / "hostname").write_text("bookworm\n")
    (etc / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n")
    (etc / "resolv.conf").write_text("")  # no DNS on the lab's network: lookups would hang
    unit = etc / "systemd" / "system" / "orc-ssh-host-keys.service"
    unit.write_text(HOST_KEYS_UNIT)
    run(["chroot", str(root), "systemctl", "enable", "orc-ssh-host-keys.service"])
    run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash",
         "--user-group", "vagrant"])
    (etc / "sudoers.d" / "vagrant").write_text("vagrant ALL=(ALL) NOPASSWD:ALL\n")
    (etc / "sudoers.d" / "vagrant").chmod(0o440)
    ssh_dir = root / "home" / "vagrant" / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(insecure_key + "\n")
    (ssh_dir / "authorized_keys").chmod(0o600)
    run(["chroot", str(root), "chown", "-R", "vagrant:vagrant", "/home/vagrant/.ssh"])


def vagrant_env() -> dict[str, str]:
    """Vagrant with no calls home: this machine reaches no update or box server."""
    return dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1", VAGRANT_BOX_UPDATE_CHECK_DISABLE="1")


def add_box(path: Path, name: str = BOX_NAME) -> None:
    """Register the box with Vagrant (replacing an older build of the same name)."""
    if shutil.which("vagrant") is None:
        raise SetupError("`vagrant` is not installed: apt-get install vagrant vagrant-lxc lxc")
    proc = subprocess.run(["vagrant", "box", "add", "--force", "--name", name, str(path)],
                          capture_output=True, text=True, env=vagrant_env(), check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"`vagrant box add` failed: {lines[-1] if lines else proc.returncode}")
