"""`orc lab`: throwaway Debian hosts on this machine for the quick start, role tests and CI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich.table import Table

from orchestrator import lab as lab_api
from orchestrator.cli import options
from orchestrator.report.console import make_console

name_option = click.option(
    "--name", default=lab_api.DEFAULT_NAME, show_default=True,
    help="Lab name (1-8 lowercase letters/digits); labs with different names coexist.",
)


@click.group()
def lab() -> None:
    """Throwaway Debian hosts (systemd-nspawn containers) reached over real SSH."""


vagrant_dir_option = click.option(
    "--vagrant-dir", type=click.Path(file_okay=False, path_type=Path),
    default=Path("vagrant"), show_default=True, help="Directory of the Vagrantfile.",
)


@lab.command()
@click.argument("count", type=int, default=3)
@name_option
@click.option(
    "--inventory", "inventory_path", type=click.Path(dir_okay=False, path_type=Path),
    default=Path("inventory/lab.yaml"), show_default=True,
    help="Where to write the lab's Ansible-shaped inventory.",
)
@click.option("--vagrant", "use_vagrant", is_flag=True,
              help="Write the inventory of the Vagrant machines running in --vagrant-dir "
                   "(after `vagrant up`) instead of starting containers.")
@vagrant_dir_option
@click.option("--light", is_flag=True,
              help="Hosts that run sshd alone (no systemd, a few MB each, up to 1000) for "
                   "plays without services; the lab stays light until `orc lab down`.")
def up(count: int, name: str, inventory_path: Path, use_vagrant: bool, vagrant_dir: Path,
       light: bool) -> None:
    """Start COUNT lab hosts (default 3); only hosts that are missing or down are started."""
    console = make_console(stderr=True)
    if use_vagrant and light:
        raise click.UsageError("--light and --vagrant exclude each other: Vagrant machines "
                               "are whatever their Vagrantfile makes")
    if use_vagrant:
        from orchestrator.lab import vagrant

        hosts = vagrant.up(vagrant_dir, inventory_path, console.log)
        console.print(f"vagrant lab: {len(hosts)} host(s) from {vagrant_dir}; "
                      f"inventory {inventory_path}")
        return
    with console.status("starting lab", spinner="dots") as spinner:
        def progress(line: str) -> None:
            spinner.update(f"[bold]lab {name}[/]: {line}")
            if not line.startswith(("I: Retrieving", "I: Validating", "I: Extracting",
                                    "I: Unpacking", "I: Configuring")):
                console.log(line)

        the_lab = lab_api.up(count, name, inventory_path, progress, light=light)
    kind = "light host(s)" if the_lab.light else "host(s)"
    console.print(
        f"lab [bold]{name}[/]: {len(the_lab.hosts)} {kind} on {the_lab.bridge} "
        f"({the_lab.subnet}); inventory {inventory_path}"
    )


@lab.command()
@name_option
@click.option("--vagrant", "use_vagrant", is_flag=True,
              help="Destroy the Vagrant machines (vagrant destroy -f) and what orc made for "
                   "them: their inventory, known_hosts and network.")
@vagrant_dir_option
def down(name: str, use_vagrant: bool, vagrant_dir: Path) -> None:
    """Stop every host of the lab and remove its containers, mounts, bridge and files."""
    console = make_console(stderr=True)
    if use_vagrant:
        from orchestrator.lab import vagrant

        vagrant.down(vagrant_dir, Path("inventory/lab.yaml"), console.log)
        return
    lab_api.down(name, progress=console.log)


@lab.command()
@click.option("--force", is_flag=True, help="Build the box again even if one is cached.")
def box(force: bool) -> None:
    """Build the `orc/bookworm` Vagrant box (lxc provider) from the lab's base image.

    Also makes the network the lxc machines sit on (bridge orc-vagrant and its apt proxy).
    Then: `cd vagrant && vagrant up --provider=lxc`, and `orc lab up --vagrant`.
    """
    from orchestrator.lab import box as box_api
    from orchestrator.lab import vagrant

    console = make_console(stderr=True)
    with console.status("building the box", spinner="dots") as spinner:
        def progress(line: str) -> None:
            spinner.update(f"[bold]box[/]: {line}")
            console.log(line)

        path = box_api.ensure_box(progress, force=force)
        progress(f"vagrant box add {box_api.BOX_NAME} {path}")
        box_api.add_box(path)
        vagrant.ensure_network(progress)
    console.print(f"box [bold]{box_api.BOX_NAME}[/] ready ({path}); next: "
                  "cd vagrant && vagrant up --provider=lxc && cd .. && orc lab up --vagrant")


@lab.command()
@name_option
@options.json_flag("Print JSON instead of a table.")
def status(name: str, as_json: bool) -> None:
    """Show each host: address, whether it runs, whether SSH answers, systemd's state
    ("sshd only" for light hosts)."""
    rows = lab_api.status(name)
    if as_json:
        click.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    table = Table(title=f"lab {name}")
    for column in ("host", "address", "state", "ssh", "system"):
        table.add_column(column)
    for row in rows:
        colour = "green" if row.state == "running" and row.ssh == "ok" else "red"
        table.add_row(row.name, row.address, f"[{colour}]{row.state}[/]",
                      f"[{colour}]{row.ssh}[/]", row.system)
    make_console().print(table)


@lab.command(context_settings={"ignore_unknown_options": True})
@click.argument("host")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@name_option
def ssh(host: str, command: tuple[str, ...], name: str) -> None:
    """Log into HOST (or run COMMAND there) with the lab's key and strict host key checking."""
    argv = lab_api.ssh_argv(host, name, list(command))
    sys.stdout.flush()
    os.execvp(argv[0], argv)


@lab.command("exec")
@click.argument("command", nargs=-1, required=True)
@name_option
@click.option("--host", "hosts", multiple=True, help="Only this host (repeatable).")
def exec_(command: tuple[str, ...], name: str, hosts: tuple[str, ...]) -> None:
    """Run COMMAND on every lab host over SSH and print each host's answer."""
    results = lab_api.execute(" ".join(command), name, list(hosts) or None)
    failed = False
    for result in results.values():
        if result.exit_code is None:
            click.secho(f"{result.host}: {result.error}", fg="red")
            failed = True
            continue
        text = (result.stdout + result.stderr).rstrip() or "(no output)"
        colour = "green" if result.ok else "red"
        failed |= not result.ok
        click.secho(f"{result.host} [exit {result.exit_code}]", fg=colour, bold=True)
        click.echo(text)
    if failed:
        sys.exit(1)
