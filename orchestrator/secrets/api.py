"""Reading a secret file the only safe way: signature and signer policy first, decryption after.

Verification needs no private key, so CI can check every file; decryption is attempted only on
bytes a trusted signer vouched for, so a forged file never reaches the parser of ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import SecretsError
from orchestrator.secrets import age, keys, masking, policy, signature, sopsfile
from orchestrator.secrets.sopsfile import SopsDocument, Stash


def relative_name(path: Path, repo_root: Path) -> str:
    """The path signatures and policies speak of: relative to the repository root, with `/`."""
    try:
        return Path(path).resolve().relative_to(Path(repo_root).resolve()).as_posix()
    except ValueError:
        raise SecretsError(f"is outside the repository {repo_root}, where no signer may sign it",
                           path=path) from None


@dataclass(frozen=True)
class VerifiedFile:
    """Bytes that a trusted signer signed for this path; still encrypted."""

    path: Path
    name: str
    content: bytes
    signature: signature.Signature
    signer: policy.Signer
    policy_version: int  # of the root-signed secrets/signers.yaml that trusted the signer


def verify(path: Path, *, repo_root: Path) -> VerifiedFile:
    """Check the `.sig` against `secrets/signers.yaml`; raises `SecretsError` saying why not."""
    path, repo_root = Path(path), Path(repo_root)
    name = relative_name(path, repo_root)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise SecretsError("does not exist", path=name) from None
    sig = signature.read(signature.sig_path(path), source=name + ".sig")
    if sig is None:
        raise SecretsError(f"is not signed: {name}.sig is missing "
                           f"(sign it with `orc secrets sign {name}`)", path=name)
    trust = policy.load_signers(repo_root)
    signer = trust.by_key_id(sig.key_id)
    if signer is None:
        raise SecretsError(f"is signed by key {sig.key_id}, which {trust.source} does not trust",
                           path=name)
    if not sig.verifies(content, signer.public):
        raise SecretsError(f"signature by {signer.name} does not match: the file or its .sig "
                           "changed after signing", path=name)
    if sig.file != name:
        raise SecretsError(f"signature by {signer.name} is for {sig.file}, not for this path "
                           "(a copied or moved file?)", path=name)
    if not signer.may_sign(name):
        raise SecretsError(f"is signed by {signer.name} (key {sig.key_id}), who "
                           f"{trust.source} does not allow to sign this path", path=name)
    return VerifiedFile(path, name, content, sig, signer, trust.version)


@dataclass(frozen=True, repr=False)
class SecretFile:
    """A verified, decrypted secret file. Its repr names the file, never a value."""

    path: Path
    name: str
    version: int
    signer: str
    values: masking.SecretTree
    signers_version: int = 0  # of the root-signed secrets/signers.yaml

    @property
    def versions(self) -> dict[str, int]:
        """What a host records so that neither this file nor the signer policy that vouched
        for it can go back to an older version there."""
        return {self.name: self.version, policy.SIGNERS_FILE: self.signers_version}

    def __repr__(self) -> str:
        return f"SecretFile({self.name!r}, version={self.version}, signer={self.signer!r})"

    def plaintexts(self) -> set[str]:
        """Every secret as text, for `mask()` over plans, diffs, reports and logs."""
        return masking.secret_strings(self.values)


@dataclass(frozen=True, repr=False)
class OpenedFile:
    """What a rewrite needs: the verified bytes, the document, its data key and plaintext."""

    verified: VerifiedFile
    document: SopsDocument
    data_key: bytes
    values: dict[str, Any]
    stash: Stash


def open_verified(path: Path, *, repo_root: Path,
                  identities: keys.Identities | None = None) -> OpenedFile:
    verified = verify(path, repo_root=repo_root)
    doc = sopsfile.parse(verified.content, source=verified.name)
    ids = identities if identities is not None else keys.load_identities()
    data_key = age.unwrap(doc.age, ids.identities, source=verified.name,
                          identity_sources=ids.describe())
    values, stash = sopsfile.decrypt(doc, data_key)
    return OpenedFile(verified, doc, data_key, values, stash)


def load_verified(path: Path, *, repo_root: Path,
                  identities: keys.Identities | None = None) -> SecretFile:
    """Verify the signature against the signer policy, then decrypt; refuse with one line if not.

    Identities default to `$ORC_AGE_KEY`/`$ORC_AGE_KEY_FILE`, the user's config dir, and the
    places sops looks.
    """
    opened = open_verified(path, repo_root=repo_root, identities=identities)
    v = opened.verified
    masking.remember_plaintexts(masking.secret_strings(opened.values))  # never printed here
    return SecretFile(v.path, v.name, v.signature.version, v.signer.name,
                      masking.redacted(opened.values), v.policy_version)
