"""secrets/signers.yaml counts only when signed by the root of trust configured outside the repo.

The attacker here can push to the repository (and so write any file in it) but holds no root key.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.load.vars_files import load_vars_files
from orchestrator.secrets import SecretsError, keys, load_verified, signature, trustroot
from orchestrator.secrets.policy import load_signers
from tests.support.secrets_estate import Estate, one_error_line, standard_estate


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    return standard_estate(tmp_path, "token: alices-real-token\n")


def _root_keys(base: Path, n: int) -> list[keys.SigningKey]:
    return [keys.generate_signing_key(base / f"root{i}.key") for i in range(n)]


def _root_file(base: Path, made: list[keys.SigningKey], threshold: int) -> Path:
    path = base / "trust-root.yaml"
    path.write_text(trustroot.root_file_text([k.public_text for k in made], threshold))
    return path


def test_a_pushed_signer_without_the_root_signature_is_refused(estate: Estate) -> None:
    """Before: anyone who could push added their key to signers.yaml and orc deployed their
    file. Now the changed signers.yaml has no valid root signature and nothing is trusted."""
    estate.trust({"alice": ["secrets/**"], "mallory": ["secrets/**"]}, root_sign=False)
    estate.recipients_rule(r"^secrets/evil\.yaml$", ["alice", "mallory"])
    estate.write("secrets/evil.yaml", "token: mallorys-token\n")
    done = estate.orc("encrypt", "secrets/evil.yaml", person="mallory")
    one_error_line(done, "secrets/signers.yaml: has 0 valid signature(s) of the 1 the root of "
                   "trust", "orc secrets root sign")
    # even a file mallory signs by hand is refused, as is alice's own, until the root signs
    for name in ("secrets/app.yaml",):
        one_error_line(estate.orc("decrypt", name), "signers.yaml: has 0 valid signature(s)")
        one_error_line(estate.orc("verify", name), "signers.yaml: has 0 valid signature(s)")


def test_the_old_root_signature_does_not_cover_an_edited_signers_file(estate: Estate) -> None:
    path = estate.root / "secrets/signers.yaml"
    path.write_text(path.read_text() + "  - name: mallory\n    key: "
                    + estate.person("mallory").public + "\n    paths: ['secrets/**']\n")
    one_error_line(estate.orc("verify"), "has 0 valid signature(s)")
    (estate.root / "secrets/signers.yaml.sig").unlink()
    one_error_line(estate.orc("verify"), "is not signed by the root of trust",
                   "signers.yaml.sig is missing")


def test_no_root_configured_refuses_with_how_to_configure_it(estate: Estate) -> None:
    env = {"ORC_TRUST_ROOT_FILE": ""}
    line = one_error_line(estate.orc("decrypt", "secrets/app.yaml", **env),
                          "no root of trust is configured", "ORC_TRUST_ROOT_FILE",
                          "/etc/orc/trust-root.yaml")
    assert "alices-real-token" not in line


def test_the_root_comes_from_the_environment_the_config_dir_or_etc(
    estate: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    example = Path(trustroot.__file__).parents[2] / "secrets/example-keys/trust-root.yaml"
    text = example.read_text()
    monkeypatch.delenv("ORC_TRUST_ROOT_FILE")
    monkeypatch.setenv("ORC_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setattr(trustroot, "SYSTEM_DIR", tmp_path / "etc-orc")
    with pytest.raises(SecretsError, match="no root of trust is configured"):
        load_signers(estate.root)
    (tmp_path / "etc-orc").mkdir()
    (tmp_path / "etc-orc" / "trust-root.yaml").write_text(text)
    assert load_signers(estate.root).version == 1
    assert trustroot.load_root().source == str(tmp_path / "etc-orc" / "trust-root.yaml")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "trust-root.yaml").write_text(text)
    assert trustroot.load_root().source == str(tmp_path / "cfg" / "trust-root.yaml")
    # a CI secret: the key itself in a variable, overriding the files
    bare = text.split("keys:")[1].split("- ")[1].strip()
    monkeypatch.setenv("ORC_TRUST_ROOT", bare)
    assert trustroot.load_root().source == "$ORC_TRUST_ROOT"
    assert load_signers(estate.root).version == 1
    other = _root_keys(tmp_path, 1)[0]
    monkeypatch.setenv("ORC_TRUST_ROOT", other.public_text)
    with pytest.raises(SecretsError, match="0 valid signature"):
        load_signers(estate.root)


def test_k_of_n_roots_sign_one_after_the_other(estate: Estate, tmp_path: Path) -> None:
    made = _root_keys(tmp_path, 3)
    env = {"ORC_TRUST_ROOT_FILE": str(_root_file(tmp_path, made, threshold=2))}
    one_error_line(estate.orc("verify", **env), "has 0 valid signature(s) of the 2")

    def sign(key: keys.SigningKey) -> subprocess.CompletedProcess:
        return estate.orc("root", "sign", ORC_ROOT_KEY_FILE=key.source, **env)

    first = sign(made[0])
    assert first.returncode == 0 and "version 2 (1 root signature(s))" in first.stderr
    one_error_line(estate.orc("verify", **env), "has 1 valid signature(s) of the 2")
    second = sign(made[2])
    assert second.returncode == 0 and "version 2 (2 root signature(s))" in second.stderr
    assert estate.orc("verify", **env).returncode == 0
    status = estate.orc("root", "status", **env)
    assert "2 of" in status.stdout and "secrets/signers.yaml: ok, version 2" in status.stdout
    # a change starts over: the old signatures do not carry over to other bytes
    path = estate.root / "secrets/signers.yaml"
    path.write_text(path.read_text() + "# reviewed\n")
    third = sign(made[1])
    assert "version 3 (1 root signature(s))" in third.stderr
    one_error_line(estate.orc("verify", **env), "has 1 valid signature(s) of the 2")


def test_the_root_key_commands(estate: Estate, tmp_path: Path) -> None:
    made = estate.orc("root", "keygen", person=None)
    assert made.returncode == 0, made.stderr
    root_key = tmp_path / "orc-config" / "root.key"
    assert root_key.stat().st_mode & 0o777 == 0o600
    (tmp_path / "mine.yaml").write_text(made.stdout)
    env = {"ORC_TRUST_ROOT_FILE": str(tmp_path / "mine.yaml")}
    one_error_line(estate.orc("verify", **env), "0 valid signature(s)")
    assert estate.orc("root", "sign", **env).returncode == 0  # the key from the config dir
    assert estate.orc("verify", **env).returncode == 0
    one_error_line(estate.orc("root", "keygen", person=None), "never overwrites")


def test_a_root_file_that_is_not_one_is_named(tmp_path: Path, monkeypatch) -> None:
    for text, fragment in (("keys: []\n", "needs `keys:`"),
                           ("threshold: 1\n", "needs `keys:`"),
                           ("keys: [nonsense]\n", "is not a signing public key"),
                           ("keys: [a, b]\nextra: 1\n", "a root of trust is `keys:`")):
        monkeypatch.setenv("ORC_TRUST_ROOT", text)
        with pytest.raises(SecretsError, match=fragment):
            trustroot.load_root()
    key = _root_keys(tmp_path, 1)[0].public_text
    monkeypatch.setenv("ORC_TRUST_ROOT", f"keys: [{key}]\nthreshold: 2\n")
    with pytest.raises(SecretsError, match="threshold must be a number from 1 to 1"):
        trustroot.load_root()


def test_a_secret_signature_is_no_root_signature(estate: Estate, tmp_path: Path) -> None:
    """The root's message has its own format line: a signature the root key made in the
    format of a secret file's `.sig`, over the same bytes, never counts as the root's."""
    root = _root_keys(tmp_path, 1)[0]
    env = {"ORC_TRUST_ROOT": root.public_text}
    content = (estate.root / "secrets/signers.yaml").read_bytes()
    as_secret = signature.sign(content, file="secrets/signers.yaml", version=5, key=root)
    forged = trustroot.RootSignatures(5, {root.key_id: as_secret.value})
    (estate.root / "secrets/signers.yaml.sig").write_bytes(forged.render())
    one_error_line(estate.orc("verify", **env), "has 0 valid signature(s)")
    assert estate.orc("root", "sign", ORC_ROOT_KEY_FILE=root.source, **env).returncode == 0
    assert estate.orc("verify", **env).returncode == 0


def test_signers_yaml_is_not_parsed_before_its_root_signature(estate: Estate) -> None:
    """An unsigned signers.yaml is refused for its signature, whatever it holds (an alias bomb
    here): no YAML parser reads it first."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
        for i in range(8))
    (estate.root / "secrets/signers.yaml").write_text(bomb + "signers: [\n")
    one_error_line(estate.orc("verify"), "0 valid signature(s)")


def test_a_secret_vars_file_is_verified_before_it_is_parsed(estate: Estate) -> None:
    """Before: a vars file was parsed as YAML to learn whether it is a sops file; its syntax
    error (or alias bomb) was reported before its signature was checked."""
    path = estate.write("secrets/forged.yaml", "sops:\n  mac: [unclosed\n")
    with pytest.raises(SecretsError, match="is not signed"):
        load_vars_files([path])
    (estate.root / "secrets/forged.yaml.sig").write_text("format: nonsense\n")
    estate.write("secrets/forged.yaml", "token: [unclosed\n")  # no sops: key, but a .sig
    with pytest.raises(SecretsError, match="malformed signature file"):
        load_vars_files([path])


def test_the_policy_version_travels_with_each_secret(estate: Estate) -> None:
    loaded = load_verified(estate.root / "secrets/app.yaml", repo_root=estate.root,
                           identities=keys.identities_from_file(estate.person("alice").age_key))
    assert loaded.versions == {"secrets/app.yaml": 1, "secrets/signers.yaml": 1}
