"""One value sealed as sops seals it: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.

The additional data is the value's key path (`db:password:`), so a ciphertext moved to another key
no longer authenticates. The 32-byte IV is what sops uses; GCM accepts it and it leaves no
practical chance of a repeated nonce under one data key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orchestrator.secrets import scalars

IV_SIZE = 32
TAG_SIZE = 16
_ENC = re.compile(
    r"ENC\[AES256_GCM,data:([A-Za-z0-9+/=]+),iv:([A-Za-z0-9+/=]+),"
    r"tag:([A-Za-z0-9+/=]+),type:([a-z]+)\]"
)


class CipherError(ValueError):
    """A value cannot be opened: malformed, tampered with, moved, or sealed with another key."""


@dataclass(frozen=True)
class Sealed:
    data: bytes
    iv: bytes
    tag: bytes
    type: str

    def render(self) -> str:
        data, iv, tag = (base64.b64encode(raw).decode() for raw in (self.data, self.iv, self.tag))
        return f"ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:{self.type}]"


def parse(text: str) -> Sealed:
    m = _ENC.fullmatch(text)
    if not m:
        raise CipherError("is not an ENC[AES256_GCM,...] value")
    try:
        data, iv, tag = (base64.b64decode(g, validate=True) for g in m.group(1, 2, 3))
    except binascii.Error:
        raise CipherError("has invalid base64 in its ENC[...] value") from None
    if not 8 <= len(iv) <= 128 or len(tag) != TAG_SIZE:
        raise CipherError("has an ENC[...] value with a bad IV or tag length")
    return Sealed(data, iv, tag, m.group(4))


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith("ENC[AES256_GCM,")


def seal(value: scalars.Scalar, key: bytes, aad: str) -> str:
    """Encrypt one value; empty strings stay empty, as sops leaves them."""
    if value == "":
        return ""
    iv = os.urandom(IV_SIZE)
    out = AESGCM(key).encrypt(iv, scalars.to_bytes(value), aad.encode("utf-8"))
    return Sealed(out[:-TAG_SIZE], iv, out[-TAG_SIZE:], scalars.type_tag(value)).render()


def unseal(text: str, key: bytes, aad: str) -> scalars.Scalar:
    if text == "":
        return ""
    sealed = parse(text)
    try:
        raw = AESGCM(key).decrypt(sealed.iv, sealed.data + sealed.tag, aad.encode("utf-8"))
    except InvalidTag:
        raise CipherError("does not authenticate (tampered, moved from another key, "
                          "or sealed with another data key)") from None
    try:
        return scalars.from_bytes(sealed.type, raw)
    except scalars.ValueFormatError as err:
        raise CipherError(str(err)) from None
