"""A throwaway repository with real keys, a signer policy and a `.sops.yaml`, for the secrets tests.

Every key is generated for real; `orc` and `sops` run as installed commands with an environment
that sees only this estate's keys (never the machine's ~/.config).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from orchestrator.secrets import keys, trustroot

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE_KEYS = REPO / "secrets" / "example-keys"

BIN = Path(sys.executable).parent
ORC = str(BIN / "orc")
SOPS = str(BIN / "sops")


@dataclass(frozen=True)
class Person:
    name: str
    directory: Path
    recipient: str
    public: str
    key_id: str

    @property
    def age_key(self) -> Path:
        return self.directory / keys.AGE_KEY_FILE

    @property
    def signing_key(self) -> Path:
        return self.directory / keys.SIGNING_KEY_FILE


class Estate:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "repo"
        (self.root / "secrets").mkdir(parents=True)
        (self.root / ".git").mkdir()
        self.people: dict[str, Person] = {}

    def person(self, name: str) -> Person:
        if name not in self.people:
            made = keys.generate(self.base / "keys" / name)
            self.people[name] = Person(name, made.directory, made.age_recipient,
                                       made.signing_public, made.signing_key_id)
        return self.people[name]

    def trust(self, grants: dict[str, list[str]], *, root_sign: bool = True) -> None:
        """Write secrets/signers.yaml: person name -> path globs they may sign; and sign it
        with the published example root key, the root every test trusts (see conftest)."""
        lines = ["signers:"]
        for name, globs in grants.items():
            lines += [f"  - name: {name}", f"    key: {self.person(name).public}", "    paths:"]
            lines += [f"      - {g!r}" for g in globs]
        (self.root / "secrets" / "signers.yaml").write_text("\n".join(lines) + "\n")
        if root_sign:
            self.root_sign()

    def root_sign(self, key_file: Path = EXAMPLE_KEYS / trustroot.ROOT_KEY_FILE) -> None:
        key = keys.parse_signing_key(key_file.read_text(), source=str(key_file))
        trustroot.sign(self.root, key)

    def recipients_rule(self, path_regex: str, names: list[str], extra: str = "") -> None:
        """Append a `.sops.yaml` creation rule."""
        config = self.root / ".sops.yaml"
        text = config.read_text() if config.exists() else "creation_rules:\n"
        text += (f"  - path_regex: '{path_regex}'\n"
                 f"    age: {','.join(self.person(n).recipient for n in names)}\n{extra}")
        config.write_text(text)

    def env(self, person: str | None, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ORC_", "SOPS_", "XDG_", "VISUAL", "EDITOR"))}
        env.update(HOME=str(self.base / "home"), XDG_CONFIG_HOME=str(self.base / "config"),
                   ORC_CONFIG_DIR=str(self.base / "orc-config"), SOPS_DISABLE_VERSION_CHECK="1",
                   ORC_TRUST_ROOT_FILE=str(EXAMPLE_KEYS / "trust-root.yaml"))
        if person:
            who = self.person(person)
            env.update(ORC_AGE_KEY_FILE=str(who.age_key), ORC_SIGNING_KEY_FILE=str(who.signing_key),
                       SOPS_AGE_KEY_FILE=str(who.age_key))
        env.update(extra)
        return env

    def orc(self, *args: str, person: str | None = "alice", debug: bool = False,
            **extra: str) -> subprocess.CompletedProcess:
        argv = [ORC, *(["--debug"] if debug else []), "secrets", *args]
        return subprocess.run(argv, cwd=self.root, env=self.env(person, **extra),
                              capture_output=True, text=True, timeout=60, check=False)

    def sops(self, *args: str, person: str | None = "alice") -> subprocess.CompletedProcess:
        return subprocess.run([SOPS, *args], cwd=self.root, env=self.env(person),
                              capture_output=True, text=True, timeout=60, check=False)

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def encrypted(self, rel: str, text: str, person: str = "alice") -> Path:
        """A plaintext written, then encrypted and signed by `orc secrets encrypt`."""
        path = self.write(rel, text)
        done = self.orc("encrypt", rel, person=person)
        assert done.returncode == 0, done.stderr
        return path


def standard_estate(base: Path, app_yaml: str | None = None) -> Estate:
    """alice may sign everything under secrets/; files there are encrypted to alice.

    With `app_yaml`, secrets/app.yaml holds it, encrypted and signed by alice.
    """
    estate = Estate(base)
    estate.trust({"alice": ["secrets/**"]})
    estate.recipients_rule(r"^secrets/.*\.ya?ml$", ["alice"])
    if app_yaml is not None:
        estate.encrypted("secrets/app.yaml", app_yaml)
    return estate


def one_error_line(done: subprocess.CompletedProcess, *fragments: str) -> str:
    """The CLI refused with exactly one `error:` line naming what it should, and no traceback."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
