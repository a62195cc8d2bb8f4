"""The Ansible collections the oracle needs beside ansible-core: ansible.posix (sysctl, mount)
and community.general (pamd, timezone).

ansible-core ships only `ansible.builtin`; roles call modules of these two collections, and
orc implements them, so comparing with Ansible needs them installed. They are taken once from
the `ansible` package on PyPI (the community bundle, which pins collection versions that work
with ansible-core 2.19) into the lab cache, and found there through `collections_path`. An
installation already visible to `ansible-galaxy` is used as it is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from orchestrator.lab.state import cache_root

BIN = Path(sys.executable).parent
# the community bundle whose collections go with ansible-core 2.19
ANSIBLE_BUNDLE = "ansible>=12,<13"
COLLECTIONS = ("ansible.posix", "community.general")


def _installed(names: tuple[str, ...]) -> bool:
    listed = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "list"],
                            check=False, capture_output=True, text=True)
    return listed.returncode == 0 and all(f"{name} " in listed.stdout for name in names)


def collections_path(names: tuple[str, ...] = COLLECTIONS) -> Path | None:
    """A directory to give Ansible as `collections_path`, holding `names`; None when
    ansible-galaxy already sees them all. Raises RuntimeError when they cannot be fetched."""
    if _installed(names):
        return None
    root = cache_root() / "oracle" / "collections"
    manifests = [root / "ansible_collections" / Path(*name.split(".")) / "MANIFEST.json"
                 for name in names]
    if all(m.exists() for m in manifests):
        return root
    with tempfile.TemporaryDirectory() as download:
        fetched = subprocess.run([str(BIN / "pip"), "download", "--quiet", "--no-deps",
                                  "-d", download, ANSIBLE_BUNDLE],
                                 check=False, capture_output=True, text=True)
        if fetched.returncode != 0:
            raise RuntimeError(f"could not fetch {ANSIBLE_BUNDLE}: {fetched.stderr.strip()}")
        wheel = next(Path(download).glob("ansible-*.whl"))
        prefixes = tuple(f"ansible_collections/{name.replace('.', '/')}/" for name in names)
        staging = root.with_name("collections.new")
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(staging, [n for n in archive.namelist() if n.startswith(prefixes)])
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return root
