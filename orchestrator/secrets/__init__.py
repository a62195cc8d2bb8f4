"""Signed secrets: SOPS-format encrypted files that orc decrypts only when a trusted key signed them.

`load_verified` is the way in for the rest of orc; `mask` keeps the plaintext out of what orc
prints and writes; `replay.check_and_record` stops an older signed file from being deployed again.
"""

from orchestrator.errors import SecretsError
from orchestrator.secrets import replay
from orchestrator.secrets.api import SecretFile, load_verified, verify
from orchestrator.secrets.masking import MASK, mask

__all__ = ["MASK", "SecretFile", "SecretsError", "load_verified", "mask", "replay", "verify"]
