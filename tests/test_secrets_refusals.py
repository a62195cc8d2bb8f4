"""Every way a secret file can be untrustworthy is refused with one line, before any plaintext."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.secrets import SecretsError, keys, load_verified, replay, signature
from tests.support.secrets_estate import Estate, one_error_line, standard_estate

PASSWORD = "pw-Zq81-never-printed"
TOKEN = "tok-5c1e7a90d3b2-never-printed"
PLAINTEXT = f"db:\n    password: {PASSWORD}\napp:\n    token: {TOKEN}\n"


def no_plaintext(*outputs: str) -> None:
    for text in outputs:
        assert PASSWORD not in text and TOKEN not in text


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    return standard_estate(tmp_path, PLAINTEXT)


def refused(estate: Estate, *fragments: str, command: str = "decrypt",
            path: str = "secrets/app.yaml", person: str | None = "alice") -> str:
    done = estate.orc(command, path, person=person)
    no_plaintext(done.stdout, done.stderr)
    return one_error_line(done, *fragments)


def test_a_signed_file_decrypts(estate: Estate) -> None:
    done = estate.orc("decrypt", "secrets/app.yaml")
    assert done.returncode == 0, done.stderr
    assert PASSWORD in done.stdout and TOKEN in done.stdout


def test_missing_signature_is_refused(estate: Estate) -> None:
    (estate.root / "secrets/app.yaml.sig").unlink()
    refused(estate, "secrets/app.yaml: is not signed", "app.yaml.sig is missing")
    refused(estate, "not signed", command="verify")


def test_signature_by_an_untrusted_key_is_refused(estate: Estate) -> None:
    mallory = estate.person("mallory")
    path = estate.root / "secrets/app.yaml"
    forged = signature.sign(path.read_bytes(), file="secrets/app.yaml", version=9,
                            key=keys.parse_signing_key(mallory.signing_key.read_text(), source="m"))
    (estate.root / "secrets/app.yaml.sig").write_bytes(forged.render())
    refused(estate, f"signed by key {mallory.key_id}", "secrets/signers.yaml does not trust")
    refused(estate, "does not trust", command="verify", person=None)


def test_untrusted_key_cannot_sign_through_the_cli(estate: Estate) -> None:
    line = refused(estate, "not in secrets/signers.yaml", command="sign", person="mallory")
    assert estate.person("mallory").key_id in line


def test_trusted_key_signing_a_path_it_may_not_sign_is_refused(estate: Estate) -> None:
    estate.trust({"alice": ["secrets/**"], "carol": ["secrets/lab.yaml"]})
    carol = keys.parse_signing_key(estate.person("carol").signing_key.read_text(), source="c")
    path = estate.root / "secrets/app.yaml"
    sig = signature.sign(path.read_bytes(), file="secrets/app.yaml", version=5, key=carol)
    (estate.root / "secrets/app.yaml.sig").write_bytes(sig.render())
    refused(estate, "signed by carol", "does not allow to sign this path")
    refused(estate, "does not allow your key (carol) to sign", command="sign", person="carol")


@pytest.mark.parametrize("where", ["password: ENC[", "recipient: age1", "app:", "version: 3"])
def test_one_flipped_byte_in_the_file_is_refused(estate: Estate, where: str) -> None:
    path = estate.root / "secrets/app.yaml"
    content = bytearray(path.read_bytes())
    at = content.index(where.encode()) + len(where) + 2
    content[at] ^= 0x01
    path.write_bytes(bytes(content))
    refused(estate, "signature by alice does not match")
    refused(estate, "does not match", command="verify", person=None)


def test_one_flipped_byte_in_the_signature_is_refused(estate: Estate) -> None:
    sig = estate.root / "secrets/app.yaml.sig"
    content = bytearray(sig.read_bytes())
    content[content.index(b"signature: ") + 20] ^= 0x01
    sig.write_bytes(bytes(content))
    refused(estate, "secrets/app.yaml")


def _swap_values(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    pw = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("password:"))
    tok = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("token:"))
    a, b = lines[pw].split(": ", 1), lines[tok].split(": ", 1)
    lines[pw], lines[tok] = f"{a[0]}: {b[1]}", f"{b[0]}: {a[1]}"
    path.write_text("".join(lines))


def test_values_swapped_between_keys_are_refused(estate: Estate) -> None:
    path = estate.root / "secrets/app.yaml"
    _swap_values(path)
    refused(estate, "does not match")  # the signature catches it first


def test_values_swapped_and_re_signed_are_still_refused(estate: Estate) -> None:
    """Even a trusted signer cannot make swapped values decrypt: the key path is authenticated."""
    path = estate.root / "secrets/app.yaml"
    _swap_values(path)
    one_error_line(estate.orc("sign", "secrets/app.yaml"), "value at db:password:",
                   "does not authenticate")
    alice = keys.parse_signing_key(estate.person("alice").signing_key.read_text(), source="a")
    sig = signature.sign(path.read_bytes(), file="secrets/app.yaml", version=2, key=alice)
    (estate.root / "secrets/app.yaml.sig").write_bytes(sig.render())
    refused(estate, "value at db:password: does not authenticate", "moved from another key")


def test_a_replayed_older_version_is_refused(estate: Estate) -> None:
    path, sig = estate.root / "secrets/app.yaml", estate.root / "secrets/app.yaml.sig"
    old = estate.base / "old"
    old.mkdir()
    shutil.copy(path, old / "app.yaml")
    shutil.copy(sig, old / "app.yaml.sig")
    edited = estate.orc("edit", "secrets/app.yaml", EDITOR="sed -i s/never/still-never/")
    assert edited.returncode == 0 and "version 2" in edited.stderr, edited.stderr
    store = replay.default_store(estate.root)
    replay.check_and_record(store, "web1", "secrets/app.yaml", 2)
    shutil.copy(old / "app.yaml", path)
    shutil.copy(old / "app.yaml.sig", sig)
    refused(estate, "version 1 is older than version 2 already deployed to web1",
            "--allow-downgrade", command="verify", person=None)
    allowed = estate.orc("verify", "--allow-downgrade", "secrets/app.yaml", person=None)
    assert allowed.returncode == 0, allowed.stderr
    with pytest.raises(SecretsError, match="older than version 2 already deployed to web1"):
        replay.check_and_record(store, "web1", "secrets/app.yaml", 1)


def test_a_file_copied_to_another_path_is_refused(estate: Estate) -> None:
    shutil.copy(estate.root / "secrets/app.yaml", estate.root / "secrets/prod.yaml")
    shutil.copy(estate.root / "secrets/app.yaml.sig", estate.root / "secrets/prod.yaml.sig")
    refused(estate, "is for secrets/app.yaml, not for this path", path="secrets/prod.yaml")


def test_wrong_decryption_key_is_refused(estate: Estate) -> None:
    estate.trust({"alice": ["secrets/**"], "bob": ["secrets/other/**"]})
    refused(estate, "none of the age identities", "can decrypt it",
            estate.person("alice").recipient, person="bob")


def test_missing_decryption_key_is_refused(estate: Estate) -> None:
    refused(estate, "no age identity to decrypt with", "orc secrets keygen", person=None)


def test_no_signer_policy_means_nothing_is_trusted(estate: Estate) -> None:
    (estate.root / "secrets/signers.yaml").unlink()
    refused(estate, "secrets/signers.yaml: does not exist, so no signer is trusted")


def test_verify_needs_no_decryption_key(estate: Estate) -> None:
    done = estate.orc("verify", person=None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"secrets/app.yaml: ok, version 1, signed by alice "
                                   f"(key {estate.person('alice').key_id})")


@pytest.fixture(scope="module")
def signed_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Estate, bytes, bytes]:
    estate = standard_estate(tmp_path_factory.mktemp("tamper"), PLAINTEXT)
    path = estate.root / "secrets/app.yaml"
    return estate, path.read_bytes(), (estate.root / "secrets/app.yaml.sig").read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), in_sig=st.booleans())
def test_any_flipped_byte_anywhere_is_refused(signed_file, data, in_sig: bool) -> None:
    estate, content, sig = signed_file
    target = bytearray(sig if in_sig else content)
    at = data.draw(st.integers(0, len(target) - 1), label="offset")
    bit = data.draw(st.integers(0, 7), label="bit")
    target[at] ^= 1 << bit
    scratch = estate.base / "scratch" / "secrets"
    scratch.mkdir(parents=True, exist_ok=True)
    shutil.copy(estate.root / "secrets/signers.yaml", scratch / "signers.yaml")
    (scratch / "app.yaml").write_bytes(content if in_sig else bytes(target))
    (scratch / "app.yaml.sig").write_bytes(bytes(target) if in_sig else sig)
    alice = estate.person("alice")
    ids = keys.identities_from_file(alice.age_key)
    try:
        load_verified(scratch / "app.yaml", repo_root=scratch.parent, identities=ids)
    except SecretsError as err:
        no_plaintext(str(err), repr(err))
    else:
        # a flip inside a comment line of the .sig changes nothing that is checked
        assert in_sig and sig.splitlines()[sig[:at].count(b"\n")].startswith(b"#")


def test_a_private_key_given_where_a_public_one_belongs_is_never_echoed(estate: Estate) -> None:
    alice = estate.person("alice")
    identity = alice.age_key.read_text().strip().splitlines()[-1]
    line = one_error_line(estate.orc("recipients", "add", "secrets/app.yaml", identity),
                          "a private key")
    assert identity not in line
    secret = alice.signing_key.read_text().strip().splitlines()[-1]
    (estate.root / "secrets/signers.yaml").write_text(
        f"signers:\n  - name: alice\n    key: {secret}\n    paths: [secrets/**]\n")
    estate.root_sign()
    line = one_error_line(estate.orc("verify"), "private signing key")
    assert secret not in line


def test_a_signature_spelled_another_way_is_refused(estate: Estate) -> None:
    """Base64's spare bits could spell one signature two ways; only the canonical one counts."""
    sig = estate.root / "secrets/app.yaml.sig"
    text = sig.read_text()
    encoded = text.split("signature: ")[1].strip()
    assert encoded.endswith("==")
    spare = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = spare.index(encoded[-3])
    variant = encoded[:-3] + spare[last ^ 1] + "=="  # same 64 bytes, other spare bits
    sig.write_text(text.replace(encoded, variant))
    refused(estate, "malformed signature file (signature)")
