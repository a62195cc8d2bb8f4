"""Signed secrets: SOPS-format encrypted files that orc decrypts only when a trusted key signed them.

`load_verified` is the way in for the rest of orc; `masking` keeps the plaintext, and what
templates render from it, out of what orc prints and writes; `trustroot` makes the signer policy
count only when the root of trust (configured outside the repository) signed it; `replay` stops
an older signed file from being deployed again, from each host's own record.
"""

from orchestrator.errors import SecretsError
from orchestrator.secrets import replay
from orchestrator.secrets.api import SecretFile, load_verified, verify
from orchestrator.secrets.masking import MASK, mask

__all__ = ["MASK", "SecretFile", "SecretsError", "load_verified", "mask", "replay", "verify"]
