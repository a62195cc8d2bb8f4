"""A value rendered from a secret is secret, whatever the template did to it: what a render reads
is tracked, and what it produced is masked in every output (`masking.hide`)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.secrets import masking
from orchestrator.secrets.masking import MASK, SecretList, SecretTree
from orchestrator.templating.render import Variables, evaluate, render_file, render_value

# each test has its own secret: the record of what to hide is per process
SECRET = "Tk.the-taint-secret-0815"


def _variables(secret: str, **plain) -> Variables:
    tree = SecretTree({"db": SecretTree({"password": secret}),
                       "users": SecretList([SecretTree({"name": secret + "-user"})])})
    masking.remember_plaintexts(masking.secret_strings(tree))  # as load_verified does
    return Variables({"secrets": tree, **plain})


@pytest.mark.parametrize("expression, derived", [
    ("{{ secrets.db.password | b64encode }}", base64.b64encode(b"A" + SECRET.encode()).decode()),
    ("{{ secrets.db.password | upper }}", ("A" + SECRET).upper()),
    ("{{ secrets.db.password[:20] }}", ("A" + SECRET)[:20]),
    ("{{ secrets.db.password.encode().hex() }}", ("A" + SECRET).encode().hex()),
    ("{{ secrets.db.password | replace('-', '') }}", ("A" + SECRET).replace("-", "")),
    ("{% set p = secrets.db.password %}{{ p ~ '!' }}", "A" + SECRET + "!"),
    ("{{ dsn | upper }}", f"PG://U:{('A' + SECRET).upper()}@H"),  # a variable embedding it
    ("{{ secrets.users | map(attribute='name') | join(',') }}", "A" + SECRET + "-user"),
])
def test_whatever_a_template_does_to_a_secret_its_result_is_hidden(expression: str,
                                                                    derived: str) -> None:
    variables = _variables("A" + SECRET, dsn="pg://u:{{ secrets.db.password }}@h")
    rendered = render_value(expression, variables)
    assert rendered == derived
    hidden = masking.hide(f"ran: {rendered}")
    assert hidden.startswith(f"ran: {MASK}") and derived not in hidden and SECRET not in hidden


def test_each_expression_of_a_command_is_hidden_alone() -> None:
    """`echo {{ a | b64encode }} {{ a | upper }}` may print only the two values."""
    secret = "B" + SECRET
    command = render_value("echo {{ secrets.db.password | b64encode }} "
                           "{{ secrets.db.password | upper }}; exit 3", _variables(secret))
    printed = f"{base64.b64encode(secret.encode()).decode()} {secret.upper()}"
    assert masking.hide(printed) == f"{MASK} {MASK}"
    assert masking.hide(command) == MASK


def test_values_not_read_from_a_secret_stay_readable() -> None:
    variables = _variables("C" + SECRET, plain="plain-value-of-mine", port=8080)
    rendered = render_value("{{ plain | upper }}:{{ port }}", variables)
    assert masking.hide(rendered) == "PLAIN-VALUE-OF-MINE:8080"
    # a `when:` on a secret shows no value, so its True or False is never masked
    assert evaluate("secrets.db.password | length > 3", variables) is True
    assert masking.hide("True False") == "True False"


def test_a_template_file_masks_the_lines_a_secret_made(tmp_path: Path) -> None:
    secret = "D" + SECRET
    template = tmp_path / "app.conf.j2"
    template.write_text("# static header\nport = 5432\nkey = {{ secrets.db.password[:3] }}\n"
                        "{% for u in secrets.users %}user = {{ u.name }}\n{% endfor %}"
                        "digest = {{ secrets.db.password | b64encode }}\n")
    text = render_file(template, _variables(secret))
    assert f"key = {secret[:3]}" in text
    diff = "".join(f"+{line}\n" for line in text.splitlines())
    # a line a secret made shows its own text with the secret masked; one with only a short
    # piece of it (here 3 characters) is masked whole
    assert masking.hide(diff) == (f"+# static header\n+port = 5432\n+{MASK}\n"
                                  f"+user = {MASK}\n+digest = {MASK}\n")


def test_a_failed_render_names_no_secret_but_names_a_misspelt_key() -> None:
    secret = "E" + SECRET
    variables = _variables(secret)
    for expression in ("{{ {}[secrets.db.password] }}", "{{ {}[secrets.db.password | upper] }}",
                       "{{ {}[secrets.db.password | b64encode] }}"):
        with pytest.raises(InputError) as failed:
            render_value(expression, variables, "site.yaml:3")
        assert str(failed.value) == ("site.yaml:3: undefined variable: 'dict object' has no "
                                     f"attribute '{MASK}'")
    with pytest.raises(InputError, match="has no attribute 'pasword'"):
        render_value("{{ secrets.db.pasword }}", variables)
    # a filter's own error may quote what it was given: only the filter is named
    with pytest.raises(InputError) as failed:
        render_value("{{ secrets.db.password | b64decode }}", variables, "site.yaml:4")
    assert str(failed.value) == ("site.yaml:4: template error: filter 'b64decode' failed (its "
                                 "message is hidden: the expression read a secret)")
    assert secret not in str(failed.value)


def test_a_loop_item_holding_a_secret_is_shown_masked() -> None:
    variables = _variables("F" + SECRET)
    items = render_value("{{ secrets.users }}", variables)
    assert masking.hide_value(items[0]) == MASK
    assert masking.hide_value({"name": "F" + SECRET + "-user"}) == MASK
    assert masking.hide_value("web") == "web" and masking.hide_value(None) is None


def test_hashes_of_a_secret_are_hidden() -> None:
    secret = "G" + SECRET
    variables = Variables({"secrets": SecretTree({"k": secret}),
                           "sha": lambda text: hashlib.sha256(text.encode()).hexdigest()})
    digest = render_value("{{ sha(secrets.k) }}", variables)
    assert digest == hashlib.sha256(secret.encode()).hexdigest()
    assert masking.hide(digest) == MASK


def test_only_what_the_secrets_made_is_hidden_not_the_rest_of_the_render(tmp_path: Path) -> None:
    """The render is done again with the secrets changed: what differs is theirs. Plain
    variables in the same template or command stay readable everywhere."""
    secret = "H" + SECRET
    variables = _variables(secret, message="plain message here", host="web-node-17")
    template = tmp_path / "config.json.j2"
    template.write_text('{\n  "message": {{ message | to_json }},\n'
                        '  "token": {{ secrets.db.password | to_json }},\n'
                        '  "length": {{ secrets.db.password | length }}\n}\n')
    text = render_file(template, variables)
    diff = "".join(f"+{line}\n" for line in text.splitlines())
    assert masking.hide(diff) == (f'+{{\n+  "message": "plain message here",\n'
                                  f'+  "token": "{MASK}",\n+  "length": {len(secret)}\n+}}\n')
    command = render_value("deploy --host {{ host }} --pw {{ secrets.db.password | upper }}",
                           variables)
    assert masking.hide(command) == MASK
    assert masking.hide(f"web-node-17: {secret.upper()}") == f"web-node-17: {MASK}"
