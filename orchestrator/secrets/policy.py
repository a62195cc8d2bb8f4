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
from orchestrator.load import inputfile
from orchestrator.secrets import keys, trustroot, yamlio
from orchestrator.secrets.sopsfile import EncryptionRules

SIGNERS_FILE = "secrets/signers.yaml"
SOPS_CONFIG = ".sops.yaml"


_LITERAL, _ONE, _STAR, _ANY, _DIRS = range(5)


@dataclass(frozen=True)
class PathGlob:
    """A signer's path glob: `*` and `?` stay within one directory, `**` crosses any number
    of them, and `**/` is zero or more whole directories (`secrets/**/x` matches `secrets/x`).

    Matched as a bit-parallel NFA (shift-and): each character of the path costs a few integer
    operations on a bit per pattern position, so no pattern, however long or starry, makes
    matching backtrack; the time is linear in the path.
    """

    pattern: str

    @cached_property
    def _tokens(self) -> tuple[tuple[int, str], ...]:
        tokens: list[tuple[int, str]] = []
        p, i = self.pattern, 0
        while i < len(p):
            if p.startswith("**/", i):
                token, i = (_DIRS, ""), i + 3
            elif p.startswith("**", i):
                token, i = (_ANY, ""), i + 2
            elif p[i] == "*":
                token, i = (_STAR, ""), i + 1
            elif p[i] == "?":
                token, i = (_ONE, ""), i + 1
            else:
                token, i = (_LITERAL, p[i]), i + 1
            # `**` absorbs its neighbours `*`, `**` and `**/`, and `**/` twice is once: equal
            # languages, and no long chain of empty moves to follow
            if token[0] == _ANY:
                while tokens and tokens[-1][0] in (_STAR, _ANY, _DIRS):
                    tokens.pop()
            elif tokens and token[0] in (_STAR, _DIRS) and tokens[-1][0] == _ANY:
                continue
            elif tokens and token[0] == _DIRS and tokens[-1][0] == _DIRS:
                continue
            tokens.append(token)
        return tuple(tokens)

    @cached_property
    def _masks(self) -> tuple[dict[str, int], int, int, int, int, int, int]:
        """Per position bits: literal by character, `?`, `*`, `**`, the `**/` branch; the
        positions a character may stay on; the accepting bit."""
        literal: dict[str, int] = {}
        one = star = anything = branch = 0
        states = 0
        for token, char in self._tokens:
            bit = 1 << states
            if token == _LITERAL:
                literal[char] = literal.get(char, 0) | bit
            elif token == _ONE:
                one |= bit
            elif token == _STAR:
                star |= bit
            elif token == _ANY:
                anything |= bit
            else:  # `**/` is a branch over (`**`, `/`): enter it, or skip both
                branch |= bit
                anything |= bit << 1
                literal["/"] = literal.get("/", 0) | bit << 2
                states += 2
            states += 1
        return literal, one, star, anything, branch, star | anything, 1 << states

    def _closure(self, state: int) -> int:
        _, _, _, _, branch, empty, _ = self._masks
        while True:
            grown = state | ((state & (empty | branch)) << 1) | ((state & branch) << 3)
            if grown == state:
                return state
            state = grown

    def fullmatch(self, path: str) -> bool:
        literal, one, star, anything, _, _, accept = self._masks
        state = self._closure(1)
        for char in path:
            if char == "/":
                advance, stay = literal.get(char, 0), anything
            else:
                advance, stay = literal.get(char, 0) | one, star | anything
            state = self._closure(((state & advance) << 1) | (state & stay))
            if not state:
                return False
        return bool(state & accept)


@dataclass(frozen=True)
class Signer:
    name: str
    public: Ed25519PublicKey
    paths: tuple[str, ...]

    @cached_property
    def key_id(self) -> str:
        return keys.key_id(self.public)

    def may_sign(self, rel_path: str) -> bool:
        return any(PathGlob(p).fullmatch(rel_path) for p in self.paths)


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
    if not inputfile.exists(repo_root / SIGNERS_FILE):
        raise SecretsError("does not exist, so no signer is trusted", path=source)
    content = inputfile.read_bytes(repo_root / SIGNERS_FILE, error=SecretsError, name=source)
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
    if not inputfile.exists(path):
        return None
    content = inputfile.read_bytes(path, error=SecretsError, name=SOPS_CONFIG)
    data = _mapping(yamlio.load(content, source=SOPS_CONFIG), "the file", SOPS_CONFIG)
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
