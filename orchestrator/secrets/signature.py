"""The detached `<file>.sig`: who vouches for these exact bytes, at which path, at which version.

Encryption keys are public, so anyone can write a file sops will decrypt; only a signature says
who wrote it. The signed message binds the file's bytes to its path in the repository (a prod
file cannot be passed off as a copy of the dev one), to the signer's key id, and to a version
number that only grows, which is what lets orc refuse a replayed older file.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from orchestrator.errors import SecretsError
from orchestrator.secrets.keys import SigningKey

FORMAT = "orc-signature-v1"
_LINE = re.compile(r"([a-z]+): (\S+)")
_FIELDS = ("format", "file", "version", "key", "signature")


def sig_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


@dataclass(frozen=True)
class Signature:
    file: str  # the signed file's path relative to the repository root, with `/`
    version: int
    key_id: str
    value: bytes

    def message(self, content: bytes) -> bytes:
        header = f"{FORMAT}\nfile: {self.file}\nversion: {self.version}\nkey: {self.key_id}\n\n"
        return header.encode("utf-8") + content

    def verifies(self, content: bytes, public: Ed25519PublicKey) -> bool:
        try:
            public.verify(self.value, self.message(content))
        except InvalidSignature:
            return False
        return True

    def render(self) -> bytes:
        return (
            f"# detached signature of {self.file}; check with `orc secrets verify {self.file}`\n"
            f"format: {FORMAT}\nfile: {self.file}\nversion: {self.version}\n"
            f"key: {self.key_id}\nsignature: {base64.b64encode(self.value).decode()}\n"
        ).encode()


def sign(content: bytes, *, file: str, version: int, key: SigningKey) -> Signature:
    if "\n" in file or not file or version < 1:
        raise SecretsError("cannot sign: bad path or version", path=file)
    unsigned = Signature(file, version, key.key_id, b"")
    return Signature(file, version, key.key_id, key.sign(unsigned.message(content)))


def parse(content: bytes, *, source: str) -> Signature:
    """Strict: exactly the five fields, once each, so no two readers can disagree on a `.sig`."""
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        raise SecretsError("malformed signature file (not ASCII)", path=source) from None
    found: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if not line or line.startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if not m or m.group(1) not in _FIELDS or m.group(1) in found:
            raise SecretsError("malformed signature file", path=source, line=number)
        found[m.group(1)] = m.group(2)
    if set(found) != set(_FIELDS) or found["format"] != FORMAT:
        raise SecretsError(f"malformed signature file (not {FORMAT})", path=source)
    if not re.fullmatch(r"[1-9][0-9]{0,17}", found["version"]) or not re.fullmatch(
        r"[0-9a-f]{16}", found["key"]
    ):
        raise SecretsError("malformed signature file (version or key)", path=source)
    try:
        value = base64.b64decode(found["signature"], validate=True)
    except binascii.Error:
        value = b""
    # only the canonical spelling: no two .sig texts carry the same signature
    if len(value) != 64 or base64.b64encode(value).decode() != found["signature"]:
        raise SecretsError("malformed signature file (signature)", path=source)
    return Signature(found["file"], int(found["version"]), found["key"], value)


def read(path: Path, *, source: str) -> Signature | None:
    try:
        return parse(path.read_bytes(), source=source)
    except FileNotFoundError:
        return None
