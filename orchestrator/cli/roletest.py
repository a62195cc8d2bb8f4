"""`orc test ROLE`: create -> converge -> idempotence -> verify -> destroy, step by step."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator import roletest
from orchestrator.cli import options
from orchestrator.errors import InputError
from orchestrator.report import junit
from orchestrator.report.console import make_console
from orchestrator.roletest import FAILED, PASSED, RoleTestResult, StepResult

MARKS = {PASSED: "[green]✓[/]", FAILED: "[red]✗[/]", roletest.SKIPPED: "[cyan]-[/]"}


class _View(roletest.Events):
    """One line per finished step; a spinner names the running step and its latest news."""

    def __init__(self, console: Console, verbose: bool):
        self.console = console
        self.verbose = verbose
        self.status = None

    def step_started(self, step: str) -> None:
        if self.status is not None:  # a step cut short (Ctrl-C): destroy still gets a view
            self.status.stop()
        self.status = self.console.status(f"[bold]{step}[/]", spinner="dots")
        self.status.start()

    def progress(self, step: str, line: str) -> None:
        if self.status is not None:
            self.status.update(f"[bold]{step}[/]: {escape(line)}")
        if self.verbose:
            self.console.log(f"{step}: {escape(line)}")

    def step_finished(self, result: StepResult) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
        timing = f"[dim]{result.seconds:5.1f} s[/]" if result.seconds else " " * 7
        self.console.print(f"  {MARKS[result.status]} {result.step:<12} {timing}  "
                           f"{escape(result.summary)}", soft_wrap=True)
        if result.detail:
            colour = "red" if result.status == FAILED else "white"
            for line in result.detail.splitlines():
                self.console.print(f"      [{colour}]{escape(line)}[/]", highlight=False,
                                   soft_wrap=True)


def _scenarios(role: str | None, all_roles: bool, scenario: str | None,
               hosts: int | None) -> list[roletest.Scenario]:
    project = Path.cwd()
    if all_roles == (role is not None):
        raise InputError("name one ROLE, or give --all for every role")
    if role is not None:
        names = [scenario] if scenario else roletest.scenario_names(
            roletest.find_role(role, project))
        chosen = [roletest.load_scenario(role, name, project) for name in names]
    else:
        chosen = []
        for name, path in roletest.all_roles(project).items():
            names = roletest.scenario_names(path)
            if scenario:
                names = [scenario] if scenario in names else []
            chosen += [roletest.load_scenario(name, n, project) for n in names]
        if not chosen:
            raise InputError(f"no role under {project / 'roles'} to test")
    return [s.with_hosts(hosts) if hosts else s for s in chosen]


@click.command("test")
@click.argument("role", required=False)
@click.option("--all", "all_roles", is_flag=True, help="Test every role (every scenario).")
@click.option("-s", "--scenario", help="Only this scenario (roles/ROLE/scenarios/NAME.yaml).")
@click.option("--hosts", type=click.IntRange(1, roletest.scenario.MAX_HOSTS),
              help="Test on this many hosts instead of the scenario's.")
@click.option("--keep", is_flag=True, help="Keep the hosts after the test (no destroy).")
@click.option("--lab", "lab_name", default=roletest.DEFAULT_LAB, show_default=True,
              help="Name of the lab the test's hosts run in (a lab of role tests only).")
@click.option("--junit", "junit_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write a JUnit XML file per role into this directory.")
@click.option("--step", type=click.Choice(roletest.STEPS),
              help="Run this one step on the hosts a `--step create` left (as molecule does).")
@click.option("--init-molecule", is_flag=True,
              help="Write roles/ROLE/molecule/default/ (molecule driving orc) and exit.")
@options.verbose("Log every host's progress.", per_host=False)
def test(role: str | None, all_roles: bool, scenario: str | None, hosts: int | None, keep: bool,
         lab_name: str, junit_dir: Path | None, step: str | None, init_molecule: bool,
         verbose: bool) -> None:
    """Test ROLE on throwaway lab hosts: create, converge, idempotence, verify, destroy.

    Verify runs the role's testinfra tests (roles/ROLE/tests/test_*.py) over SSH with strict
    host keys. Exit code 0 when every scenario passed, 1 otherwise; with `--step converge`, 2
    when the converge changed something (tasks tagged orc-idempotence-notest aside).
    """
    scenarios = _scenarios(role, all_roles, scenario, hosts)
    if init_molecule:
        from orchestrator.roletest import molecule

        if len(scenarios) > 1:
            raise InputError("--init-molecule writes one scenario: name a ROLE and a --scenario")
        click.echo(f"wrote {molecule.write(scenarios[0])}")
        return
    if (keep or step) and len(scenarios) > 1:
        raise InputError("--keep and --step work on one scenario: name a ROLE and a --scenario")
    console = make_console()
    results: list[RoleTestResult] = []
    for chosen in scenarios:
        console.rule(f"[bold]orc test {escape(chosen.label)}[/] on "
                     f"{len(chosen.platforms)} host(s)")
        result = roletest.run_role_test(chosen, lab_name=lab_name, keep=keep,
                                        events=_View(console, verbose), only=step)
        results.append(result)
        if junit_dir is not None:
            mine = [r for r in results if r.scenario.role == chosen.role]
            junit.write_role_tests(mine, junit_dir / f"{chosen.role}.xml")
    if len(results) > 1:
        console.print(_summary(results))
    if not all(r.passed for r in results):
        sys.exit(1)
    sys.exit(2 if step == "converge" and results[0].changes else 0)


def _summary(results: list[RoleTestResult]) -> Table:
    table = Table(title="orc test")
    for column in ("role", "scenario", "result", "time"):
        table.add_column(column)
    for result in results:
        failed = result.failed_step
        verdict = "[green]passed[/]" if failed is None else f"[red]failed at {failed.step}[/]"
        table.add_row(result.scenario.role, result.scenario.name, verdict,
                      f"{result.seconds:.1f} s")
    return table
