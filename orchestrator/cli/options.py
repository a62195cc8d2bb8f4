"""The options several commands share, declared once: same flags, same types, same defaults and
the same words in `--help` wherever they appear.

Names and short flags are ansible-playbook's where it has one (`-i -l -e -f -v`), so a team's
habits carry over. Each is a decorator; the ones whose parameter name or help differs by
command (`-i` lands in `inventories` for a playbook run, in `sources` for an inventory command)
take them as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orchestrator.inventory import DEFAULT_SOURCE as DEFAULT_INVENTORY

DEFAULT_STATE_DIR = Path(".orc")

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

INVENTORY_HELP = (f"Inventory file, directory, script or host list (repeatable; default "
                  f"{DEFAULT_INVENTORY}).")


def inventory(dest: str = "sources", help: str = INVENTORY_HELP,  # noqa: A002 - click's word
              metavar: str | None = "SOURCE") -> Decorator:
    """`-i/--inventory SOURCE`, repeatable."""
    return click.option("-i", "--inventory", dest, multiple=True, metavar=metavar, help=help)


state_dir = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_STATE_DIR,
    show_default=True,
    help="Where the run index lives, and the fact reads each play asked for (read together on "
         "its next run).")


def limit(help: str = "Only hosts matching this pattern.",  # noqa: A002
          metavar: str | None = None) -> Decorator:
    """`-l/--limit PATTERN`: an Ansible host pattern that narrows the selection."""
    return click.option("-l", "--limit", metavar=metavar, help=help)


extra_vars = click.option("-e", "--extra-vars", multiple=True,
                          help="key=value or @file.yaml; highest precedence.")


def forks(default: int | None = None,
          help: str = "Hosts worked on at once (default: up to 50).") -> Decorator:  # noqa: A002
    """`-f/--forks N`: how many hosts are worked on at once."""
    return click.option("-f", "--forks", type=click.IntRange(min=1), default=default,
                        show_default=default is not None, help=help)


def verbose(help: str | None = None, per_host: bool = True) -> Decorator:  # noqa: A002
    """`-v/--verbose` (and `--per-host` where a report groups hosts)."""
    names = ("-v", "--verbose", "--per-host", "verbose") if per_host else ("-v", "--verbose")
    return click.option(*names, is_flag=True, help=help)


def ci(help: str) -> Decorator:  # noqa: A002 - what "no prompt" means differs by command
    """`--ci`: never prompt, never draw a live display."""
    return click.option("--ci", is_flag=True, help=help)


def yes(help: str) -> Decorator:  # noqa: A002
    """`--yes/-y`: answer yes to the question the command would ask."""
    return click.option("--yes", "-y", is_flag=True, help=help)


def become(help: str) -> Decorator:  # noqa: A002
    """`-b/--become/--no-become`: through sudo, or not; unset leaves it to the inventory."""
    return click.option("-b", "--become/--no-become", default=None, help=help)


def json_flag(help: str) -> Decorator:  # noqa: A002
    """`--json` as a flag: print JSON to stdout instead of tables (into `as_json`)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


cluster = click.option(
    "--cluster", metavar="ADDRESS",
    help="Run each wave's hosts on the workers of this Dask scheduler (tcp://HOST:PORT or "
         "tls://HOST:PORT); default: in this process.")
