"""Every change to a secret file ends the same way: sealed, written atomically, signed anew.

A rewrite starts from a verified file only, so a trusted signer's key never launders a forged
file; and each signature carries a version above any signed or deployed before, so the new file
supersedes the old one for the anti-replay check.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from orchestrator.errors import SecretsError
from orchestrator.load import inputfile
from orchestrator.secrets import age, keys, policy, replay, signature, sopsfile, yamlio
from orchestrator.secrets.api import OpenedFile, relative_name
from orchestrator.secrets.sopsfile import EncryptionRules, SopsDocument


def write_atomic(path: Path, content: bytes, *, mode: int | None = None) -> None:
    """Replace `path` whole or not at all; keeps its mode unless `mode` is given (new: 0644)."""
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def next_version(path: Path, name: str, repo_root: Path) -> int:
    """One above both the current signature's version and any version already deployed."""
    try:
        current = signature.read(signature.sig_path(path), source=name + ".sig")
    except SecretsError:
        current = None
    deployed = replay.deployed_versions(replay.default_store(repo_root), name).values()
    return max([current.version if current else 0, *deployed]) + 1


def check_may_sign(key: keys.SigningKey, name: str, repo_root: Path) -> None:
    """Refuse early (before an editor opens) when the signature would be refused anyway."""
    trust = policy.load_signers(repo_root)
    signer = trust.by_key_id(key.key_id)
    if signer is None:
        raise SecretsError(f"your signing key {key.key_id} ({key.public_text}) is not in "
                           f"{trust.source}; add it there before signing", path=name)
    if not signer.may_sign(name):
        raise SecretsError(f"{trust.source} does not allow your key ({signer.name}) to sign "
                           "this path", path=name)


def sign(path: Path, *, repo_root: Path, key: keys.SigningKey, version: int | None = None,
         identities: keys.Identities | None = None) -> signature.Signature:
    """Vouch for the file as it is now: a sops file your key may sign, whose MAC holds.

    The MAC is checked when one of your age identities opens the file, so a tampered file
    (sealed values swapped, edited by hand) is not signed; a signer who is not a recipient
    signs the bytes as they are.
    """
    name = relative_name(path, repo_root)
    content = inputfile.read_bytes(path, error=SecretsError, name=name)
    doc = sopsfile.parse(content, source=name)
    check_may_sign(key, name, repo_root)
    ids = identities if identities is not None else keys.load_identities()
    try:
        data_key = age.unwrap(doc.age, ids.identities, source=name,
                              identity_sources=ids.describe())
    except SecretsError:
        data_key = None
    if data_key is not None:
        sopsfile.decrypt(doc, data_key)
    sig = signature.sign(content, file=name, version=version or next_version(path, name, repo_root),
                         key=key)
    write_atomic(signature.sig_path(Path(path)), sig.render())
    return sig


def write_signed(path: Path, doc: SopsDocument, *, repo_root: Path,
                  key: keys.SigningKey) -> signature.Signature:
    name = relative_name(path, repo_root)
    version = next_version(path, name, repo_root)
    content = doc.render()
    sig = signature.sign(content, file=name, version=version, key=key)
    write_atomic(Path(path), content)
    write_atomic(signature.sig_path(Path(path)), sig.render())
    return sig


def new_document(values: Any, *, name: str, repo_root: Path,
                 recipients: list[str] | None = None) -> SopsDocument:
    """Seal plaintext under a fresh data key for the recipients `.sops.yaml` (or the caller) names."""
    rule = policy.creation_rule(repo_root, name)
    if not recipients and rule is None:
        raise SecretsError(f"no rule in {policy.SOPS_CONFIG} matches this path; add one or pass "
                           "--age RECIPIENT", path=name)
    rules = rule.rules if rule else EncryptionRules.from_mapping({}, source=name)
    data_key = os.urandom(sopsfile.DATA_KEY_SIZE)
    stanzas = age.wrap(data_key, recipients or rule.recipients)
    return sopsfile.seal(values, data_key, stanzas, rules, source=name)


def encrypt(source: Path, dest: Path, *, repo_root: Path, key: keys.SigningKey,
            recipients: list[str] | None = None) -> signature.Signature:
    """Encrypt a plaintext YAML file into `dest` (may be the same file) and sign it."""
    name = relative_name(dest, repo_root)
    check_may_sign(key, name, repo_root)
    plaintext = inputfile.read_bytes(source, error=SecretsError)
    values = yamlio.load(plaintext, source=str(source))
    if isinstance(values, dict) and "sops" in values:
        raise SecretsError("is already encrypted (it has sops: metadata)", path=source)
    doc = new_document(values, name=name, repo_root=repo_root, recipients=recipients)
    return write_signed(dest, doc, repo_root=repo_root, key=key)


def _writable(opened: OpenedFile) -> SopsDocument:
    doc = opened.document
    if doc.foreign_keys:
        raise SecretsError(f"also has {', '.join(doc.foreign_keys)} keys, which orc cannot keep "
                           "when it rewrites the file; change it with sops", path=doc.source)
    return doc


def resealed(opened: OpenedFile, values: Any) -> SopsDocument:
    """New plaintext under the same data key; unchanged values keep their ciphertext."""
    doc = _writable(opened)
    return sopsfile.seal(values, opened.data_key, doc.age, doc.rules, stash=opened.stash,
                         source=doc.source)


def rotate(opened: OpenedFile, *, repo_root: Path, key: keys.SigningKey,
           recipients: list[str] | None = None) -> signature.Signature:
    """A fresh data key for the same (or the given) recipients; every value is sealed anew."""
    doc = _writable(opened)
    data_key = os.urandom(sopsfile.DATA_KEY_SIZE)
    stanzas = age.wrap(data_key, recipients or [s.recipient for s in doc.age])
    new = sopsfile.seal(opened.values, data_key, stanzas, doc.rules, source=doc.source)
    return write_signed(opened.verified.path, new, repo_root=repo_root, key=key)


def add_recipients(opened: OpenedFile, recipients: list[str], *, repo_root: Path,
                   key: keys.SigningKey) -> signature.Signature:
    """Wrap the existing data key for more recipients; the values are left byte for byte."""
    doc = _writable(opened)
    known = {s.recipient for s in doc.age}
    fresh = [r for r in dict.fromkeys(r.strip() for r in recipients) if r not in known]
    if not fresh:
        raise SecretsError("already encrypted to every recipient given", path=doc.source)
    doc.age = [*doc.age, *age.wrap(opened.data_key, fresh)]
    return write_signed(opened.verified.path, doc, repo_root=repo_root, key=key)


def remove_recipients(opened: OpenedFile, recipients: list[str], *, repo_root: Path,
                      key: keys.SigningKey) -> signature.Signature:
    """Drop recipients and rotate the data key: they may have kept the old one."""
    current = [s.recipient for s in opened.document.age]
    gone = {r.strip() for r in recipients}
    unknown = sorted(gone - set(current))
    if unknown:
        raise SecretsError(f"is not encrypted to {', '.join(unknown)}", path=opened.verified.name)
    remaining = [r for r in current if r not in gone]
    if not remaining:
        raise SecretsError("removing every recipient would leave nobody able to decrypt it",
                           path=opened.verified.name)
    return rotate(opened, repo_root=repo_root, key=key, recipients=remaining)
