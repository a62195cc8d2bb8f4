"""`orc secrets` commands, run as installed, on real keys and files."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from orchestrator.secrets import signature, sopsfile, yamlio
from tests.support.secrets_estate import Estate, one_error_line, standard_estate

PLAINTEXT = "db:\n    password: first-pass-0x91\n    user: app\napp:\n    token: tok-aa11\n"


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    return standard_estate(tmp_path, PLAINTEXT)


def version_of(estate: Estate, rel: str = "secrets/app.yaml") -> int:
    sig = signature.read(estate.root / f"{rel}.sig", source=rel)
    assert sig is not None
    return sig.version


def decrypted(estate: Estate, rel: str = "secrets/app.yaml", person: str = "alice") -> dict:
    done = estate.orc("decrypt", rel, person=person)
    assert done.returncode == 0, done.stderr
    return yamlio.load(done.stdout, source="out")


def editor(estate: Estate, body: str) -> str:
    """An $EDITOR that runs `body` (Python) with `path` bound to the file being edited."""
    script = estate.base / "editor.py"
    script.write_text("import json, os, stat, sys\nfrom pathlib import Path\n"
                      "path = Path(sys.argv[1])\n" + body)
    return f"{sys.executable} {script}"


@pytest.mark.parametrize("command", [
    [], ["keygen"], ["encrypt"], ["decrypt"], ["edit"], ["sign"], ["verify"], ["rotate"],
    ["recipients"], ["recipients", "add"], ["recipients", "remove"], ["recipients", "list"],
])
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    done = Estate(tmp_path).orc(*command, "--help")
    assert done.returncode == 0 and done.stdout.startswith("Usage: orc secrets")


def test_keygen_writes_private_keys_0600_and_never_overwrites(tmp_path: Path) -> None:
    estate = Estate(tmp_path)
    done = estate.orc("keygen", person=None)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "orc-config"
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    for name in ("age.key", "signing.key"):
        assert stat.S_IMODE((config / name).stat().st_mode) == 0o600
    recipient = (config / "age.key").read_text().split("public key: ")[1].split()[0]
    assert recipient in done.stdout and "orc-ed25519:" in done.stdout
    before = (config / "signing.key").read_bytes()
    one_error_line(estate.orc("keygen", person=None), "already exist", "never overwrites")
    assert (config / "signing.key").read_bytes() == before


def test_keys_from_the_config_dir_and_from_ci_variables(tmp_path: Path) -> None:
    estate = Estate(tmp_path)
    assert estate.orc("keygen", person=None).returncode == 0
    config = tmp_path / "orc-config"
    public = (config / "signing.key").read_text().split("public key: ")[1].split()[0]
    recipient = (config / "age.key").read_text().split("public key: ")[1].split()[0]
    (estate.root / "secrets/signers.yaml").write_text(
        f"signers:\n  - name: me\n    key: {public}\n    paths: [secrets/*.yaml]\n")
    estate.root_sign()
    estate.write("secrets/ci.yaml", "token: from-config-dir\n")
    assert estate.orc("encrypt", "--age", recipient, "secrets/ci.yaml", person=None).returncode == 0
    assert "from-config-dir" in estate.orc("decrypt", "secrets/ci.yaml", person=None).stdout
    # CI: the keys themselves in variables, no files anywhere
    ci_env = {"ORC_AGE_KEY": (config / "age.key").read_text(),
              "ORC_SIGNING_KEY": (config / "signing.key").read_text(),
              "ORC_CONFIG_DIR": str(tmp_path / "empty")}
    done = estate.orc("decrypt", "secrets/ci.yaml", person=None, **ci_env)
    assert "from-config-dir" in done.stdout, done.stderr
    assert estate.orc("sign", "secrets/ci.yaml", person=None, **ci_env).returncode == 0


def test_encrypt_refuses_an_encrypted_file_and_output_keeps_the_source(estate: Estate) -> None:
    one_error_line(estate.orc("encrypt", "secrets/app.yaml"), "already encrypted")
    source = estate.write("plain.yaml", "k: v-secret\n")
    assert estate.orc("encrypt", "plain.yaml", "-o", "secrets/k.yaml").returncode == 0
    assert source.read_text() == "k: v-secret\n"
    assert decrypted(estate, "secrets/k.yaml") == {"k": "v-secret"}


def test_decrypt_to_a_file_writes_it_0600(estate: Estate) -> None:
    done = estate.orc("decrypt", "secrets/app.yaml", "-o", "out.yaml")
    assert done.returncode == 0 and "first-pass" not in done.stdout + done.stderr
    out = estate.root / "out.yaml"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert yamlio.load(out.read_text(), source="o") == yamlio.load(PLAINTEXT, source="p")


def test_edit_uses_a_private_temp_file_and_wipes_it(estate: Estate) -> None:
    before = sopsfile.parse((estate.root / "secrets/app.yaml").read_bytes(), source="b").tree
    report = estate.base / "report.json"
    run = editor(estate, f"""
text = path.read_text()
json.dump({{"path": str(path), "mode": stat.S_IMODE(path.stat().st_mode),
           "dir_mode": stat.S_IMODE(path.parent.stat().st_mode),
           "had_plaintext": "first-pass-0x91" in text}}, open({str(report)!r}, "w"))
path.write_text(text.replace("first-pass-0x91", "second-pass-0x92"))
""")
    done = estate.orc("edit", "secrets/app.yaml", EDITOR=run)
    assert done.returncode == 0, done.stderr
    seen = json.loads(report.read_text())
    assert seen["mode"] == 0o600 and seen["dir_mode"] == 0o700 and seen["had_plaintext"]
    assert not Path(seen["path"]).exists() and not Path(seen["path"]).parent.exists()
    assert "second-pass" not in done.stdout + done.stderr
    assert decrypted(estate)["db"]["password"] == "second-pass-0x92"
    assert version_of(estate) == 2
    after = sopsfile.parse((estate.root / "secrets/app.yaml").read_bytes(), source="a").tree
    assert after["app"] == before["app"] and after["db"]["user"] == before["db"]["user"]
    assert after["db"]["password"] != before["db"]["password"]
    assert estate.sops("decrypt", "secrets/app.yaml").stdout.count("second-pass-0x92") == 1


def test_edit_without_changes_writes_nothing(estate: Estate) -> None:
    content = (estate.root / "secrets/app.yaml").read_bytes()
    done = estate.orc("edit", "secrets/app.yaml", EDITOR="true")
    assert done.returncode == 0 and "no changes" in done.stderr
    assert (estate.root / "secrets/app.yaml").read_bytes() == content and version_of(estate) == 1


def test_edit_that_breaks_the_yaml_is_refused_with_its_line_only(estate: Estate) -> None:
    content = (estate.root / "secrets/app.yaml").read_bytes()
    run = editor(estate, "path.write_text(path.read_text() + 'broken: [first-pass-0x91\\n')\n")
    line = one_error_line(estate.orc("edit", "secrets/app.yaml", EDITOR=run),
                          "secrets/app.yaml (as edited):", "invalid YAML")
    assert "first-pass" not in line
    assert (estate.root / "secrets/app.yaml").read_bytes() == content


def test_edit_that_leaves_text_not_utf8_is_refused_with_its_line(estate: Estate) -> None:
    content = (estate.root / "secrets/app.yaml").read_bytes()
    run = editor(estate, "path.write_bytes(path.read_bytes() + b'broken: \\xff\\n')\n")
    line = one_error_line(estate.orc("edit", "secrets/app.yaml", EDITOR=run),
                          "secrets/app.yaml (as edited):", "not UTF-8 text")
    assert "Traceback" not in line
    assert (estate.root / "secrets/app.yaml").read_bytes() == content


def test_edit_when_the_editor_fails_changes_nothing(estate: Estate) -> None:
    content = (estate.root / "secrets/app.yaml").read_bytes()
    one_error_line(estate.orc("edit", "secrets/app.yaml", EDITOR="false"), "status 1")
    one_error_line(estate.orc("edit", "secrets/app.yaml", EDITOR="no-such-editor-x"),
                   "'no-such-editor-x' not found")
    assert (estate.root / "secrets/app.yaml").read_bytes() == content


def test_edit_creates_a_new_file_for_the_sops_yaml_recipients(estate: Estate) -> None:
    run = editor(estate, "path.write_text('fresh: value-1\\n')\n")
    done = estate.orc("edit", "secrets/new.yaml", EDITOR=run)
    assert done.returncode == 0, done.stderr
    assert decrypted(estate, "secrets/new.yaml") == {"fresh": "value-1"}
    assert version_of(estate, "secrets/new.yaml") == 1


def test_sign_raises_the_version_each_time_or_takes_one(estate: Estate) -> None:
    assert estate.orc("sign", "secrets/app.yaml").returncode == 0
    assert version_of(estate) == 2
    assert estate.orc("sign", "--version", "10", "secrets/app.yaml").returncode == 0
    assert version_of(estate) == 10
    assert estate.orc("verify").stdout.startswith("secrets/app.yaml: ok, version 10")


def test_rotate_changes_the_data_key_and_every_ciphertext(estate: Estate) -> None:
    path = estate.root / "secrets/app.yaml"
    before = sopsfile.parse(path.read_bytes(), source="b")
    done = estate.orc("rotate", "secrets/app.yaml")
    assert done.returncode == 0, done.stderr
    after = sopsfile.parse(path.read_bytes(), source="a")
    assert after.age[0].enc != before.age[0].enc
    for section, key in (("db", "password"), ("db", "user"), ("app", "token")):
        assert after.tree[section][key] != before.tree[section][key]
    assert decrypted(estate) == yamlio.load(PLAINTEXT, source="p") and version_of(estate) == 2


def test_recipients_list_add_remove(estate: Estate) -> None:
    alice, bob = estate.person("alice").recipient, estate.person("bob").recipient
    assert estate.orc("recipients", "list", "secrets/app.yaml").stdout.split() == [alice]
    values_before = sopsfile.parse((estate.root / "secrets/app.yaml").read_bytes(), source="x").tree
    assert estate.orc("recipients", "add", "secrets/app.yaml", bob).returncode == 0
    values_after = sopsfile.parse((estate.root / "secrets/app.yaml").read_bytes(), source="x").tree
    assert values_after == values_before  # adding only wraps the same data key once more
    assert estate.orc("recipients", "list", "secrets/app.yaml").stdout.split() == [alice, bob]
    assert decrypted(estate, person="bob")["app"]["token"] == "tok-aa11"
    one_error_line(estate.orc("recipients", "add", "secrets/app.yaml", bob), "already encrypted")
    assert estate.orc("recipients", "remove", "secrets/app.yaml", bob).returncode == 0
    one_error_line(estate.orc("decrypt", "secrets/app.yaml", person="bob"), "can decrypt it")
    one_error_line(estate.orc("recipients", "remove", "secrets/app.yaml", bob),
                   f"is not encrypted to {bob}")
    one_error_line(estate.orc("recipients", "remove", "secrets/app.yaml", alice),
                   "nobody able to decrypt")
    one_error_line(estate.orc("recipients", "add", "secrets/app.yaml", "age1nonsense"),
                   "is not an age recipient")
    assert version_of(estate) == 3


def test_a_forged_file_cannot_be_laundered_through_an_edit(estate: Estate) -> None:
    (estate.root / "secrets/app.yaml.sig").unlink()
    for command in (["edit"], ["rotate"], ["recipients", "add"]):
        extra = [estate.person("bob").recipient] if command[0] == "recipients" else []
        one_error_line(estate.orc(*command, "secrets/app.yaml", *extra, EDITOR="true"),
                       "is not signed")


def test_an_edit_orc_cannot_take_can_go_back_to_the_editor(estate: Estate,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.secrets import editing, keys

    calls = estate.base / "calls"
    run = editor(estate, f"""
calls = Path({str(calls)!r})
n = int(calls.read_text()) + 1 if calls.exists() else 1
calls.write_text(str(n))
path.write_text(["sops: reserved\\n", "broken: [\\n", "fixed: value\\n"][n - 1])
""")
    for name, value in estate.env("alice", EDITOR=run).items():
        monkeypatch.setenv(name, value)
    errors: list[str] = []
    sig = editing.edit(estate.root / "secrets/app.yaml", repo_root=estate.root,
                       key=keys.load_signing_key(),
                       retry=lambda err: errors.append(str(err)) is None)
    assert sig is not None and sig.version == 2 and calls.read_text() == "3"
    assert "reserved" in errors[0] and "invalid YAML" in errors[1]
    assert decrypted(estate) == {"fixed": "value"}


def test_the_root_is_found_from_a_subdirectory_or_given(estate: Estate) -> None:
    import subprocess

    from tests.support.secrets_estate import ORC

    env = estate.env("alice")
    inside = subprocess.run([ORC, "secrets", "verify"], cwd=estate.root / "secrets", env=env,
                            capture_output=True, text=True, check=False)
    assert inside.stdout.startswith("secrets/app.yaml: ok"), inside.stderr
    outside = subprocess.run([ORC, "secrets", "--root", str(estate.root), "decrypt",
                              str(estate.root / "secrets/app.yaml")], cwd=estate.base, env=env,
                             capture_output=True, text=True, check=False)
    assert "first-pass-0x91" in outside.stdout, outside.stderr


def _flaky_editor(estate: Estate, texts: list[str]) -> str:
    """An $EDITOR that writes texts[n] on its n-th run (the last one ever after)."""
    calls = estate.base / "calls"
    return editor(estate, f"""
calls = Path({str(calls)!r})
n = int(calls.read_text()) + 1 if calls.exists() else 1
calls.write_text(str(n))
texts = {texts!r}
path.write_text(texts[min(n, len(texts)) - 1])
""")


def test_edit_without_a_terminal_never_asks(estate: Estate) -> None:
    """No terminal on stdin: an edit orc cannot take fails at once, with one line, unasked."""
    content = (estate.root / "secrets/app.yaml").read_bytes()
    run = _flaky_editor(estate, ["broken: [\n", "fixed: value\n"])
    line = one_error_line(estate.orc("edit", "secrets/app.yaml", EDITOR=run), "invalid YAML")
    assert "again" not in line
    assert (estate.base / "calls").read_text() == "1"
    assert (estate.root / "secrets/app.yaml").read_bytes() == content


def test_edit_yes_goes_back_to_the_editor_without_a_terminal(estate: Estate) -> None:
    run = _flaky_editor(estate, ["sops: reserved\n", "broken: [\n", "fixed: value\n"])
    done = estate.orc("edit", "secrets/app.yaml", "--yes", EDITOR=run)
    assert done.returncode == 0, done.stderr
    assert (estate.base / "calls").read_text() == "3" and version_of(estate) == 2
    assert decrypted(estate) == {"fixed": "value"}


def test_edit_yes_stops_when_the_editor_brings_the_same_error_again(estate: Estate) -> None:
    content = (estate.root / "secrets/app.yaml").read_bytes()
    run = _flaky_editor(estate, ["broken: [\n"])
    done = estate.orc("edit", "secrets/app.yaml", "--yes", EDITOR=run)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")
    assert (estate.base / "calls").read_text() == "2"
    assert (estate.root / "secrets/app.yaml").read_bytes() == content


def test_edit_ci_fails_at_once(estate: Estate) -> None:
    run = _flaky_editor(estate, ["broken: [\n", "fixed: value\n"])
    one_error_line(estate.orc("edit", "secrets/app.yaml", "--ci", EDITOR=run), "invalid YAML")
    assert (estate.base / "calls").read_text() == "1"
