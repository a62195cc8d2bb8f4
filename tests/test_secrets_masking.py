"""Plaintext stays out of reprs, exceptions, tracebacks and anything masked with `mask()`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest

from orchestrator.secrets import MASK, SecretFile, keys, load_verified, mask, signature
from tests.support.secrets_estate import Estate, standard_estate

PASSWORD = "Pw.(needs*escaping)+9"
PEM = "-----BEGIN KEY-----\nAAAAline-one-of-key\nBBBBline-two-of-key\n-----END KEY-----\n"
PLAINTEXT = (f"db:\n    password: {PASSWORD!r}\n    port: 5433\n    ratio: 2.50\n"
             f"    enabled: true\n    note: null\ntls:\n    key: |\n"
             + "".join(f"        {line}\n" for line in PEM.splitlines())
             + "list:\n    - item-secret-1\n")


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    return standard_estate(tmp_path, PLAINTEXT)


@pytest.fixture
def loaded(estate: Estate) -> SecretFile:
    alice = estate.person("alice")
    return load_verified(estate.root / "secrets/app.yaml", repo_root=estate.root,
                         identities=keys.identities_from_file(alice.age_key))


def test_load_verified_gives_values_version_and_names(loaded: SecretFile, estate: Estate) -> None:
    assert loaded.values["db"]["password"] == PASSWORD
    assert loaded.values == {"db": {"password": PASSWORD, "port": 5433, "ratio": 2.5,
                                    "enabled": True, "note": None},
                             "tls": {"key": PEM}, "list": ["item-secret-1"]}
    assert (loaded.version, loaded.name, loaded.signer) == (1, "secrets/app.yaml", "alice")
    assert loaded.path == estate.root / "secrets/app.yaml"


def test_reprs_never_show_a_value(loaded: SecretFile) -> None:
    for text in (repr(loaded), str(loaded), repr(loaded.values), str(loaded.values["db"]),
                 repr(loaded.values["list"]), f"{loaded.values}"):
        assert PASSWORD not in text and "5433" not in text and "item-secret" not in text
    assert repr(loaded) == "SecretFile('secrets/app.yaml', version=1, signer='alice')"
    assert repr(loaded.values["db"]) == (f"{{'password': '{MASK}', 'port': '{MASK}', "
                                         f"'ratio': '{MASK}', 'enabled': '{MASK}', 'note': None}}")


def test_templates_reach_values_while_whole_mappings_render_masked(loaded: SecretFile) -> None:
    env = jinja2.Environment()
    assert env.from_string("{{ secrets.db.password }}").render(secrets=loaded.values) == PASSWORD
    assert PASSWORD not in env.from_string("{{ secrets.db }}").render(secrets=loaded.values)


def test_plaintexts_cover_every_form_a_value_can_take_in_output(loaded: SecretFile) -> None:
    found = loaded.plaintexts()
    assert {PASSWORD, "5433", "2.5", PEM, "AAAAline-one-of-key", "item-secret-1"} <= found
    assert "True" not in found and "None" not in found and "" not in found


def test_mask_hides_every_occurrence_longest_first_and_in_one_pass() -> None:
    text = f"a={PASSWORD} b={PASSWORD}x c=pass pass-word"
    assert mask(text, {PASSWORD, "pass", "pass-word"}) == f"a={MASK} b={MASK}x c={MASK} {MASK}"
    assert mask("x" * 3, set()) == "xxx"
    # a secret that is part of the mask itself cannot unmask or double-mask anything
    assert mask("**** secret", {"****", "secret"}) == f"{MASK} {MASK}"


def test_a_diff_of_a_multi_line_secret_is_masked_line_by_line(loaded: SecretFile) -> None:
    diff = "".join(f"+{line}\n" for line in PEM.splitlines())
    masked = mask(diff, loaded.plaintexts())
    assert "line-one-of-key" not in masked and "line-two-of-key" not in masked


def test_datetimes_are_masked_in_both_spellings() -> None:
    from orchestrator.secrets import masking

    when = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    found = masking.secret_strings({"t": when})
    assert {"2030-05-06T07:08:09Z", str(when)} <= found


def test_a_type_confused_value_fails_without_the_plaintext_even_in_a_traceback(
    estate: Estate,
) -> None:
    path = estate.root / "secrets/app.yaml"
    text = path.read_text()
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("password:"))
    path.write_text(text.replace(line, line.replace("type:str]", "type:int]")))
    alice = keys.parse_signing_key(estate.person("alice").signing_key.read_text(), source="a")
    sig = signature.sign(path.read_bytes(), file="secrets/app.yaml", version=2, key=alice)
    (estate.root / "secrets/app.yaml.sig").write_bytes(sig.render())
    plain = estate.orc("decrypt", "secrets/app.yaml")
    assert plain.returncode == 1 and "not a valid int" in plain.stderr
    debug = estate.orc("decrypt", "secrets/app.yaml", debug=True)
    assert "Traceback" in debug.stderr
    for output in (plain.stdout, plain.stderr, debug.stdout, debug.stderr):
        assert PASSWORD not in output and not re.search(r"Pw\.\(needs", output)
