"""orc and the real `sops` binary read and write each other's files (age recipients)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.secrets import age, keys, sopsfile, writer, yamlio
from tests.support.secrets_estate import Estate, standard_estate

# scalars YAML readers disagree on, comments sops encrypts, and every value type sops tags
TRICKY = """\
# a comment sops encrypts and orc leaves out
db:
    password: "hunter2 with spaces"   # inline comment
    port: 5432
    ratio: 1.50
    exponent: 1e3
    octal: 0755
    hex: 0x1F
    grouped: 1_000
    big_float: 99999999999999999999
    negative: -12
    "on": true
    "off": no
    "yes": Yes
    empty: ""
    nothing: null
    tilde: ~
    infinite: .inf
list:
    - a
    - 2
    - nested: x
      deeper: [1, "two", 3.5]
    - []
    - {}
token_unencrypted: visible in the file
when: 2024-01-01T10:00:00.5+02:00
day: 2024-02-29
multi: |
    line one
      indented line two
unicode: "héllo ☃ \\u0001 tab\\tend"
"key with: colon": v
"<<": not a merge
"""


def plaintext_of(text: str) -> dict:
    return yamlio.load(text, source="plaintext")


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    return standard_estate(tmp_path)


def sops_decrypted(estate: Estate, rel: str, person: str = "alice") -> dict:
    done = estate.sops("decrypt", rel, person=person)
    assert done.returncode == 0, done.stderr
    return yamlio.load(done.stdout, source="sops output")


def test_sops_decrypts_what_orc_encrypts(estate: Estate) -> None:
    estate.encrypted("secrets/app.yaml", TRICKY)
    encrypted = (estate.root / "secrets/app.yaml").read_text()
    assert "hunter2" not in encrypted and "visible in the file" in encrypted
    assert sops_decrypted(estate, "secrets/app.yaml") == plaintext_of(TRICKY)


def test_orc_decrypts_what_sops_encrypts(estate: Estate) -> None:
    estate.write("secrets/app.yaml", TRICKY)
    done = estate.sops("encrypt", "--in-place", "secrets/app.yaml")
    assert done.returncode == 0, done.stderr
    assert "#ENC[AES256_GCM" in (estate.root / "secrets/app.yaml").read_text()
    signed = estate.orc("sign", "secrets/app.yaml")
    assert signed.returncode == 0, signed.stderr
    done = estate.orc("decrypt", "secrets/app.yaml")
    assert done.returncode == 0, done.stderr
    assert yamlio.load(done.stdout, source="orc output") == plaintext_of(TRICKY)


def test_sops_with_an_explicit_age_recipient_and_no_config(estate: Estate) -> None:
    (estate.root / ".sops.yaml").unlink()
    estate.write("secrets/app.yaml", "a: 1\nb: two\n")
    done = estate.sops("encrypt", "--age", estate.person("alice").recipient, "--in-place",
                       "secrets/app.yaml")
    assert done.returncode == 0, done.stderr
    assert estate.orc("sign", "secrets/app.yaml").returncode == 0
    assert estate.orc("decrypt", "secrets/app.yaml").stdout == "a: 1\nb: two\n"
    # and orc's own --age, with no .sops.yaml either
    estate.write("secrets/new.yaml", "c: 3\n")
    made = estate.orc("encrypt", "--age", estate.person("alice").recipient, "secrets/new.yaml")
    assert made.returncode == 0, made.stderr
    assert sops_decrypted(estate, "secrets/new.yaml") == {"c": 3}


@pytest.mark.parametrize("rule", [
    "    encrypted_regex: '^(password|token)$'\n",
    "    unencrypted_regex: '^public'\n    mac_only_encrypted: true\n",
    "    encrypted_suffix: _secret\n",
])
def test_encryption_rules_match_sops_both_ways(tmp_path: Path, rule: str) -> None:
    estate = Estate(tmp_path)
    estate.trust({"alice": ["secrets/**"]})
    estate.recipients_rule(r"^secrets/", ["alice"], extra=rule)
    text = ("password: p1\ntoken: t1\npublic_name: shown\nkey_secret: s1\n"
            "nested:\n    password: p2\n    other: o2\n")
    estate.encrypted("secrets/by-orc.yaml", text)
    assert sops_decrypted(estate, "secrets/by-orc.yaml") == plaintext_of(text)
    estate.write("secrets/by-sops.yaml", text)
    assert estate.sops("encrypt", "--in-place", "secrets/by-sops.yaml").returncode == 0
    ours = (estate.root / "secrets/by-orc.yaml").read_text().splitlines()
    theirs = (estate.root / "secrets/by-sops.yaml").read_text().splitlines()
    # the same values are left readable by both tools
    assert [ln for ln in ours if "ENC[" not in ln and ":" in ln][:4] == \
        [ln for ln in theirs if "ENC[" not in ln and ":" in ln][:4]
    assert estate.orc("sign", "secrets/by-sops.yaml").returncode == 0
    done = estate.orc("decrypt", "secrets/by-sops.yaml")
    assert yamlio.load(done.stdout, source="out") == plaintext_of(text), done.stderr


def test_sops_can_change_an_orc_file_and_orc_reads_the_change(estate: Estate) -> None:
    estate.encrypted("secrets/app.yaml", "db:\n    password: old\n    user: app\n")
    done = estate.sops("set", "secrets/app.yaml", '["db"]["password"]', '"new-from-sops"')
    assert done.returncode == 0, done.stderr
    refused = estate.orc("decrypt", "secrets/app.yaml")
    assert refused.returncode == 1 and "does not match" in refused.stderr
    assert estate.orc("sign", "secrets/app.yaml").returncode == 0
    assert "password: new-from-sops" in estate.orc("decrypt", "secrets/app.yaml").stdout


def test_recipients_rotate_and_sops_agree(estate: Estate) -> None:
    estate.encrypted("secrets/app.yaml", "db:\n    password: p\n")
    bob = estate.person("bob").recipient
    assert estate.sops("decrypt", "secrets/app.yaml", person="bob").returncode != 0
    added = estate.orc("recipients", "add", "secrets/app.yaml", bob)
    assert added.returncode == 0, added.stderr
    assert sops_decrypted(estate, "secrets/app.yaml", person="bob") == {"db": {"password": "p"}}
    assert estate.orc("rotate", "secrets/app.yaml").returncode == 0
    assert sops_decrypted(estate, "secrets/app.yaml", person="bob") == {"db": {"password": "p"}}
    assert estate.orc("recipients", "remove", "secrets/app.yaml", bob).returncode == 0
    assert estate.sops("decrypt", "secrets/app.yaml", person="bob").returncode != 0
    assert sops_decrypted(estate, "secrets/app.yaml") == {"db": {"password": "p"}}


# --- property: any tree of values survives orc -> sops and sops -> orc ---------------------

keys_ = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1,
                max_size=12).filter(lambda k: k != "sops")
# go-yaml prints a multi-line string that starts with a space or line break inside a list as a
# block scalar with an indentation indicator that PyYAML reads differently; that is a quirk of
# sops' plaintext output only (the encrypted file holds such a value sealed), so it is left out
texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40).filter(
    lambda s: not (s[:1] in (" ", "\n") and "\n" in s))
scalars = st.one_of(
    texts,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))])),
)
trees = st.dictionaries(
    keys_,
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(keys_, inner, max_size=3), max_leaves=8),
    max_size=5,
)


def same(a, b) -> bool:
    """Equal as values; a datetime compares as the instant it names."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and math.isinf(a):
        return a == b
    if isinstance(a, datetime):
        return isinstance(b, datetime) and a.replace(tzinfo=a.tzinfo or UTC) == b
    return a == b and type(a) is type(b) or (isinstance(a, float) and a == b)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Estate:
    return standard_estate(tmp_path_factory.mktemp("prop"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=trees)
def test_any_tree_orc_writes_sops_reads(shared: Estate, values: dict) -> None:
    doc = writer.new_document(values, name="secrets/p.yaml", repo_root=shared.root)
    (shared.root / "secrets/p.yaml").write_bytes(doc.render())
    assert same(values, sops_decrypted(shared, "secrets/p.yaml"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=trees)
def test_any_tree_sops_writes_orc_reads(shared: Estate, values: dict) -> None:
    (shared.root / "secrets/q.yaml").write_text(yamlio.dump(values))
    done = shared.sops("encrypt", "--in-place", "secrets/q.yaml")
    assert done.returncode == 0, done.stderr
    content = (shared.root / "secrets/q.yaml").read_bytes()
    doc = sopsfile.parse(content, source="q")
    ids = keys.identities_from_file(shared.person("alice").age_key)
    data_key = age.unwrap(doc.age, ids.identities, source="q", identity_sources="alice")
    assert same(values, sopsfile.decrypt(doc, data_key)[0])

