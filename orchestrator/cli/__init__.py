"""The `orc` command: a thin shell that parses arguments, calls the API and renders.

Sub-commands live in their own modules and are imported only when invoked, so `orc lab status`
does not pay for importing pyinfra. `orc --help` lists them from their docstrings, read from
source, so it imports none of them. Errors are rendered here, once, as one line.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

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
    "rollback": "orchestrator.cli.rollback:rollback_command",
    "unlock": "orchestrator.cli.unlock:unlock",
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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, each sub-command's summary taken from its docstring in source."""
        commands = []
        for name in self.list_commands(ctx):
            doc = docstring(COMMANDS[name]) if name in COMMANDS else None
            command = click.Command(name, help=doc) if doc else self.get_command(ctx, name)
            if command is not None and not command.hidden:
                commands.append((name, command))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit))
                                    for name, command in commands])

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
            click.secho(f"error: {_hidden(str(err))}", fg="red", err=True)
            sys.exit(1)


def _hidden(text: str) -> str:
    """What orc prints of an error: secrets this process read, and values derived from them,
    masked (imported only when something may be known)."""
    masking = sys.modules.get("orchestrator.secrets.masking")
    return masking.hide(text) if masking else text


class _MaskedStream:
    """The last net under every output (tables, live views, log lines): a secret this process
    read, or a value rendered from one, is masked on its way to the terminal or the CI log."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_hidden(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _print_masked_traceback(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    """`--debug` and crashes print a traceback; its messages pass through the same mask."""
    import traceback

    sys.stderr.write(_hidden("".join(traceback.format_exception(kind, value, tb))))


def interactive(console: Any, ci: bool) -> bool:
    """Whether orc may ask questions and draw live views: a person at a terminal, no --ci."""
    return sys.stdin.isatty() and console.is_terminal and not ci


_MAKERS = ("command", "group")  # click's decorators that make a command of the function


def docstring(target: str) -> str | None:
    """The docstring of the function behind a "module:attribute" command, read from the module's
    source without importing it; None when the decorators set its help some other way."""
    module_name, attr = target.split(":")
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.origin:
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attr:
            makers = [d for d in node.decorator_list if isinstance(d, ast.Call)
                      and getattr(d.func, "attr", getattr(d.func, "id", "")) in _MAKERS]
            if len(makers) != 1 or len(makers[0].args) > 1 or {
                    k.arg for k in makers[0].keywords} & {"help", "short_help", "hidden",
                                                          "deprecated", "cls"}:
                return None
            return ast.get_docstring(node)
    return None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="orc")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """orc: staged canary rollouts of Ansible-style roles through pyinfra, and their undo."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    sys.excepthook = _print_masked_traceback
    if ctx.invoked_subcommand != "secrets":  # `orc secrets decrypt` prints plaintext on purpose
        sys.stdout, sys.stderr = _MaskedStream(sys.stdout), _MaskedStream(sys.stderr)
