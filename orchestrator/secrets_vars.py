"""A play's `vars_files`: plain variable files, and signed secret files under `secrets`.

A SOPS file (one with `sops:` metadata) is verified against the signer policy before it is
decrypted, and its values land under `secrets` (`{{ secrets.db.password }}`), never among the
plain variables, so reports know exactly which strings to mask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import yamlfile


@dataclass
class VarsFiles:
    values: dict[str, Any] = field(default_factory=dict)
    secret_files: list[Any] = field(default_factory=list)  # orchestrator.secrets.SecretFile

    def plaintexts(self) -> set[str]:
        return {text for f in self.secret_files for text in f.plaintexts()}


def _is_sops(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("sops"), dict)


def load_vars_files(paths: Iterable[Path]) -> VarsFiles:
    """Plain files merge into the variables; each secret file is verified against the signer
    policy of the repository it lives in (found from the file, as `orc secrets` finds it)."""
    loaded = VarsFiles()
    secrets: dict[str, Any] = {}
    for path in paths:
        data = yamlfile.load(path)
        if data is None:
            continue
        if _is_sops(data):
            from orchestrator.secrets import load_verified
            from orchestrator.secrets.policy import find_root

            secret_file = load_verified(path, repo_root=find_root(path.resolve().parent))
            loaded.secret_files.append(secret_file)
            _deep_merge(secrets, secret_file.values)
        else:
            loaded.values.update(yamlfile.load_mapping(path))
    if secrets:
        loaded.values["secrets"] = secrets
    return loaded


def _deep_merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value
