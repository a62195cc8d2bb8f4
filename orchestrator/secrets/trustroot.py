"""The root of trust: keys kept outside the repository that must sign `secrets/signers.yaml`.

`signers.yaml` says who may sign which secret file, so whoever can change it can trust their own
key. As in TUF's root metadata, the policy is itself signed, by root keys whose public halves the
operator configures outside the repository (an environment variable, `~/.config/orc/`,
`/etc/orc/`; a CI secret), optionally k-of-n: `threshold` distinct root keys must sign. A pushed
`signers.yaml` without those signatures is refused, and so is everything it would vouch for.

The root signatures sit in `secrets/signers.yaml.sig`, with a version that only grows, so hosts
can refuse an older policy (one that still trusted a revoked signer) like an older secret file.
No root configured means no signer is trusted: orc refuses to decrypt or deploy secrets.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from orchestrator.errors import SecretsError
from orchestrator.secrets import keys, yamlio

SIGNERS_FILE = "secrets/signers.yaml"
FORMAT = "orc-root-signature-v1"
ROOT_FILE = "trust-root.yaml"  # in the config dir or /etc/orc/
SYSTEM_DIR = Path("/etc/orc")
ROOT_KEY_FILE = "root.key"
HOW_TO_CONFIGURE = (f"set ORC_TRUST_ROOT_FILE to a file listing the root public key(s) (or "
                    f"ORC_TRUST_ROOT, ~/.config/orc/{ROOT_FILE}, /etc/orc/{ROOT_FILE}); "
                    "see `orc secrets root --help`")


@dataclass(frozen=True)
class TrustRoot:
    """The root public keys and how many of them must sign `signers.yaml`."""

    keys: tuple[Ed25519PublicKey, ...]
    threshold: int
    source: str

    def key_ids(self) -> list[str]:
        return [keys.key_id(k) for k in self.keys]


def parse_root(text: str, *, source: str) -> TrustRoot:
    """`keys: [orc-ed25519:...]` and `threshold: k` (default 1); or just a key, or a list."""
    data: Any = yamlio.load(text, source=source)
    if isinstance(data, (str, list)):
        data = {"keys": data}
    if not isinstance(data, dict) or set(data) - {"keys", "threshold"}:
        raise SecretsError("a root of trust is `keys:` (a list of orc-ed25519: public keys) "
                           "and an optional `threshold:`", path=source)
    found = data.get("keys")
    found = [found] if isinstance(found, str) else found
    if not isinstance(found, list) or not found or not all(isinstance(k, str) for k in found):
        raise SecretsError("a root of trust needs `keys:`, a list of orc-ed25519: public keys",
                           path=source)
    public = tuple(keys.parse_public(k.strip(), source=source) for k in found)
    if len({keys.key_id(k) for k in public}) != len(public):
        raise SecretsError("lists the same root key twice", path=source)
    threshold = data.get("threshold", 1)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not (
            1 <= threshold <= len(public)):
        raise SecretsError(f"threshold must be a number from 1 to {len(public)} (the keys listed)",
                           path=source)
    return TrustRoot(public, threshold, source)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretsError("root of trust file does not exist", path=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SecretsError(f"cannot read the root of trust: {getattr(err, 'strerror', err)}",
                           path=path) from None


def load_root() -> TrustRoot | None:
    """The first of `$ORC_TRUST_ROOT` (the text), `$ORC_TRUST_ROOT_FILE`, the config dir's and
    /etc/orc's `trust-root.yaml`; None when none is configured."""
    if os.environ.get("ORC_TRUST_ROOT"):
        return parse_root(os.environ["ORC_TRUST_ROOT"], source="$ORC_TRUST_ROOT")
    if os.environ.get("ORC_TRUST_ROOT_FILE"):
        path = Path(os.environ["ORC_TRUST_ROOT_FILE"])
        return parse_root(_read(path), source=str(path))
    for path in (keys.config_dir() / ROOT_FILE, SYSTEM_DIR / ROOT_FILE):
        if path.is_file():
            return parse_root(_read(path), source=str(path))
    return None


def require_root() -> TrustRoot:
    root = load_root()
    if root is None:
        raise SecretsError(f"no root of trust is configured, so no signer can be trusted: "
                           f"{HOW_TO_CONFIGURE}", path=SIGNERS_FILE)
    return root


def message(content: bytes, *, version: int, key_id: str) -> bytes:
    """What a root key signs: its own format name (never a secret file's signature), the
    path, the version and the key, then the bytes of signers.yaml."""
    header = f"{FORMAT}\nfile: {SIGNERS_FILE}\nversion: {version}\nkey: {key_id}\n\n"
    return header.encode("utf-8") + content


@dataclass(frozen=True)
class RootSignatures:
    """`secrets/signers.yaml.sig`: one version, one signature per root key that signed it."""

    version: int
    signatures: dict[str, bytes]  # key id -> Ed25519 signature

    def valid_keys(self, content: bytes, root: TrustRoot) -> list[str]:
        """The root key ids whose signature over `content` at this version verifies."""
        good = []
        for public in root.keys:
            kid = keys.key_id(public)
            value = self.signatures.get(kid)
            if value is None:
                continue
            try:
                public.verify(value, message(content, version=self.version, key_id=kid))
            except InvalidSignature:
                continue
            good.append(kid)
        return good

    def render(self) -> bytes:
        lines = [f"# root signatures of {SIGNERS_FILE}; check with `orc secrets root status`",
                 f"format: {FORMAT}", f"file: {SIGNERS_FILE}", f"version: {self.version}"]
        lines += [f"signature: {kid} {base64.b64encode(v).decode()}"
                  for kid, v in sorted(self.signatures.items())]
        return ("\n".join(lines) + "\n").encode()


_LINE = re.compile(r"(format|file|version|signature): (.+)")
_SIG_VALUE = re.compile(r"([0-9a-f]{16}) ([A-Za-z0-9+/]{86}==)")


def parse_signatures(content: bytes, *, source: str) -> RootSignatures:
    """Strict, like a secret's `.sig`: format, file and version once, signatures once per key."""
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        raise SecretsError("malformed root signature file (not ASCII)", path=source) from None
    fields: dict[str, str] = {}
    signatures: dict[str, bytes] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if not line or line.startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if not m or (m.group(1) != "signature" and m.group(1) in fields):
            raise SecretsError("malformed root signature file", path=source, line=number)
        if m.group(1) != "signature":
            fields[m.group(1)] = m.group(2)
            continue
        s = _SIG_VALUE.fullmatch(m.group(2))
        if not s or s.group(1) in signatures:
            raise SecretsError("malformed root signature file (signature)", path=source,
                               line=number)
        try:
            signatures[s.group(1)] = base64.b64decode(s.group(2), validate=True)
        except binascii.Error:
            raise SecretsError("malformed root signature file (signature)", path=source,
                               line=number) from None
    if (fields.get("format") != FORMAT or fields.get("file") != SIGNERS_FILE
            or not re.fullmatch(r"[1-9][0-9]{0,17}", fields.get("version", ""))):
        raise SecretsError(f"malformed root signature file (not {FORMAT} for {SIGNERS_FILE})",
                           path=source)
    return RootSignatures(int(fields["version"]), signatures)


def sig_path(repo_root: Path) -> Path:
    return repo_root / (SIGNERS_FILE + ".sig")


def read_signatures(repo_root: Path) -> RootSignatures | None:
    try:
        content = sig_path(repo_root).read_bytes()
    except FileNotFoundError:
        return None
    return parse_signatures(content, source=SIGNERS_FILE + ".sig")


def verify_signers(content: bytes, repo_root: Path) -> int:
    """Check the root signatures over signers.yaml's bytes (before anything parses them);
    returns the policy's version, or raises `SecretsError` in one line saying what to do."""
    root = require_root()
    sigs = read_signatures(repo_root)
    if sigs is None:
        raise SecretsError(f"is not signed by the root of trust ({SIGNERS_FILE}.sig is missing): "
                           "a root key holder signs it with `orc secrets root sign`",
                           path=SIGNERS_FILE)
    good = sigs.valid_keys(content, root)
    if len(good) < root.threshold:
        raise SecretsError(f"has {len(good)} valid signature(s) of the {root.threshold} the root "
                           f"of trust ({root.source}) requires: changed without the root's "
                           "signature? (a root key holder signs it with `orc secrets root sign`)",
                           path=SIGNERS_FILE)
    return sigs.version


def load_root_key() -> keys.SigningKey:
    """The private root key, from `$ORC_ROOT_KEY`, `$ORC_ROOT_KEY_FILE`, or the config dir."""
    if os.environ.get("ORC_ROOT_KEY"):
        return keys.parse_signing_key(os.environ["ORC_ROOT_KEY"], source="$ORC_ROOT_KEY")
    path = Path(os.environ.get("ORC_ROOT_KEY_FILE") or keys.config_dir() / ROOT_KEY_FILE)
    if not path.exists():
        raise SecretsError("no root key: set ORC_ROOT_KEY_FILE (or ORC_ROOT_KEY), or create one "
                           "with `orc secrets root keygen`")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SecretsError(f"cannot read the root key: {getattr(err, 'strerror', err)}",
                           path=path) from None
    return keys.parse_signing_key(text, source=str(path))


def sign(repo_root: Path, key: keys.SigningKey, version: int | None = None) -> RootSignatures:
    """Add `key`'s signature to signers.yaml's root signatures and write them.

    Signatures already there for these exact bytes and version are kept, so k holders of a
    k-of-n root sign one after the other; a changed file starts over at the next version.
    """
    try:
        content = (repo_root / SIGNERS_FILE).read_bytes()
    except FileNotFoundError:
        raise SecretsError("does not exist", path=SIGNERS_FILE) from None
    try:
        current = read_signatures(repo_root)
    except SecretsError:
        current = None  # a malformed file is replaced
    root = load_root()
    valid = current.valid_keys(content, root) if current and root else []
    if version is None:
        version = current.version if valid else (current.version + 1 if current else 1)
    if current is not None and version < current.version:
        raise SecretsError(f"version {version} is older than the signed version "
                           f"{current.version}", path=SIGNERS_FILE)
    kept = ({kid: current.signatures[kid] for kid in valid}
            if current is not None and version == current.version else {})
    kept[key.key_id] = key.sign(message(content, version=version, key_id=key.key_id))
    signed = RootSignatures(version, kept)
    from orchestrator.secrets.writer import write_atomic

    write_atomic(sig_path(repo_root), signed.render())
    return signed


def root_file_text(public: list[str], threshold: int = 1) -> str:
    body = "".join(f"  - {k}\n" for k in public)
    return (f"# orc's root of trust: {threshold} of these keys must sign {SIGNERS_FILE}\n"
            f"threshold: {threshold}\nkeys:\n{body}")
