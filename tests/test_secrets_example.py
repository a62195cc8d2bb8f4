"""The example estate's secrets work on a fresh clone with the published example-only keys."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.secrets import load_verified
from tests.support.secrets_estate import ORC, SOPS, one_error_line

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _example_keys_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_AGE_KEY_FILE", str(REPO / "secrets/example-keys/age.key"))
    for var in ("ORC_AGE_KEY", "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The files a clone has, with a clone's modes (0644 keys) and no user config anywhere."""
    root = tmp_path / "clone"
    shutil.copytree(REPO / "secrets", root / "secrets")
    shutil.copy(REPO / ".sops.yaml", root / ".sops.yaml")
    for path in root.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
    return root


def quick_start_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORC_", "SOPS_", "XDG_"))}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               ORC_AGE_KEY_FILE="secrets/example-keys/age.key",
               ORC_SIGNING_KEY_FILE="secrets/example-keys/signing.key",
               ORC_TRUST_ROOT_FILE="secrets/example-keys/trust-root.yaml",
               SOPS_DISABLE_VERSION_CHECK="1", **extra)
    return env


def run(argv: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def test_the_example_verifies_and_decrypts_as_the_quick_start_says(clone: Path,
                                                                     tmp_path: Path) -> None:
    env = quick_start_env(tmp_path)
    verified = run([ORC, "secrets", "verify"], clone, env)
    assert verified.returncode == 0, verified.stderr
    assert "secrets/lab.yaml: ok" in verified.stdout and "lab-example" in verified.stdout
    decrypted = run([ORC, "secrets", "decrypt", "secrets/lab.yaml"], clone, env)
    assert decrypted.returncode == 0 and "password:" in decrypted.stdout, decrypted.stderr


def test_the_example_holds_what_the_roles_use(clone: Path) -> None:
    lab = load_verified(clone / "secrets/lab.yaml", repo_root=clone)
    assert set(lab.values) == {"db", "app"}
    assert len(lab.values["db"]["password"]) >= 16 and len(lab.values["app"]["token"]) >= 32


def test_sops_decrypts_the_example_with_the_example_key(clone: Path, tmp_path: Path) -> None:
    env = quick_start_env(tmp_path, SOPS_AGE_KEY_FILE="secrets/example-keys/age.key")
    by_sops = run([SOPS, "decrypt", "secrets/lab.yaml"], clone, env)
    by_orc = run([ORC, "secrets", "decrypt", "secrets/lab.yaml"], clone, env)
    assert by_sops.returncode == 0 and by_orc.returncode == 0, by_sops.stderr + by_orc.stderr
    assert "password:" in by_orc.stdout
    assert by_sops.stdout.replace('"', "").split() == by_orc.stdout.replace("'", "").split()


def test_the_example_signing_key_may_sign_the_lab_secrets_only(clone: Path,
                                                                tmp_path: Path) -> None:
    env = quick_start_env(tmp_path)
    (clone / "secrets/prod.yaml").write_text("db:\n    password: real\n")
    recipient = (clone / "secrets/example-keys/age.key").read_text().split("public key: ")[1]
    done = run([ORC, "secrets", "encrypt", "--age", recipient.split()[0], "secrets/prod.yaml"],
               clone, env)
    one_error_line(done, "does not allow your key (lab-example) to sign this path")


def test_the_example_keys_say_they_are_for_the_example_only() -> None:
    folder = REPO / "secrets/example-keys"
    assert "Never use them for real secrets" in (folder / "README.md").read_text()
    for key in ("age.key", "signing.key"):
        assert (folder / key).read_text().startswith("# EXAMPLE ONLY")
