"""The data key to and from age recipients, through pyrage, armored as sops stores it."""

from __future__ import annotations

import pyrage

from orchestrator.errors import SecretsError
from orchestrator.secrets.sopsfile import DATA_KEY_SIZE, AgeStanza

Identity = pyrage.x25519.Identity


def parse_recipient(text: str) -> pyrage.x25519.Recipient:
    if text.strip().upper().startswith("AGE-SECRET-KEY-"):
        # never echo it back: it would land in terminals, CI logs and shell history
        raise SecretsError("that is an age identity (a private key), not a recipient (age1...)")
    try:
        return pyrage.x25519.Recipient.from_str(text.strip())
    except pyrage.RecipientError:
        raise SecretsError(f"{text.strip()!r} is not an age recipient (age1...)") from None


def parse_identities(text: str, *, source: str) -> list[Identity]:
    """Every `AGE-SECRET-KEY-1…` line of a key file; comments and blank lines are skipped."""
    identities = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(Identity.from_str(line))
        except pyrage.IdentityError:
            raise SecretsError("not an age identity (AGE-SECRET-KEY-1...)", path=source,
                               line=number) from None
    return identities


def wrap(data_key: bytes, recipients: list[str]) -> list[AgeStanza]:
    """One age message per recipient, as sops writes them, so each can be removed on its own."""
    if not recipients:
        raise SecretsError("no age recipients: nobody could decrypt the file")
    stanzas = []
    for text in dict.fromkeys(r.strip() for r in recipients):
        armored = pyrage.encrypt(data_key, [parse_recipient(text)], armored=True)
        stanzas.append(AgeStanza(text, armored.decode("ascii")))
    return stanzas


def unwrap(stanzas: list[AgeStanza], identities: list[Identity], *, source: str,
           identity_sources: str) -> bytes:
    if not stanzas:
        raise SecretsError("has no age recipients; orc decrypts age-encrypted files only",
                           path=source)
    if not identities:
        raise SecretsError(
            "no age identity to decrypt with: set ORC_AGE_KEY_FILE (or ORC_AGE_KEY), "
            "or create one with `orc secrets keygen`", path=source)
    for stanza in stanzas:
        try:
            data_key = pyrage.decrypt(stanza.enc.encode("ascii"), identities)
        except (pyrage.DecryptError, UnicodeEncodeError):
            continue
        if len(data_key) == DATA_KEY_SIZE:
            return data_key
    recipients = ", ".join(s.recipient for s in stanzas)
    raise SecretsError(f"none of the age identities from {identity_sources} can decrypt it "
                       f"(it is encrypted to {recipients})", path=source)
