"""A play's `vars_files`: plain variable files, and signed secret files under `secrets`.

A SOPS file (one with `sops:` metadata) is verified against the signer policy before it is
decrypted, and its values land under `secrets` (`{{ secrets.db.password }}`), never among the
plain variables, so reports know exactly which strings to mask.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.load import yamlfile


@dataclass
class VarsFiles:
    values: dict[str, Any] = field(default_factory=dict)
    secret_files: list[Any] = field(default_factory=list)  # orchestrator.secrets.SecretFile

    def plaintexts(self) -> set[str]:
        return {text for f in self.secret_files for text in f.plaintexts()}

    def versions(self) -> dict[str, int]:
        """Each secret file's version and its signer policy's: what a host must not go back on."""
        return {name: version for f in self.secret_files for name, version in f.versions.items()}


# a top-level `sops:` key, found in the bytes: no YAML parser reads a file before its signature
_SOPS_KEY = re.compile(rb"^sops:", re.M)


def is_secret_file(path: Path) -> bool:
    """A file orc must verify before anything parses it: it has a `.sig` beside it, or a
    top-level `sops:` key (what sops writes). Raises OSError if it cannot be read."""
    from orchestrator.secrets.signature import sig_path

    return sig_path(path).exists() or bool(_SOPS_KEY.search(path.read_bytes()))


# each loaded play's files, verified and decrypted once: by `orc apply`'s preflight, then used by
# every wave of the run (what a wave deploys is exactly what was verified, never a file swapped
# in between); keyed by the play object, dropped with it
_BY_PLAY: dict[int, tuple[weakref.ref, VarsFiles]] = {}


def play_vars_files(play: Any) -> VarsFiles:
    """`load_vars_files(play.vars_files)`, once per loaded play (`load.playbook.Play`)."""
    key = id(play)
    entry = _BY_PLAY.get(key)
    if entry is not None and entry[0]() is play:
        return entry[1]
    return keep_vars_files(play, load_vars_files(play.vars_files))


def keep_vars_files(play: Any, loaded: VarsFiles) -> VarsFiles:
    """Make `loaded` what `play_vars_files(play)` returns: a play shipped to another process
    (a cluster worker, orchestrator/cluster/) deploys the files its controller verified and
    decrypted, never files read again where it runs."""
    key = id(play)
    _BY_PLAY[key] = (weakref.ref(play, lambda _, key=key: _BY_PLAY.pop(key, None)), loaded)
    return loaded


def load_vars_files(paths: Iterable[Path]) -> VarsFiles:
    """Plain files merge into the variables; each secret file is verified against the signer
    policy of the repository it lives in (found from the file, as `orc secrets` finds it)."""
    loaded = VarsFiles()
    secrets: dict[str, Any] = {}
    for path in paths:
        if _secret(path):
            from orchestrator.secrets import load_verified
            from orchestrator.secrets.policy import find_root

            # the signature is checked over the file's bytes before any parser sees them
            secret_file = load_verified(path, repo_root=find_root(path.resolve().parent))
            loaded.secret_files.append(secret_file)
            _deep_merge(secrets, secret_file.values)
        elif yamlfile.load(path) is not None:
            loaded.values.update(yamlfile.load_mapping(path))
    if secrets:
        from orchestrator.secrets.masking import SecretTree

        loaded.values["secrets"] = SecretTree(secrets)  # templates that read it are tracked
    return loaded


def _secret(path: Path) -> bool:
    try:
        return is_secret_file(path)
    except OSError:
        return False  # yamlfile.load names the file and why it cannot be read


def _deep_merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value
