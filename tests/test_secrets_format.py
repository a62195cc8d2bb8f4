"""The SOPS format pieces: YAML as go-yaml reads it, Go's value formatting, sealing, the MAC."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.secrets import SecretsError, age, cipher, scalars, sopsfile, yamlio
from orchestrator.secrets.sopsfile import EncryptionRules

IDENTITY = age.Identity.generate()
RECIPIENT = str(IDENTITY.to_public())


@pytest.mark.parametrize(("text", "expected"), [
    ("yes", "yes"), ("on", "on"), ("No", "No"), ("y", "y"),
    ("true", True), ("False", False), ("~", None), ("null", None),
    ("0755", 493), ("0o17", 15), ("0x1F", 31), ("1_000", 1000), ("+12", 12), ("08", 8.0),
    ("1e3", 1000.0), (".5", 0.5), ("-0", -0.0), ("99999999999999999999", 1e20),
    ("2024-02-29", datetime(2024, 2, 29, tzinfo=UTC)),
    ("2024-01-01 10:00:00", datetime(2024, 1, 1, 10, tzinfo=UTC)),
    ("2024-01-01T10:00:00.5+02:00",
     datetime(2024, 1, 1, 10, 0, 0, 500000, tzinfo=timezone(timedelta(hours=2)))),
    ("2024-13-01", "2024-13-01"), ("1.2.3", "1.2.3"), ("<<", "<<"), (".inf", math.inf),
])
def test_plain_scalars_resolve_as_go_yaml_does(text: str, expected: object) -> None:
    value = yamlio.load(f"k: {text}\n", source="t")["k"]
    assert value == expected and type(value) is type(expected)


def test_duplicate_keys_and_non_string_keys_are_refused_with_their_line() -> None:
    with pytest.raises(SecretsError,
                       match=r"^t:3: invalid YAML: duplicate key 'a' \(first at line 1\)$"):
        yamlio.load("a: 1\nb: 2\na: 3\n", source="t")
    with pytest.raises(SecretsError, match=r"^t:2: .*keys must be strings"):
        yamlio.load("a: 1\n2: x\n", source="t")


def test_yaml_errors_never_quote_the_document() -> None:
    with pytest.raises(SecretsError) as caught:
        yamlio.load("password: hunter2-secret\n  bad: [indent\n", source="t")
    assert "hunter2" not in str(caught.value) and str(caught.value).startswith("t:")


def test_dumped_yaml_reads_back_identically_in_both_yaml_dialects() -> None:
    import yaml

    data = {"on": "yes", "n": "0o17", "x": "1_000", "plain": "text", "multi": "a\nb\n"}
    text = yamlio.dump(data)
    assert yamlio.load(text, source="t") == data
    assert yaml.safe_load(text) == data  # PyYAML (YAML 1.1) agrees: `yes` stayed quoted


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1"), (1.5, "1.5"), (1e20, "100000000000000000000"), (1e-7, "0.0000001"),
    (-0.0, "-0"), (math.inf, "+Inf"), (0.1, "0.1"),
])
def test_floats_are_formatted_like_go(value: float, text: str) -> None:
    assert scalars.format_float(value) == text


def test_times_are_formatted_like_go_marshal_text() -> None:
    assert yamlio.format_time(datetime(999, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)) == \
        "0999-01-02T03:04:05.12Z"
    assert yamlio.format_time(
        datetime(2024, 1, 1, tzinfo=timezone(-timedelta(hours=5, minutes=30)))
    ) == "2024-01-01T00:00:00-05:30"


def test_a_value_sealed_under_one_key_path_does_not_open_under_another() -> None:
    key = os.urandom(32)
    sealed = cipher.seal("s3cret", key, "db:password:")
    assert cipher.unseal(sealed, key, "db:password:") == "s3cret"
    with pytest.raises(cipher.CipherError, match="moved from another key"):
        cipher.unseal(sealed, key, "app:token:")
    with pytest.raises(cipher.CipherError):
        cipher.unseal(sealed, os.urandom(32), "db:password:")
    assert cipher.seal("", key, "x:") == "" and cipher.unseal("", key, "x:") == ""


def _document(values: dict) -> tuple[sopsfile.SopsDocument, bytes]:
    key = os.urandom(32)
    doc = sopsfile.seal(values, key, age.wrap(key, [RECIPIENT]),
                        EncryptionRules.from_mapping({}, source="t"))
    return sopsfile.parse(doc.render(), source="t"), key


def test_decrypting_checks_the_mac_over_unencrypted_values_too() -> None:
    doc, key = _document({"a": "x", "note_unencrypted": "readable"})
    doc.tree["note_unencrypted"] = "changed"
    with pytest.raises(SecretsError, match="MAC mismatch"):
        sopsfile.decrypt(doc, key)


def test_renaming_a_key_or_swapping_two_values_is_detected_without_any_signature() -> None:
    doc, key = _document({"db": {"password": "p"}, "app": {"token": "t"}})
    doc.tree["db"]["password"], doc.tree["app"]["token"] = (doc.tree["app"]["token"],
                                                           doc.tree["db"]["password"])
    with pytest.raises(SecretsError, match="value at db:password: does not authenticate"):
        sopsfile.decrypt(doc, key)
    doc, key = _document({"db": {"password": "p"}})
    doc.tree["db"] = {"pass": doc.tree["db"]["password"]}
    with pytest.raises(SecretsError, match="value at db:pass: does not authenticate"):
        sopsfile.decrypt(doc, key)


def test_a_value_replaced_by_plaintext_is_refused() -> None:
    doc, key = _document({"db": {"password": "p"}})
    doc.tree["db"]["password"] = "attacker-chosen"
    with pytest.raises(SecretsError, match="is not an ENC"):
        sopsfile.decrypt(doc, key)


def test_unsupported_sops_features_are_refused_by_name() -> None:
    doc, _ = _document({"a": "b"})
    text = doc.render().decode().replace("sops:\n", "sops:\n    shamir_threshold: 2\n")
    with pytest.raises(SecretsError, match="uses shamir_threshold"):
        sopsfile.parse(text.encode(), source="t")
    with pytest.raises(SecretsError, match="not a sops file"):
        sopsfile.parse(b"a: b\n", source="t")
    with pytest.raises(SecretsError, match="reserved"):
        _document({"sops": "x"})


values = st.recursive(
    st.one_of(st.text(max_size=30), st.integers(-(2**63), 2**63 - 1),
              st.floats(allow_nan=False), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(tree=st.dictionaries(st.text(max_size=8).filter(lambda k: k != "sops"), values,
                            max_size=6))
def test_any_tree_round_trips_through_seal_render_parse_decrypt(tree: dict) -> None:
    doc, key = _document(tree)
    assert sopsfile.decrypt(doc, key)[0] == tree


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_flipped_bit_of_a_sealed_value_is_detected(data: st.DataObject) -> None:
    tree = {"a": "alpha", "b": {"c": 12345, "d": [True, 1.5]}, "e": "epsilon"}
    doc, key = _document(tree)
    leaves = [("a",), ("b", "c"), ("e",)]
    path = data.draw(st.sampled_from(leaves))
    parent = doc.tree
    for k in path[:-1]:
        parent = parent[k]
    sealed = cipher.parse(parent[path[-1]])
    part = data.draw(st.sampled_from(["data", "iv", "tag"]))
    raw = bytearray(getattr(sealed, part))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= 1 << data.draw(st.integers(0, 7))
    parent[path[-1]] = cipher.Sealed(**{**sealed.__dict__, part: bytes(raw)}).render()
    with pytest.raises(SecretsError, match="does not authenticate"):
        sopsfile.decrypt(doc, key)
