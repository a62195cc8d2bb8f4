"""A play's `vars_files`: plain variable files, and signed secret files under `secrets`.

A SOPS file (one with `sops:` metadata) is verified against the signer policy before it is
decrypted, and its values land under `secrets` (`{{ secrets.db.password }}`), never among the
plain variables, so reports know exactly which strings to mask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from orchestrator import yamlfile
from orchestrator.errors import InputError

MASK = "********"


def _is_sops(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("sops"), dict)


def load_vars_files(paths: Iterable[Path], repo_root: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for path in paths:
        data = yamlfile.load(path)
        if data is None:
            continue
        if _is_sops(data):
            from orchestrator.secrets import load_verified

            _deep_merge(secrets, load_verified(path, repo_root=repo_root).values)
        elif isinstance(data, dict):
            merged.update(data)
        else:
            raise InputError("a vars file must be a mapping", path=path, line=1)
    if secrets:
        merged["secrets"] = secrets
    return merged


def _deep_merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def secret_strings(variables: Mapping[str, Any]) -> set[str]:
    """Every plaintext under `secrets`, for masking output."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif value is not None and str(value):
            found.add(str(value))

    walk(variables.get("secrets") or {})
    return found


def mask(text: str | None, secrets: Iterable[str]) -> str | None:
    if not text:
        return text
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text
