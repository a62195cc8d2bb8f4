"""Seeded mutation fuzzing of every kind of file orc reads: an OrcError or success, nothing else.

Real, valid examples (the example estate's playbook, roles, templates, scenario, signed secrets,
signer policy and `.sops.yaml`; the inventory conformance data) are mutated (bytes flipped,
truncated, duplicated or deleted, NUL and invalid UTF-8 inserted, lines duplicated, swapped,
re-indented or replaced with YAML and Jinja constructs, alias bombs, deep nesting) and handed
to orc's real loaders through the Python API, and a few through the `orc` command. Any exception
that is not an `OrcError`, and any case still running after 10 s, fails the test. Hypothesis
runs derandomized, so CI sees the same cases every time; the counts are printed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from orchestrator.errors import OrcError
from orchestrator.inventory import load_inventory
from orchestrator.inventory.listing import ansible_list
from orchestrator.load.playbook import load_playbook
from orchestrator.load.vars_files import load_vars_files
from orchestrator.roletest.scenario import load_scenario
from orchestrator.secrets import age, api, keys, policy, signature, sopsfile
from orchestrator.templating.render import render_file
from tests.support.alarm import CaseTimeout, time_limit

REPO = Path(__file__).resolve().parent.parent
INVENTORIES = REPO / "tests" / "data" / "inventories"
CASE_SECONDS = 10
ORC = str(Path(sys.executable).parent / "orc")

COUNTS: dict[str, Counter[str]] = defaultdict(Counter)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The example estate and the inventory data, copied where mutations cannot hurt."""
    root = tmp_path_factory.mktemp("fuzz") / "estate"
    root.mkdir()
    for name in ("site.yaml", "roles", "secrets", ".sops.yaml", "inventory"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy(source, root / name)
    (root / ".git").mkdir()
    # no example role has vars/main.yaml: the app's defaults stand in as one
    (root / "roles/app/vars").mkdir()
    shutil.copy(root / "roles/app/defaults/main.yaml", root / "roles/app/vars/main.yaml")
    shutil.copytree(INVENTORIES, root / "inventories")
    shutil.copytree(REPO / "tests/data/everything", root / "everything")
    yield root
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["fuzz counts (cases per file kind, outcomes by type):"]
    total: Counter[str] = Counter()
    for kind, counts in sorted(COUNTS.items()):
        total.update(counts)
        outcomes = ", ".join(f"{name} {n}" for name, n in counts.most_common())
        lines.append(f"  {kind}: {sum(counts.values())} cases: {outcomes}")
    lines.append(f"  all: {sum(total.values())} cases: "
                 + ", ".join(f"{name} {n}" for name, n in total.most_common()))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown with or without -s, like a summary
        for line in lines:
            if reporter is not None:
                reporter.write_line(line)
            else:
                print(line)


def _inventory(path: str, source: str | None = None) -> tuple[str, Callable[[Path, Path], None]]:
    """A seed file and its loader: the inventory `source` (the file itself by default) as
    `orc inventory --list` reads it."""
    def load(root: Path, _target: Path) -> None:
        ansible_list(load_inventory([str(root / (source or path))]))
    return path, load


def _load_playbook(playbook: str) -> Callable[[Path, Path], None]:
    def load(root: Path, _target: Path) -> None:
        load_playbook(root / playbook)
    return load


def _load_template(root: Path, target: Path) -> None:
    """As orc meets a template: its syntax checked when the playbook loads, then rendered."""
    playbook = root / "template-check.yaml"
    playbook.write_text("- hosts: all\n  tasks:\n    - template:\n"
                        f"        src: {target.relative_to(root)}\n        dest: /tmp/x\n")
    load_playbook(playbook)
    variables = {"app_port": 8080, "app_token": "t", "app_name": "app", "nginx_port": 80,
                 "inventory_hostname": "web1", "ansible_host": "10.0.0.1", "motd": "hello",
                 "groups": {"all": ["web1"]}, "hostvars": {"web1": {}}}
    render_file(target, variables)


def _load_scenario(root: Path, _target: Path) -> None:
    load_scenario("app", "default", root)


def _load_secret(root: Path, target: Path) -> None:
    """The playbook's path (verify, then decrypt), then what a trusted signer's malformed file
    would meet after verification: parsing, unwrapping and decrypting its bytes."""
    try:
        load_vars_files([target])
    except OrcError:
        pass
    doc = sopsfile.parse(target.read_bytes(), source="secrets/lab.yaml")
    identity = keys.parse_identities(
        (root / "secrets/example-keys/age.key").read_text(), source="age.key")
    data_key = age.unwrap(doc.age, identity, source="secrets/lab.yaml", identity_sources="key")
    sopsfile.decrypt(doc, data_key)


def _verify(root: Path, _target: Path) -> None:
    api.verify(root / "secrets/lab.yaml", repo_root=root)


def _load_signature(root: Path, target: Path) -> None:
    signature.parse(target.read_bytes(), source="secrets/lab.yaml.sig")
    _verify(root, target)


def _load_signers(root: Path, target: Path) -> None:
    trust = policy.load_signers(root)
    for signer in trust.signers:
        signer.may_sign("secrets/lab.yaml")
    _verify(root, target)


def _load_sops_config(root: Path, _target: Path) -> None:
    policy.creation_rule(root, "secrets/lab.yaml")


@dataclass(frozen=True)
class Kind:
    name: str
    seeds: tuple[tuple[str, Callable[[Path, Path], None]], ...]  # (file, its real loader)
    examples: int


KINDS = [
    Kind("inventory-yaml", (
        _inventory("inventory/production.example.yaml"),
        _inventory("inventories/yaml_basic/hosts.yaml"),
        _inventory("inventories/json_and_tags/inventory.json"),
        _inventory("inventories/json_and_tags/tags.yaml"),
        _inventory("inventories/vars_forms/hosts.yml"),
        _inventory("inventories/vars_forms/group_vars/all.yml", "inventories/vars_forms/hosts.yml"),
        _inventory("inventories/deep_nesting/hosts.yml"),
    ), 250),
    Kind("inventory-ini", (
        _inventory("inventories/ini_basic/hosts.ini"),
        _inventory("inventories/ini_types/types.ini"),
        _inventory("inventories/patterns/hosts.ini"),
        _inventory("inventories/no_extension/inv/hosts"),
    ), 200),
    Kind("playbook", (
        ("site.yaml", _load_playbook("site.yaml")),
        ("everything/everything.yaml", _load_playbook("everything/everything.yaml")),
    ), 120),
    Kind("role-file", tuple((path, _load_playbook("site.yaml")) for path in (
        "roles/app/tasks/main.yaml", "roles/app/handlers/main.yaml", "roles/app/meta/main.yaml",
        "roles/app/defaults/main.yaml", "roles/app/vars/main.yaml", "roles/nginx/tasks/main.yaml",
        "roles/common/tasks/main.yaml",
    )), 150),
    Kind("template", tuple((path, _load_template) for path in (
        "roles/app/templates/config.json.j2", "roles/app/templates/app.service.j2",
        "roles/nginx/templates/site.conf.j2", "roles/common/templates/motd.j2",
    )), 200),
    Kind("scenario", (("roles/app/scenarios/default.yaml", _load_scenario),), 150),
    Kind("secrets", (("secrets/lab.yaml", _load_secret),), 150),
    Kind("signature", (("secrets/lab.yaml.sig", _load_signature),), 150),
    Kind("signers", (("secrets/signers.yaml", _load_signers),), 200),
    Kind("sops-config", ((".sops.yaml", _load_sops_config),), 150),
]

# "billion laughs": 9**7 (4.8 million) strings from a few hundred bytes
ALIAS_BOMB = (
    b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    b"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]"
)
# what a line may be replaced by or gain: YAML structure, Jinja, and the known troublemakers
SNIPPETS = [
    b"&a [1, 2]", b"*a", b"<<: *a", b"- ", b"? x", b"key: {", b"[", b"]", b"{{", b"{%", b"}}",
    b"!!python/object/apply:os.system ['true']", b"---", b"...", b"%YAML 1.1", b"\t", b"'", b'"',
    b"x: !unsafe '{{ y }}'", b"x: !vault |", b"!!binary x", b"!!timestamp x", b"!!int x",
    b"!!bool x", b"!!float x", b"!!set [1]", b"!!omap x", b"!!pairs [a]", b"!!merge x",
    b"!!python/name:os.system", b"!!str [1]",
    b"- &x\n  - *x", b": :", b'"\\u12', b"|", b">", b"x: *undefined", b"a: &b\n  c: *b",
    b"{% for x in y %}", b"{% endfor %}", b"{{ x | default( }}", b"{{ 1 / 0 }}",
    b"{{ lookup('file', '/etc/passwd') }}", b"[x]\nhost ansible_port=abc", b"[x:children]",
    b"h[1:9999999999]", b"host[a:z:0]", b"- hosts: all", b"  tasks:", b"0o999", b"1e400",
    ALIAS_BOMB,
    b"[" * 400 + b"]" * 400, b"- " * 400 + b"x", b"{a: " * 300 + b"1" + b"}" * 300,
    b"{{ " + b"(" * 2000 + b"x" + b")" * 2000 + b" }}",
    b"\xef\xbb\xbf", b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x1b[31m", b"\r", b"\x85",
    "\u2028".encode(), b"paths: ['" + b"*a" * 2000 + b"b']",
    b"path_regex: '['", b"age: 42", b"signature: " + b"A" * 5000,
]
BAD_BYTES = [b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\x1f"]


def _position(data: st.DataObject, out: bytearray) -> int:
    return data.draw(st.integers(0, len(out)))


def _lines(out: bytearray) -> list[bytes]:
    return bytes(out).split(b"\n")


def mutate(data: st.DataObject, seed: bytes) -> bytes:
    """One to three mutations of `seed`, each drawn from hypothesis (so failures shrink)."""
    out = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from([
            "flip", "truncate", "duplicate", "delete", "bad-byte", "dup-line", "swap-lines",
            "indent", "dedent", "snippet-line", "snippet-insert",
        ]))
        if op == "flip" and out:
            at = data.draw(st.integers(0, len(out) - 1))
            out[at] = data.draw(st.integers(0, 255))
        elif op == "truncate":
            del out[_position(data, out):]
        elif op == "duplicate":
            start = _position(data, out)
            piece = out[start:start + data.draw(st.integers(1, 200))]
            at = _position(data, out)
            out[at:at] = piece * data.draw(st.integers(1, 4))
        elif op == "delete":
            start = _position(data, out)
            del out[start:start + data.draw(st.integers(1, 50))]
        elif op == "bad-byte":
            at = _position(data, out)
            out[at:at] = data.draw(st.sampled_from(BAD_BYTES))
        else:
            lines = _lines(out)
            n = data.draw(st.integers(0, len(lines) - 1))
            if op == "dup-line":  # the same key twice, an item twice
                lines.insert(data.draw(st.integers(0, len(lines))), lines[n])
            elif op == "swap-lines":
                m = data.draw(st.integers(0, len(lines) - 1))
                lines[n], lines[m] = lines[m], lines[n]
            elif op == "indent":
                lines[n] = b"  " * data.draw(st.integers(1, 3)) + lines[n]
            elif op == "dedent":
                lines[n] = lines[n].lstrip(b" ")
            elif op == "snippet-line":
                keep = lines[n][: len(lines[n]) - len(lines[n].lstrip(b" "))]
                lines[n] = keep + data.draw(st.sampled_from(SNIPPETS))
            else:
                line = lines[n]
                at = data.draw(st.integers(0, len(line)))
                lines[n] = line[:at] + data.draw(st.sampled_from(SNIPPETS)) + line[at:]
            out = bytearray(b"\n".join(lines))
    return bytes(out)


DEFAULT_RECURSION_LIMIT = 1000


def _depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def run_case(kind: str, root: Path, target: Path, content: bytes,
             load: Callable[[Path, Path], None]) -> None:
    original = target.read_bytes()
    target.write_bytes(content)
    # orc runs with Python's default recursion limit; hypothesis raises it for itself, and jinja
    # takes minutes to give up on a deeply nested expression given thousands more frames
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + DEFAULT_RECURSION_LIMIT)
    try:
        with time_limit(CASE_SECONDS):
            load(root, target)
    except OrcError as err:
        COUNTS[kind][type(err).__name__] += 1
        # one line: what the CLI prints is `error: ` and this
        assert "\n" not in str(err).strip(), str(err)
    except CaseTimeout:
        COUNTS[kind]["timeout"] += 1
        pytest.fail(f"{kind}: {target.relative_to(root)}: a case ran over {CASE_SECONDS} s")
    else:
        COUNTS[kind]["loaded"] += 1
    finally:
        sys.setrecursionlimit(limit)
        target.write_bytes(original)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_mutated_files_load_or_fail_with_an_orc_error(kind: Kind, project: Path) -> None:
    # no shrinking: a hang would be retried for minutes; the failing draws are printed as found
    @settings(max_examples=kind.examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        path, load = data.draw(st.sampled_from(kind.seeds))
        target = project / path
        content = mutate(data, target.read_bytes())
        run_case(kind.name, project, target, content, load)

    os.environ.setdefault("ORC_AGE_KEY_FILE", str(project / "secrets/example-keys/age.key"))
    case()


def _write(root: Path, path: str, content: bytes) -> None:
    (root / path).write_bytes(content)


# (what is broken, file, how, the orc command): each must exit 1 with one line, no traceback
CLI_CASES = [
    ("inventory with a NUL", "inventory/production.example.yaml",
     lambda b: b.replace(b"all:", b"all:\x00", 1), ["inventory", "-i", "{f}", "--list"]),
    ("inventory with a duplicate key", "inventory/production.example.yaml",
     lambda b: b + b"\nall: {}\n", ["inventory", "-i", "{f}", "--list"]),
    ("INI host range of ten billion hosts", "inventories/ini_basic/hosts.ini",
     lambda b: b + b"\n[huge]\nh[1:9999999999]\n", ["inventory", "-i", "{f}", "--list"]),
    ("playbook not UTF-8", "site.yaml", lambda b: b + b"\n# \xff\n",
     ["plan", "{f}", "-i", "inventories/yaml_basic/hosts.yaml"]),
    ("role defaults alias bomb", "roles/common/defaults/main.yaml", lambda b: ALIAS_BOMB + b"\n",
     ["plan", "site.yaml", "-i", "inventories/yaml_basic/hosts.yaml"]),
    ("signers.yaml with a pathological glob", "secrets/signers.yaml",
     lambda b: b.replace(b"- secrets/lab.yaml", b"- '" + b"*a" * 3000 + b"b'"),
     ["secrets", "verify", "secrets/lab.yaml"]),
    ("signature not UTF-8", "secrets/lab.yaml.sig", lambda b: b.replace(b"version", b"\xffv"),
     ["secrets", "verify", "secrets/lab.yaml"]),
]


@pytest.mark.parametrize("what, path, change, command", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_orc_refuses_a_broken_file_in_one_line(what, path, change, command, project) -> None:
    target = project / path
    original = target.read_bytes()
    target.write_bytes(change(original))
    env = {**os.environ, "ORC_AGE_KEY_FILE": str(project / "secrets/example-keys/age.key")}
    try:
        done = subprocess.run([ORC, *(part.format(f=path) for part in command)], cwd=project,
                              env=env, capture_output=True, text=True, timeout=CASE_SECONDS * 3)
    finally:
        target.write_bytes(original)
    COUNTS["orc command"][f"exit {done.returncode}"] += 1
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr


def test_a_role_file_that_is_a_fifo_or_a_device_is_refused_not_skipped(project) -> None:
    tasks = project / "roles/common/tasks/main.yaml"
    original = tasks.read_bytes()
    try:
        for make in (lambda: os.mkfifo(tasks), lambda: tasks.symlink_to("/dev/zero")):
            tasks.unlink()
            make()
            with time_limit(CASE_SECONDS), pytest.raises(OrcError, match="not a regular file"):
                load_playbook(project / "site.yaml")
    finally:
        tasks.unlink()
        tasks.write_bytes(original)
