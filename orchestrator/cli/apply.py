"""`orc apply` and `orc plan`: a playbook onto inventory hosts through pyinfra.

Options are ansible-playbook's where it has one (`-i -l -t --skip-tags -e -f --check --diff
--list-hosts --list-tasks --syntax-check --start-at-task`), so a team's habits carry over.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click
from rich.table import Table

from orchestrator.cli import interactive as is_interactive
from orchestrator.cli import options
from orchestrator.cli.options import DEFAULT_INVENTORY
from orchestrator.engine.options import RunOptions, selected
from orchestrator.engine.run import run_playbook
from orchestrator.errors import InputError
from orchestrator.events import RunReported, fan_out
from orchestrator.load.extravars import parse_extra_vars
from orchestrator.load.tasks import flatten
from orchestrator.report.console import RunSummary, make_console, print_plan
from orchestrator.report.hosts import count, fold_hosts
from orchestrator.report.json import JsonReport
from orchestrator.report.junit import JUnitReport
from orchestrator.report.live import LiveRollout, LogLines
from orchestrator.report.model import waves_from_store
from orchestrator.report.plan import write_json, write_markdown
from orchestrator.rollout.run import (
    Rollout,
    load_run,
    resume_run,
    roll_out,
    start_run,
    wave_table,
)
from orchestrator.rollout.store import PAUSED, RunStore
from orchestrator.undo.record import KEEP_RUNS


def _tags(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t.strip() for v in values for t in v.split(",") if t.strip())


def run_options(f):
    """The options `plan` and `apply` share, named as ansible-playbook names them."""
    f = click.argument("playbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))(f)
    f = options.inventory("inventories", f"Inventory source (repeatable; default "
                                         f"{DEFAULT_INVENTORY}).", metavar=None)(f)
    f = options.limit()(f)
    f = click.option("-t", "--tags", multiple=True, help="Only tasks with these tags.")(f)
    f = click.option("--skip-tags", multiple=True, help="Skip tasks with these tags.")(f)
    f = options.extra_vars(f)
    f = options.forks()(f)
    f = click.option("--start-at-task", metavar="NAME",
                     help="Start at the first task matching NAME (a shell pattern; "
                          "`role : task` also matches).")(f)
    f = click.option("--list-hosts", is_flag=True,
                     help="List each play's hosts and waves; run nothing.")(f)
    f = click.option("--list-tasks", is_flag=True,
                     help="List each play's tasks (after -t/--skip-tags); run nothing.")(f)
    f = click.option("--syntax-check", is_flag=True,
                     help="Load the playbook and check its rollout policies; run nothing.")(f)
    f = options.verbose("Every host on its own, not grouped; every task of each.")(f)
    return f


def _load(playbook: Path, inventories: tuple[str, ...], limit, tags, skip_tags, extra_vars,
          dry_run: bool, forks: int | None = None, start_at: str | None = None):
    options = RunOptions(parse_extra_vars(extra_vars), _tags(tags), _tags(skip_tags), limit,
                         dry_run, forks=forks, start_at_task=start_at)
    book, inventory = load_run(playbook, list(inventories) or [DEFAULT_INVENTORY], options)
    return book, inventory, options


def _listings(book, inventory, options, list_hosts: bool, list_tasks: bool,
              syntax_check: bool) -> bool:
    """`--list-hosts`, `--list-tasks`, `--syntax-check`, shaped as ansible-playbook prints
    them; True when one was asked for (and nothing else is to run)."""
    if not (list_hosts or list_tasks or syntax_check):
        return False
    waves = wave_table(book, inventory, options.limit)  # a canary not among its play's hosts
    click.echo(f"\nplaybook: {book.path}")
    if syntax_check and not (list_hosts or list_tasks):
        return True
    for number, play in enumerate(book.plays, 1):
        click.echo(f"\n  play #{number} ({play.hosts}): {play.name}")
        if list_hosts:
            hosts = inventory.select(play.hosts, options.limit)
            click.echo(f"    pattern: {play.hosts}\n    hosts ({len(hosts)}):")
            for host in hosts:
                click.echo(f"      {host}")
            for wave in waves[number - 1][1]:
                click.echo(f"    wave {wave.index + 1} ({count(len(wave.hosts), 'host')}): "
                           f"{fold_hosts(wave.hosts)}")
        if list_tasks:
            click.echo("    tasks:")
            # in Ansible's order; a task is named with its own role (an import_role's too)
            listed = [(t, frozenset()) for t in flatten(play.pre_tasks)]
            listed += [(t, ref.tags) for ref, role in play.roles for t in flatten(role.tasks)]
            listed += [(t, frozenset()) for t in flatten(play.tasks + play.post_tasks)]
            for task, role_tags in listed:
                if selected(task, options, role_tags):
                    role = f"{task.role} : " if task.role else ""
                    click.echo(f"      {role}{task.name}\t"
                               f"TAGS: [{', '.join(sorted(task.tags | role_tags))}]")
    return True


@click.command()
@run_options
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the plan as JSON here (schema orc-plan/1, see the README).")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the plan as Markdown here (a CI job summary, a pull request comment).")
@click.option("--diff/--no-diff", default=True, show_default=True,
              help="Show unified diffs of the files that would change.")
@options.state_dir
def plan(playbook, inventories, limit, tags, skip_tags, extra_vars, forks, start_at_task,
         list_hosts, list_tasks, syntax_check, verbose, json_path, markdown_path, diff,
         state_dir) -> None:
    """Show what `apply` would change on each host (diffs of files); change nothing.

    Hosts whose changes are the same share one block; `-v` shows every host. Exit code: 0
    nothing would change, 2 something would change, 1 error.
    """
    book, inventory, options = _load(playbook, inventories, limit, tags, skip_tags, extra_vars,
                                     True, forks, start_at_task)
    if _listings(book, inventory, options, list_hosts, list_tasks, syntax_check):
        return
    _plan(replace(options, state_dir=str(state_dir)), book, inventory, verbose, json_path,
          markdown_path, diff)


def _plan(options, book, inventory, verbose, json_path, markdown_path, diff) -> None:
    console = make_console()
    with make_console(stderr=True).status("gathering facts"):
        run = run_playbook(book, inventory, options)
    waves = wave_table(book, inventory, options.limit)
    addresses = _addresses(inventory, run)
    print_plan(run, console, per_host=verbose, diffs=diff, addresses=addresses)
    table = Table(title="waves")
    for column in ("play", "wave", "hosts"):
        table.add_column(column)
    table.add_column("count", justify="right")
    for play_name, play_waves in waves:
        for wave in play_waves:
            table.add_row(play_name, str(wave.index + 1), fold_hosts(wave.hosts),
                          str(len(wave.hosts)))
    console.print(table)
    if json_path:
        write_json(run, [w for _, w in waves], json_path)
    if markdown_path:
        write_markdown(run, [w for _, w in waves], markdown_path, addresses)
    sys.exit(1 if run.failed else 2 if run.changed else 0)


def _addresses(inventory, run) -> dict[str, str]:
    """Each planned host's `ansible_host`, so a plan can show diffs that differ only by it once."""
    found = {}
    for play in run.plays:
        for name in play.hosts:
            address = inventory.host_vars(name).get("ansible_host")
            if isinstance(address, str) and "{" not in address:
                found[name] = address
    return found


@click.command()
@run_options
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the run's report as JSON here.")
@click.option("-C", "--check", is_flag=True,
              help="Change nothing: show the plan, as `orc plan` does (Ansible's --check).")
@click.option("-D", "--diff", is_flag=True,
              help="With --check: show unified diffs of the files that would change.")
@options.yes("Do not ask for confirmation.")
@options.ci("No prompts, no live display: plain lines for logs.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JUnit XML report here (a test case per host per wave).")
@click.option("--pause-after-wave", type=click.IntRange(min=1),
              help="Pause the run after this wave (1: the first) of each play.")
@click.option("--allow-downgrade", is_flag=True,
              help="Deploy a secret older than the version the hosts already have.")
@options.state_dir
@click.option("--keep-runs", type=click.IntRange(min=0), default=KEEP_RUNS, show_default=True,
              envvar="ORC_KEEP_RUNS",
              help="Runs whose journals (on each host) and index entries are kept; 0 keeps all.")
@options.cluster
def apply(playbook, inventories, limit, tags, skip_tags, extra_vars, forks, start_at_task,
          list_hosts, list_tasks, syntax_check, verbose, json_path, check, diff, yes, ci,
          junit_path, pause_after_wave, allow_downgrade, state_dir, keep_runs, cluster) -> None:
    """Roll a playbook out in canary waves: apply, health-gate and bake each wave.

    Exit codes: 0 every wave succeeded; 1 a host failed, a wave halted the run, or an error;
    4 the run paused (continue with `orc resume RUN`). With --check: `orc plan`'s codes.
    """
    if diff and not check:
        raise InputError("--diff shows what a plan would change: use it with --check "
                         "(orc apply --check --diff, or orc plan)")
    if check and (junit_path or pause_after_wave is not None or cluster):
        raise InputError("--check changes nothing: --junit, --pause-after-wave and --cluster "
                         "have no run to report, pause or shard")
    book, inventory, options = _load(playbook, inventories, limit, tags, skip_tags, extra_vars,
                                     check, forks, start_at_task)
    if _listings(book, inventory, options, list_hosts, list_tasks, syntax_check):
        return
    if check:
        _plan(replace(options, state_dir=str(state_dir)), book, inventory, verbose, json_path,
              None, diff)
        return
    options = replace(options, allow_downgrade=allow_downgrade, keep_runs=keep_runs,
                      pause_after_wave=pause_after_wave, cluster=cluster)
    console = make_console()
    interactive = is_interactive(console, ci)

    def confirm(hosts: list[str]) -> None:
        click.confirm(f"Roll {playbook} out to {len(hosts)} host(s)?", abort=True)

    rollout = start_run(book, inventory, options, RunStore(state_dir),
                        confirm=confirm if interactive and not yes else None)
    _finish(_roll_out(rollout, interactive, console), rollout.store, verbose, json_path,
            junit_path, console)


def _roll_out(rollout: Rollout, interactive: bool, console):
    """The rollout with a live view on a terminal, plain lines otherwise."""
    if interactive:
        planned = {name: len(waves) for name, waves in rollout.waves()}
        with LiveRollout(str(rollout.book.path), console, planned) as view:
            return roll_out(rollout, on_event=view)
    click.echo(f"run {rollout.run.id}")
    return roll_out(rollout, on_event=LogLines())


def _finish(report, store, verbose, json_path, junit_path, console) -> None:
    """The whole run's report to its listeners: the summary on the console (every wave, its
    hosts, health and time, and one line), then the JSON and JUnit files asked for."""
    # a resumed run's earlier waves come from the index, whole, like the waves just run
    report.waves = waves_from_store(store.waves(report.run_id)) or report.waves
    reported = fan_out([RunSummary(console, verbose),
                        JsonReport(json_path) if json_path else None,
                        JUnitReport(junit_path) if junit_path else None])
    reported(RunReported(report))
    sys.exit(4 if report.status == PAUSED else 1 if report.failed else 0)


@click.command()
@click.argument("run_id")
@options.ci("No live display: plain lines for logs.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path))
@options.verbose()
@options.state_dir
def resume(run_id, ci, json_path, junit_path, verbose, state_dir) -> None:
    """Continue a paused or interrupted run with its next wave."""
    rollout = resume_run(RunStore(state_dir), run_id)
    console = make_console()
    interactive = is_interactive(console, ci)
    _finish(_roll_out(rollout, interactive, console), rollout.store, verbose, json_path,
            junit_path, console)
