"""Where a user's private keys live and how they are made.

Two keys per person: an age identity (decrypts the data keys of files encrypted to them) and an
Ed25519 signing key (vouches for files they write). On a workstation both sit in the user's config
directory as 0600 files; in CI they come from environment variables, so no key is ever written
into the checkout.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyrage
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from orchestrator.errors import SecretsError
from orchestrator.secrets.age import Identity, parse_identities

AGE_KEY_FILE = "age.key"
SIGNING_KEY_FILE = "signing.key"
PUBLIC_PREFIX = "orc-ed25519:"
SECRET_PREFIX = "ORC-ED25519-SECRET-KEY:"


def config_dir() -> Path:
    """`$ORC_CONFIG_DIR`, else `$XDG_CONFIG_HOME/orc`, else `~/.config/orc`."""
    if os.environ.get("ORC_CONFIG_DIR"):
        return Path(os.environ["ORC_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "orc"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: what a `.sig` says it was signed with."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_text(public: Ed25519PublicKey) -> str:
    return PUBLIC_PREFIX + _b64(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def parse_public(text: str, *, source: str) -> Ed25519PublicKey:
    if text.strip().startswith(SECRET_PREFIX):
        raise SecretsError("that is a private signing key, not a public one; replace it and "
                           "make a new key pair (this one is exposed)", path=source)
    raw = _unb64(text[len(PUBLIC_PREFIX):]) if text.startswith(PUBLIC_PREFIX) else b""
    if len(raw) != 32:
        raise SecretsError(f"{text!r} is not a signing public key ({PUBLIC_PREFIX}...)",
                           path=source)
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    source: str

    def __repr__(self) -> str:
        return f"SigningKey(id={self.key_id}, source={self.source!r})"

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    @property
    def public_text(self) -> str:
        return public_text(self.public)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def parse_signing_key(text: str, *, source: str) -> SigningKey:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    raw = _unb64(lines[0][len(SECRET_PREFIX):]) if len(lines) == 1 and lines[0].startswith(
        SECRET_PREFIX) else b""
    if len(raw) != 32:
        raise SecretsError(f"not a signing key (one {SECRET_PREFIX}... line)", path=source)
    return SigningKey(Ed25519PrivateKey.from_private_bytes(raw), source)


def _signing_key_text(private: Ed25519PrivateKey) -> str:
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return SECRET_PREFIX + _b64(raw)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretsError(f"{what} file does not exist", path=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SecretsError(f"cannot read {what} file: {getattr(err, 'strerror', err)}",
                           path=path) from None


def load_signing_key() -> SigningKey:
    """From `$ORC_SIGNING_KEY` (the key itself), `$ORC_SIGNING_KEY_FILE`, or the config dir."""
    if os.environ.get("ORC_SIGNING_KEY"):
        return parse_signing_key(os.environ["ORC_SIGNING_KEY"], source="$ORC_SIGNING_KEY")
    if os.environ.get("ORC_SIGNING_KEY_FILE"):
        path = Path(os.environ["ORC_SIGNING_KEY_FILE"])
        return parse_signing_key(_read(path, "signing key"), source=str(path))
    path = config_dir() / SIGNING_KEY_FILE
    if not path.exists():
        raise SecretsError("no signing key: set ORC_SIGNING_KEY_FILE (or ORC_SIGNING_KEY), "
                           "or create one with `orc secrets keygen`")
    return parse_signing_key(_read(path, "signing key"), source=str(path))


@dataclass(frozen=True)
class Identities:
    identities: list[Identity]
    sources: list[str]

    def describe(self) -> str:
        return ", ".join(self.sources) or "nowhere"


def identities_from_file(path: Path) -> Identities:
    """The identities of one key file, for a caller that is told where the key is."""
    return Identities(parse_identities(_read(path, "age key"), source=str(path)), [str(path)])


def load_identities() -> Identities:
    """Every age identity on offer: orc's own variables and file, then the ones sops reads."""
    found: list[Identity] = []
    sources: list[str] = []
    for var in ("ORC_AGE_KEY", "SOPS_AGE_KEY"):
        if os.environ.get(var):
            found += parse_identities(os.environ[var], source=f"${var}")
            sources.append(f"${var}")
    for var in ("ORC_AGE_KEY_FILE", "SOPS_AGE_KEY_FILE"):
        if os.environ.get(var):
            path = Path(os.environ[var])
            found += parse_identities(_read(path, "age key"), source=str(path))
            sources.append(str(path))
    for path in (config_dir() / AGE_KEY_FILE, _sops_default_key_file()):
        if path.is_file():
            found += parse_identities(_read(path, "age key"), source=str(path))
            sources.append(str(path))
    return Identities(found, sources)


def _sops_default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "sops" / "age" / "keys.txt"


def _write_private(path: Path, text: str) -> None:
    """Create a 0600 file, refusing to replace one: a lost private key cannot be re-made."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


@dataclass(frozen=True)
class GeneratedKeys:
    directory: Path
    age_recipient: str
    signing_public: str
    signing_key_id: str


def generate(directory: Path | None = None) -> GeneratedKeys:
    """Make a new age identity and signing key in `directory` (default: the config dir)."""
    directory = directory or config_dir()
    targets = [directory / AGE_KEY_FILE, directory / SIGNING_KEY_FILE]
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise SecretsError(f"{' and '.join(existing)} already exist; orc never overwrites a "
                           "private key (move it away first)")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    _write_private(targets[0], f"# created: {now}\n# public key: {recipient}\n{identity}\n")
    private = Ed25519PrivateKey.generate()
    public = public_text(private.public_key())
    _write_private(targets[1], f"# created: {now}\n# public key: {public}\n"
                               f"{_signing_key_text(private)}\n")
    return GeneratedKeys(directory, recipient, public, key_id(private.public_key()))


def generate_signing_key(path: Path, what: str = "signing key") -> SigningKey:
    """A new Ed25519 key in a 0600 file (its directory 0700), never replacing one."""
    if path.exists():
        raise SecretsError(f"{path} already exists; orc never overwrites a private key "
                           "(move it away first)")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _write_private(path, f"# {what}, created: {now}\n# public key: "
                         f"{public_text(private.public_key())}\n{_signing_key_text(private)}\n")
    return SigningKey(private, str(path))
