"""Every construct the real sops 3.11 writes into a YAML file is read by orc: comments at the
top, inline, in maps and inside lists (where sops stores them as encrypted `type:comment`
items), under readable keys, and every value type; a multi-document file is refused in one
line."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.secrets import age, keys, sopsfile, yamlio
from tests.support.secrets_estate import Estate, standard_estate

COMMENTED = """\
# a comment at the top
name: app # inline after a value
servers:
    # before the first item
    - alpha
    # between two items
    - beta
    - # before the keys of a mapping item
      host: gamma
      # inside the mapping item
      port: 22
    -   - nested
        # in a nested list
        - list
    # after the last item
options:
    # in a map
    debug: false
    levels: [1, 2] # a flow list with a comment after it
empty_list: []
plain_unencrypted:
    # a comment under a readable key
    - shown
    # and another
    - too
# at the end
"""

EVERY_TYPE = """\
text: hello
quoted: "42"
integer: 42
negative: -7
float: 1.5
exponent: 2.5e-3
truth: true
falsehood: false
nothing: null
empty: ""
stamp: 2024-05-01T12:30:00Z
day: 2024-05-01
block: |
    two
    lines
folded: >
    one
    line
unicode: "zürich ☃"
mixed: [1, two, 3.0, true, null, ""]
deep: {a: {b: {c: [x, {y: z}]}}}
"""


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    return standard_estate(tmp_path)


def _sops_encrypts(estate: Estate, rel: str, text: str) -> None:
    estate.write(rel, text)
    done = estate.sops("encrypt", "--in-place", rel)
    assert done.returncode == 0, done.stderr


def _sops_plaintext(estate: Estate, rel: str) -> dict:
    done = estate.sops("decrypt", rel)
    assert done.returncode == 0, done.stderr
    return yamlio.load(done.stdout, source="sops output")


def _orc_plaintext(estate: Estate, rel: str) -> dict:
    signed = estate.orc("sign", rel)
    assert signed.returncode == 0, signed.stderr
    done = estate.orc("decrypt", rel)
    assert done.returncode == 0, done.stderr
    return yamlio.load(done.stdout, source="orc output")


def test_comments_everywhere_sops_puts_them(estate: Estate) -> None:
    _sops_encrypts(estate, "secrets/app.yaml", COMMENTED)
    written = (estate.root / "secrets/app.yaml").read_text()
    assert "type:comment]\n" in written and "    - ENC[" in written  # list comments as items
    expected = yamlio.load(COMMENTED, source="plaintext")
    assert _sops_plaintext(estate, "secrets/app.yaml") == expected
    assert _orc_plaintext(estate, "secrets/app.yaml") == expected


def test_list_comment_items_are_outside_the_mac(estate: Estate) -> None:
    """The values orc opens are the list's real items, in order, and the MAC holds."""
    _sops_encrypts(estate, "secrets/app.yaml", COMMENTED)
    doc = sopsfile.parse((estate.root / "secrets/app.yaml").read_bytes(), source="app")
    comments = [i for i in doc.tree["servers"] if sopsfile.is_comment_item(i)]
    assert len(comments) >= 2
    ids = keys.identities_from_file(estate.person("alice").age_key)
    data_key = age.unwrap(doc.age, ids.identities, source="app", identity_sources="alice")
    values, _ = sopsfile.decrypt(doc, data_key)
    assert values["servers"][:2] == ["alpha", "beta"]
    assert values["servers"][2] == {"host": "gamma", "port": 22}
    assert values["servers"][3] == ["nested", "list"]


@pytest.mark.parametrize("rule", ["", "    mac_only_encrypted: true\n",
                                  "    encrypted_regex: '^(servers|options)$'\n"])
def test_comments_under_every_encryption_rule(tmp_path: Path, rule: str) -> None:
    estate = Estate(tmp_path)
    estate.trust({"alice": ["secrets/**"]})
    estate.recipients_rule(r"^secrets/", ["alice"], extra=rule)
    _sops_encrypts(estate, "secrets/app.yaml", COMMENTED)
    expected = yamlio.load(COMMENTED, source="plaintext")
    assert _orc_plaintext(estate, "secrets/app.yaml") == expected


def test_every_value_type_sops_writes(estate: Estate) -> None:
    _sops_encrypts(estate, "secrets/types.yaml", EVERY_TYPE)
    assert _orc_plaintext(estate, "secrets/types.yaml") == _sops_plaintext(
        estate, "secrets/types.yaml")


def test_orc_edit_of_a_file_with_list_comments_stays_readable_by_sops(estate: Estate) -> None:
    _sops_encrypts(estate, "secrets/app.yaml", COMMENTED)
    assert estate.orc("sign", "secrets/app.yaml").returncode == 0
    rotated = estate.orc("rotate", "secrets/app.yaml")
    assert rotated.returncode == 0, rotated.stderr
    expected = yamlio.load(COMMENTED, source="plaintext")
    assert _sops_plaintext(estate, "secrets/app.yaml") == expected


def test_a_multi_document_file_is_refused_in_one_line(estate: Estate) -> None:
    _sops_encrypts(estate, "secrets/two.yaml", "a: 1\n---\nb: 2\n")
    signed = estate.orc("sign", "secrets/two.yaml")
    assert signed.returncode == 1
    assert "more than one YAML document" in signed.stderr
    assert len(signed.stderr.strip().splitlines()) == 1
