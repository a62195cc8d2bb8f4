"""The `orc` command: a thin shell that parses arguments, calls the API and renders.

Sub-commands live in their own modules and are imported only when invoked, so `orc lab status`
does not pay for importing pyinfra. Errors are rendered here, once, as one line.
"""

from __future__ import annotations

import importlib
import sys

import click

from orchestrator import __version__
from orchestrator.errors import OrcError

# command name -> "module:attribute" of its click command
COMMANDS: dict[str, str] = {
    "apply": "orchestrator.cli.apply:apply",
    "plan": "orchestrator.cli.apply:plan",
    "resume": "orchestrator.cli.apply:resume",
    "abort": "orchestrator.cli.runs:abort",
    "runs": "orchestrator.cli.runs:runs",
    "show": "orchestrator.cli.runs:show",
    "rollback": "orchestrator.cli.rollback:rollback",
    "lab": "orchestrator.cli.lab:lab",
    "secrets": "orchestrator.cli.secrets:secrets",
    "inventory": "orchestrator.cli.inventory:inventory",
    "run": "orchestrator.cli.run:run",
    "facts": "orchestrator.cli.facts:facts",
    "test": "orchestrator.cli.roletest:test",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OrcError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="orc")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """orc: staged canary rollouts of Ansible-style roles through pyinfra, and their undo."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
