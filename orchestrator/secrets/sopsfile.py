"""The SOPS YAML file: a tree of sealed values, the MAC over all of them, and `sops:` metadata.

Values are walked in document order; each is sealed with its key path as additional data, and
the SHA-512 of every plaintext (the MAC) is itself sealed with the `lastmodified` time as
additional data. This is the layout sops 3 reads and writes, so either tool opens the other's
files.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from orchestrator.errors import SecretsError
from orchestrator.secrets import cipher, scalars, yamlio

# the format version orc writes; sops uses it to decide which compatibility quirks apply
FORMAT_VERSION = "3.11.0"
DATA_KEY_SIZE = 32
# sops starts the MAC with these bytes when it covers only encrypted values, so that the two
# kinds of MAC can never be equal
_MAC_ONLY_ENCRYPTED_INIT = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69"
)
_UNSUPPORTED_META = ("key_groups", "shamir_threshold", "unencrypted_comment_regex",
                     "encrypted_comment_regex")
FOREIGN_KEY_KINDS = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")

# the keys from the top down to a value; list items keep their parent's path, as in sops
KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class EncryptionRules:
    """Which values stay readable; sops' default leaves only keys ending `_unencrypted` plain."""

    unencrypted_suffix: str = ""
    encrypted_suffix: str = ""
    unencrypted_regex: str = ""
    encrypted_regex: str = ""
    mac_only_encrypted: bool = False

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str) -> EncryptionRules:
        """From `sops:` metadata or a `.sops.yaml` rule; none set means sops' default suffix."""
        chosen = {f.name: data[f.name] for f in fields(cls) if data.get(f.name)}
        selectors = [name for name in chosen if name != "mac_only_encrypted"]
        if len(selectors) > 1:
            raise SecretsError(f"sets more than one of {', '.join(selectors)}; sops allows one",
                               path=source)
        if not selectors:
            chosen["unencrypted_suffix"] = "_unencrypted"
        for name in selectors:
            if not isinstance(chosen[name], str):
                raise SecretsError(f"{name} must be a string", path=source)
            if name.endswith("regex"):
                try:
                    re.compile(chosen[name])
                except re.error:
                    raise SecretsError(f"{name} is not a valid regular expression",
                                       path=source) from None
        return cls(**chosen)

    def encrypts(self, path: KeyPath) -> bool:
        """sops' shouldBeEncrypted for everything but comments, which orc reads past and does
        not keep."""
        encrypted = True
        if self.unencrypted_suffix and any(k.endswith(self.unencrypted_suffix) for k in path):
            encrypted = False
        if self.encrypted_suffix:
            encrypted = any(k.endswith(self.encrypted_suffix) for k in path)
        if self.unencrypted_regex and any(re.search(self.unencrypted_regex, k) for k in path):
            encrypted = False
        if self.encrypted_regex:
            encrypted = any(re.search(self.encrypted_regex, k) for k in path)
        return encrypted

    def metadata(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass(frozen=True)
class AgeStanza:
    """The data key encrypted to one age recipient (ASCII-armored, as sops stores it)."""

    recipient: str
    enc: str


@dataclass
class SopsDocument:
    """An encrypted file as parsed: nothing in it is plaintext except what the rules leave plain."""

    tree: dict[str, Any]
    age: list[AgeStanza]
    rules: EncryptionRules
    lastmodified: str
    mac: str
    version: str = FORMAT_VERSION
    foreign_keys: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    def render(self) -> bytes:
        meta: dict[str, Any] = {
            "age": [{"recipient": s.recipient, "enc": s.enc} for s in self.age],
            "lastmodified": self.lastmodified,
            "mac": self.mac,
            **self.rules.metadata(),
            "version": self.version,
        }
        return yamlio.dump({**self.tree, "sops": meta}).encode("utf-8")


# (key path as additional data, type tag, plaintext bytes) -> the ciphertext it had, so that an
# edit re-seals unchanged values to the same text and the git diff shows only what changed
Stash = dict[tuple[str, str, bytes], str]


def parse(content: bytes, *, source: str) -> SopsDocument:
    data = yamlio.load(content, source=source)
    if not isinstance(data, dict) or not isinstance(data.get("sops"), dict):
        raise SecretsError("not a sops file (no sops: metadata)", path=source)
    meta = data.pop("sops")
    for name in _UNSUPPORTED_META:
        if meta.get(name):
            raise SecretsError(f"uses {name}, which orc does not support", path=source)
    age = []
    for entry in meta.get("age") or []:
        if not (isinstance(entry, dict) and isinstance(entry.get("recipient"), str)
                and isinstance(entry.get("enc"), str)):
            raise SecretsError("sops.age entries need a recipient and an enc", path=source)
        age.append(AgeStanza(entry["recipient"], entry["enc"]))
    lastmodified, mac = meta.get("lastmodified"), meta.get("mac")
    if isinstance(lastmodified, datetime):
        lastmodified = yamlio.format_time(lastmodified)
    if not isinstance(lastmodified, str) or not isinstance(mac, str):
        raise SecretsError("sops metadata lacks lastmodified or mac", path=source)
    return SopsDocument(
        tree=data,
        age=age,
        rules=EncryptionRules.from_mapping(meta, source=source),
        lastmodified=lastmodified,
        mac=mac,
        version=str(meta.get("version", FORMAT_VERSION)),
        foreign_keys=tuple(k for k in FOREIGN_KEY_KINDS if meta.get(k)),
        source=source,
    )


def _walk(tree: Any, path: KeyPath, leaf: Callable[[Any, KeyPath], Any],
          sealed: bool = False) -> Any:
    """sops' walk: list items keep their parent's path; nulls are neither sealed nor hashed;
    in a `sealed` tree, the comments sops wrote as list items are not values (they are outside
    the MAC too)."""
    if isinstance(tree, dict):
        if not all(isinstance(key, str) for key in tree):
            raise SecretsError(f"keys under {_aad(path)} must all be strings")
        return {key: _walk(value, (*path, key), leaf, sealed) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_walk(item, path, leaf, sealed) for item in tree
                if not (sealed and is_comment_item(item))]
    if tree is None:
        return None
    return leaf(tree, path)


def is_comment_item(item: Any) -> bool:
    """A YAML comment inside a list, as sops 3 stores it: an encrypted list item whose type is
    `comment` (sops shows it as a comment again when it decrypts; a comment elsewhere is a YAML
    comment, which YAML readers skip)."""
    return isinstance(item, str) and item.startswith("ENC[") and item.endswith(",type:comment]")


def _aad(path: KeyPath) -> str:
    return ":".join(path) + ":"


def _mac_aad(lastmodified: str, source: str) -> str:
    """sops authenticates the MAC with `lastmodified` re-formatted as RFC 3339 seconds."""
    stamp = yamlio.parse_timestamp(lastmodified)
    if stamp is None:
        raise SecretsError("sops.lastmodified is not a time", path=source)
    return yamlio.format_time(stamp.replace(microsecond=0))


def _new_mac(rules: EncryptionRules):
    digest = hashlib.sha512()
    if rules.mac_only_encrypted:
        digest.update(_MAC_ONLY_ENCRYPTED_INIT)
    return digest


def decrypt(doc: SopsDocument, data_key: bytes) -> tuple[dict[str, Any], Stash]:
    """Open every value and check the MAC; any tampered, moved or swapped value is refused."""
    digest = _new_mac(doc.rules)
    stash: Stash = {}

    def leaf(value: Any, path: KeyPath) -> Any:
        encrypted = doc.rules.encrypts(path)
        if encrypted:
            if not isinstance(value, str):
                raise SecretsError(f"value at {_aad(path)} should be encrypted but is not",
                                   path=doc.source)
            try:
                plain = cipher.unseal(value, data_key, _aad(path))
            except cipher.CipherError as err:
                raise SecretsError(f"value at {_aad(path)} {err}", path=doc.source) from None
        else:
            plain = value
        raw = _to_bytes(plain, path, doc.source)
        if encrypted and value:
            stash[(_aad(path), scalars.type_tag(plain), raw)] = value
        if encrypted or not doc.rules.mac_only_encrypted:
            digest.update(raw)
        return plain

    values = _walk(doc.tree, (), leaf, sealed=True)
    try:
        stored = cipher.unseal(doc.mac, data_key, _mac_aad(doc.lastmodified, doc.source))
    except cipher.CipherError:
        raise SecretsError("the MAC cannot be decrypted (tampered with)", path=doc.source) from None
    if not isinstance(stored, str) or not hmac.compare_digest(
        stored.encode(), digest.hexdigest().upper().encode()
    ):
        raise SecretsError("MAC mismatch: the values are not the ones the file was sealed with",
                           path=doc.source)
    return values, stash


def _to_bytes(value: Any, path: KeyPath, source: str) -> bytes:
    try:
        if isinstance(value, int) and not isinstance(value, bool) and not (
            -(2**63) <= value < 2**63
        ):
            raise scalars.ValueFormatError("integer out of the 64-bit range")
        return scalars.to_bytes(value)
    except scalars.ValueFormatError as err:
        raise SecretsError(f"value at {_aad(path)}: {err}", path=source) from None


def seal(values: dict[str, Any], data_key: bytes, age: list[AgeStanza], rules: EncryptionRules,
         *, stash: Stash | None = None, source: str = "") -> SopsDocument:
    """Encrypt a plaintext tree into a document, reusing stashed ciphertexts of unchanged values."""
    if not isinstance(values, dict):
        raise SecretsError("a secret file must be a YAML mapping at the top", path=source)
    if "sops" in values:
        raise SecretsError("the top-level key 'sops' is reserved for metadata", path=source)
    digest = _new_mac(rules)
    stash = stash or {}

    def leaf(value: Any, path: KeyPath) -> Any:
        raw = _to_bytes(value, path, source)
        encrypted = rules.encrypts(path)
        if encrypted or not rules.mac_only_encrypted:
            digest.update(raw)
        if not encrypted:
            return value
        reused = stash.get((_aad(path), scalars.type_tag(value), raw))
        return reused if reused is not None else cipher.seal(value, data_key, _aad(path))

    tree = _walk(values, (), leaf)
    lastmodified = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = cipher.seal(digest.hexdigest().upper(), data_key, lastmodified)
    return SopsDocument(tree, list(age), rules, lastmodified, mac, source=source)
