"""Who may sign what (`secrets/signers.yaml`) and who may read what (`.sops.yaml`).

Both are keyed by the file's path relative to the repository root, so a signer trusted for the
lab's secrets cannot vouch for production's, and `sops` picks the same recipients orc does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from orchestrator.errors import SecretsError
from orchestrator.secrets import keys, trustroot, yamlio
from orchestrator.secrets.sopsfile import EncryptionRules

SIGNERS_FILE = "secrets/signers.yaml"
SOPS_CONFIG = ".sops.yaml"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """`*` and `?` stay within one directory, `**` crosses any number of them."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@dataclass(frozen=True)
class Signer:
    name: str
    public: Ed25519PublicKey
    paths: tuple[str, ...]

    @cached_property
    def key_id(self) -> str:
        return keys.key_id(self.public)

    def may_sign(self, rel_path: str) -> bool:
        return any(glob_regex(p).fullmatch(rel_path) for p in self.paths)


@dataclass(frozen=True)
class SignerPolicy:
    signers: tuple[Signer, ...]
    source: str
    version: int = 0  # of the root signatures (secrets/signers.yaml.sig)

    def by_key_id(self, key_id: str) -> Signer | None:
        return next((s for s in self.signers if s.key_id == key_id), None)

    def allowed_for(self, rel_path: str) -> list[Signer]:
        return [s for s in self.signers if s.may_sign(rel_path)]


def _mapping(data: Any, what: str, source: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SecretsError(f"{what} must be a mapping", path=source)
    return data


def load_signers(repo_root: Path) -> SignerPolicy:
    source = SIGNERS_FILE
    try:
        content = (repo_root / SIGNERS_FILE).read_bytes()
    except FileNotFoundError:
        raise SecretsError("does not exist, so no signer is trusted", path=source) from None
    version = trustroot.verify_signers(content, repo_root)  # the root signed these bytes
    data = _mapping(yamlio.load(content, source=source), "the file", source)
    entries = data.get("signers")
    if not isinstance(entries, list):
        raise SecretsError("needs a `signers:` list", path=source)
    signers = []
    for n, entry in enumerate(entries, 1):
        entry = _mapping(entry, f"signer #{n}", source)
        name, key, paths = entry.get("name"), entry.get("key"), entry.get("paths")
        if isinstance(paths, str):
            paths = [paths]
        if not (isinstance(name, str) and isinstance(key, str) and isinstance(paths, list)
                and paths and all(isinstance(p, str) for p in paths)):
            raise SecretsError(f"signer #{n} needs a name, a key and a list of path globs",
                               path=source)
        signers.append(Signer(name, keys.parse_public(key, source=source), tuple(paths)))
    return SignerPolicy(tuple(signers), source, version)


@dataclass(frozen=True)
class CreationRule:
    """The `.sops.yaml` rule that applies to a path: its age recipients and encryption rules."""

    recipients: list[str]
    rules: EncryptionRules


def creation_rule(repo_root: Path, rel_path: str) -> CreationRule | None:
    """sops' choice: the first rule whose `path_regex` matches the path (relative to the config)."""
    path = repo_root / SOPS_CONFIG
    if not path.is_file():
        return None
    data = _mapping(yamlio.load(path.read_bytes(), source=SOPS_CONFIG), "the file", SOPS_CONFIG)
    for n, rule in enumerate(data.get("creation_rules") or [], 1):
        rule = _mapping(rule, f"creation rule #{n}", SOPS_CONFIG)
        pattern = rule.get("path_regex") or ""
        try:
            if pattern and not re.search(pattern, rel_path):
                continue
        except re.error:
            raise SecretsError(f"creation rule #{n}: path_regex is not a valid regular expression",
                               path=SOPS_CONFIG) from None
        if rule.get("key_groups"):
            raise SecretsError(f"creation rule #{n} uses key_groups, which orc does not support",
                               path=SOPS_CONFIG)
        age = rule.get("age") or []
        recipients = [r.strip() for r in age.split(",")] if isinstance(age, str) else list(age)
        recipients = [r for r in recipients if isinstance(r, str) and r]
        if not recipients:
            raise SecretsError(f"creation rule #{n} (for {rel_path}) has no age recipients",
                               path=SOPS_CONFIG)
        return CreationRule(recipients, EncryptionRules.from_mapping(rule, source=SOPS_CONFIG))
    return None


# what marks a repository's root: its signer policy first, then sops' config, then git
_ROOT_MARKERS = ("secrets/signers.yaml", ".sops.yaml", ".git")


def find_root(start: Path) -> Path:
    """The nearest directory up from `start` holding a signer policy, a .sops.yaml, or .git."""
    for marker in _ROOT_MARKERS:
        for directory in (start, *start.parents):
            if (directory / marker).exists():
                return directory
    return start
