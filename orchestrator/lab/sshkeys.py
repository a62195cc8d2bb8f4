"""SSH key pairs for the lab, made with `cryptography` in OpenSSH format.

Generating the hosts' keys on the controller means the known_hosts file is written from what we
made, never learnt from the network: strict host key checking holds from the first connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    private_openssh: bytes
    public_line: str  # "ssh-ed25519 AAAA... comment"


def generate(comment: str) -> KeyPair:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return KeyPair(private, f"{public.decode()} {comment}")


def write_private(path: Path, pair: KeyPair) -> None:
    """Write a private key 0600 from the first byte (never world-readable, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pair.private_openssh)
    path.with_name(path.name + ".pub").write_text(pair.public_line + "\n")


def load_or_create(path: Path, comment: str) -> KeyPair:
    if path.exists():
        pub = path.with_name(path.name + ".pub").read_text().strip()
        return KeyPair(path.read_bytes(), pub)
    pair = generate(comment)
    write_private(path, pair)
    return pair


def key_type_and_body(public_line: str) -> str:
    """The "type base64" part of a public key line, as known_hosts wants it."""
    return " ".join(public_line.split()[:2])
