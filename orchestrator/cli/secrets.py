"""`orc secrets`: make keys, encrypt, sign, verify, edit and rotate SOPS-format secret files.

Status goes to stderr, so `orc secrets decrypt FILE > out.yaml` captures only the plaintext.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from orchestrator.cli import options
from orchestrator.errors import SecretsError
from orchestrator.secrets import (
    api, editing, keys, policy, replay, signature, sopsfile, trustroot, writer, yamlio,
)
from orchestrator.secrets.policy import find_root


def _root(ctx: click.Context) -> Path:
    return ctx.obj["secrets_root"]


def _say(message: str) -> None:
    click.echo(message, err=True)


def _signed(sig: signature.Signature) -> str:
    return f"{sig.file}: signed, version {sig.version}, key {sig.key_id}"


file_argument = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


@click.group()
@click.option("--root", type=click.Path(file_okay=False, exists=True, path_type=Path),
              envvar="ORC_ROOT", help="Repository root (default: found from the current "
              "directory by secrets/signers.yaml, .sops.yaml or .git).")
@click.pass_context
def secrets(ctx: click.Context, root: Path | None) -> None:
    """Encrypted, signed secret files (SOPS format, age recipients, Ed25519 signatures).

    \b
    Keys come from ORC_AGE_KEY_FILE / ORC_AGE_KEY and ORC_SIGNING_KEY_FILE / ORC_SIGNING_KEY,
    else from the files `orc secrets keygen` writes in ~/.config/orc (or $ORC_CONFIG_DIR).
    secrets/signers.yaml is trusted only when signed by the root of trust, configured outside
    the repository (ORC_TRUST_ROOT_FILE / ORC_TRUST_ROOT, ~/.config/orc/trust-root.yaml,
    /etc/orc/trust-root.yaml): see `orc secrets root --help`.
    """
    ctx.ensure_object(dict)["secrets_root"] = (root or find_root(Path.cwd())).resolve()


@secrets.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the keys (default: ~/.config/orc or $ORC_CONFIG_DIR).")
def keygen(directory: Path | None) -> None:
    """Create your age identity and Ed25519 signing key (0600 files; never overwritten)."""
    made = keys.generate(directory)
    click.echo(f"age identity: {made.directory / keys.AGE_KEY_FILE}\n"
               f"  recipient (for .sops.yaml): {made.age_recipient}\n"
               f"signing key:  {made.directory / keys.SIGNING_KEY_FILE}\n"
               f"  public key (for secrets/signers.yaml): {made.signing_public}\n"
               f"  key id: {made.signing_key_id}")


@secrets.command()
@file_argument
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the encrypted file here (default: replace FILE).")
@click.option("--age", "recipients", multiple=True, metavar="RECIPIENT",
              help="Encrypt to this age recipient (repeatable; default: the .sops.yaml rule).")
@click.pass_context
def encrypt(ctx: click.Context, file: Path, output: Path | None, recipients: tuple[str]) -> None:
    """Encrypt a plaintext YAML FILE and sign the result."""
    key = keys.load_signing_key()
    sig = writer.encrypt(file, output or file, repo_root=_root(ctx), key=key,
                         recipients=list(recipients) or None)
    _say(_signed(sig))


@secrets.command()
@file_argument
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the plaintext to this file (mode 0600) instead of stdout.")
@click.pass_context
def decrypt(ctx: click.Context, file: Path, output: Path | None) -> None:
    """Verify FILE's signature, then print its plaintext."""
    opened = api.open_verified(file, repo_root=_root(ctx))
    text = yamlio.dump(opened.values)
    if output is None:
        click.echo(text, nl=False)
    else:
        writer.write_atomic(output, text.encode("utf-8"), mode=0o600)
        _say(f"{output}: plaintext written (mode 0600)")


@secrets.command()
@file_argument
@click.option("--ci", is_flag=True,
              help="Never ask: an edit orc cannot take fails at once, even at a terminal.")
@click.option("--yes", "-y", is_flag=True,
              help="Answer yes to the question orc would ask: go back to the editor when an "
                   "edit cannot be taken (until an edit brings the same error again).")
@click.pass_context
def edit(ctx: click.Context, file: Path, ci: bool, yes: bool) -> None:
    """Edit FILE's plaintext in $EDITOR, then re-encrypt and re-sign it (version + 1).

    A FILE that does not exist yet is created, encrypted as .sops.yaml says. Comments in the
    plaintext are not kept. An edit orc cannot take (not YAML, a reserved key) goes back to
    the editor when you say so at a terminal, or with `--yes`; with no terminal on stdin, or
    `--ci`, it fails at once and nothing is changed.
    """
    sig = editing.edit(file, repo_root=_root(ctx), key=keys.load_signing_key(),
                       retry=_retry(yes, ci))
    _say(_signed(sig) if sig else f"{file}: no changes")


def _retry(yes: bool, ci: bool) -> Callable[[SecretsError], bool]:
    """What answers "Open the editor again?": --yes, the person at the terminal, or nobody.
    With --yes, the same error twice in a row stops: the editor changed nothing that mattered,
    and asking again would loop for ever."""
    seen: list[str] = []

    def retry(err: SecretsError) -> bool:
        if ci:
            return False
        if yes:
            again = not seen or seen[-1] != str(err)
            seen.append(str(err))
            if again:
                _say(f"{err}; opening the editor again (--yes)")
            return again
        return sys.stdin.isatty() and click.confirm(f"{err}\nOpen the editor again?",
                                                    default=True, err=True)

    return retry


@secrets.command()
@file_argument
@click.option("--version", "version", type=click.IntRange(min=1),
              help="Version to sign as (default: one above the last signed or deployed).")
@click.pass_context
def sign(ctx: click.Context, file: Path, version: int | None) -> None:
    """Sign FILE as it is (for example after `sops edit`) with your signing key."""
    sig = writer.sign(file, repo_root=_root(ctx), key=keys.load_signing_key(), version=version)
    _say(_signed(sig))


def _secret_files(root: Path) -> list[Path]:
    found = []
    for path in sorted((root / "secrets").rglob("*")):
        if path.suffix in (".yaml", ".yml") and path.is_file() and b"\nsops:" in path.read_bytes():
            found.append(path)
    return found


@secrets.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--allow-downgrade", is_flag=True,
              help="Accept a version older than one already deployed.")
@click.pass_context
def verify(ctx: click.Context, files: tuple[Path], allow_downgrade: bool) -> None:
    """Check signatures, signer policy and versions; needs no decryption key.

    Without FILES, checks every sops file under secrets/.
    """
    root = _root(ctx)
    targets = list(files) or _secret_files(root)
    if not targets:
        raise SecretsError("no sops files to verify", path=root / "secrets")
    trust = policy.load_signers(root)
    replay.check_against_store(replay.default_store(root), policy.SIGNERS_FILE, trust.version,
                               allow_downgrade)
    for path in targets:
        checked = api.verify(path, repo_root=root)
        replay.check_against_store(replay.default_store(root), checked.name,
                                   checked.signature.version, allow_downgrade)
        click.echo(f"{checked.name}: ok, version {checked.signature.version}, "
                   f"signed by {checked.signer.name} (key {checked.signature.key_id})")


def _rewrite(ctx: click.Context, file: Path,
             change: Callable[[api.OpenedFile, Path, keys.SigningKey], signature.Signature]) -> None:
    """Verify and open FILE, make sure your key may re-sign it, then apply `change`."""
    root, key = _root(ctx), keys.load_signing_key()
    opened = api.open_verified(file, repo_root=root)
    writer.check_may_sign(key, opened.verified.name, root)
    _say(_signed(change(opened, root, key)))


@secrets.command()
@file_argument
@click.pass_context
def rotate(ctx: click.Context, file: Path) -> None:
    """Re-encrypt FILE under a new data key for the same recipients, and re-sign it."""
    _rewrite(ctx, file, lambda opened, root, key: writer.rotate(opened, repo_root=root, key=key))


@secrets.group()
def recipients() -> None:
    """List, add or remove the age recipients FILE is encrypted to."""


@recipients.command("list")
@file_argument
@click.pass_context
def list_(ctx: click.Context, file: Path) -> None:
    """Print FILE's age recipients (after checking its signature)."""
    checked = api.verify(file, repo_root=_root(ctx))
    for stanza in sopsfile.parse(checked.content, source=checked.name).age:
        click.echo(stanza.recipient)


def _recipients_command(name: str, change: Callable[..., signature.Signature],
                        help_text: str) -> click.Command:
    @recipients.command(name, help=help_text)
    @file_argument
    @click.argument("recipient", nargs=-1, required=True)
    @click.pass_context
    def command(ctx: click.Context, file: Path, recipient: tuple[str]) -> None:
        _rewrite(ctx, file, lambda opened, root, key: change(opened, list(recipient),
                                                             repo_root=root, key=key))

    return command


add = _recipients_command(
    "add", writer.add_recipients,
    "Let RECIPIENT decrypt FILE: wrap its data key for them too, and re-sign.")
remove = _recipients_command(
    "remove", writer.remove_recipients,
    "Stop RECIPIENT decrypting FILE: drop them and rotate the data key, and re-sign.")


@secrets.group()
def root() -> None:
    """The root of trust: keys outside the repository that sign secrets/signers.yaml.

    \b
    Make a root key (keep it offline):   orc secrets root keygen
    Trust it on every controller and CI: put its public key in a trust-root.yaml
      (keys: [orc-ed25519:...], threshold: k) and point ORC_TRUST_ROOT_FILE at it, or put
      it in ~/.config/orc/ or /etc/orc/, or pass its text as ORC_TRUST_ROOT (a CI secret).
    Sign signers.yaml after each change:  orc secrets root sign   (k holders, one by one)
    """


@root.command("keygen")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the root key (default: root.key in ~/.config/orc or "
              "$ORC_CONFIG_DIR).")
def root_keygen(path: Path | None) -> None:
    """Create a root key (a 0600 file, never overwritten) and print the trust-root.yaml for it."""
    key = keys.generate_signing_key(path or keys.config_dir() / trustroot.ROOT_KEY_FILE,
                                    what="orc root key")
    _say(f"root key: {key.source} (key id {key.key_id}); keep it offline")
    click.echo(trustroot.root_file_text([key.public_text]), nl=False)


@root.command("sign")
@click.option("--version", "version", type=click.IntRange(min=1),
              help="Version to sign as (default: the current one when other root keys signed "
              "these exact bytes, else one above it).")
@click.pass_context
def root_sign(ctx: click.Context, version: int | None) -> None:
    """Sign secrets/signers.yaml with your root key (ORC_ROOT_KEY_FILE, ORC_ROOT_KEY, or
    ~/.config/orc/root.key), keeping the other root keys' signatures of the same bytes."""
    root_dir = _root(ctx)
    key = trustroot.load_root_key()
    signed = trustroot.sign(root_dir, key, version)
    _say(f"{policy.SIGNERS_FILE}: signed by root key {key.key_id}, version {signed.version} "
         f"({len(signed.signatures)} root signature(s))")


@root.command("status")
@click.pass_context
def root_status(ctx: click.Context) -> None:
    """Show the configured root of trust and whether secrets/signers.yaml satisfies it."""
    trust = trustroot.require_root()
    click.echo(f"root of trust: {trust.source}: {trust.threshold} of "
               f"{', '.join(trust.key_ids())}")
    version = policy.load_signers(_root(ctx)).version
    click.echo(f"{policy.SIGNERS_FILE}: ok, version {version}")


@secrets.command("purge-journals")
@click.argument("pattern", default="all")
@options.inventory()
@click.option("--keep", type=click.IntRange(min=0), default=0, show_default=True,
              help="Newest runs whose journals are kept on each host.")
@options.become("Through sudo, or not (default: as the inventory says).")
def purge_journals(pattern: str, sources: tuple[str], keep: int, become: bool | None) -> None:
    """Remove the run journals on the hosts PATTERN selects: they keep, for rollback, old
    copies of the files runs replaced, secret-bearing ones too (after rotating a secret, purge
    the old value). The run holding a host's rollout lock keeps its journal; a purged run can
    no longer be rolled back."""
    from orchestrator.cli.options import DEFAULT_INVENTORY
    from orchestrator.inventory import load_inventory
    from orchestrator.rollout.locks import LOCK
    from orchestrator.undo import purge

    inventory = load_inventory(list(sources) or [DEFAULT_INVENTORY])
    failed = False
    for done in purge.purge(inventory, pattern, LOCK, keep, become):
        if done.error is not None:
            failed = True
            click.echo(f"{done.host}: FAILED: {done.error}")
        else:
            click.echo(f"{done.host}: {done.left} run journal(s) left")
    sys.exit(1 if failed else 0)
