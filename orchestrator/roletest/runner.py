"""The role test sequence: create -> converge -> idempotence -> verify -> destroy.

Each step ends as a `StepResult` (plain data, for the CLI's view and the JUnit file). A step that
fails stops the ones after it, except destroy, which always runs (unless the hosts are kept), so a
failed test never leaves hosts behind.

A single step can also run on its own (`orc test ROLE --step converge`) against hosts an earlier
`--step create` left up: that is how molecule drives orc, one process per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import OrcError
from orchestrator.events import Event, HostDone
from orchestrator.roletest import converge as converge_mod
from orchestrator.roletest import hosts as hosts_mod
from orchestrator.roletest.scenario import Scenario
from orchestrator.roletest.verify import verify

STEPS = ("create", "converge", "idempotence", "verify", "destroy")
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class StepResult:
    step: str
    status: str  # passed | failed | skipped
    seconds: float = 0.0
    summary: str = ""  # one line
    detail: str = ""  # what failed, line by line (tasks with file:line, or pytest's report)


@dataclass
class RoleTestResult:
    scenario: Scenario
    lab: str
    steps: list[StepResult] = field(default_factory=list)
    verify_junit: str | None = None  # pytest's JUnit XML of the verify tests
    changes: int = 0  # changes of the last converge, less tasks excepted from idempotence

    @property
    def passed(self) -> bool:
        return all(step.status != FAILED for step in self.steps)

    @property
    def failed_step(self) -> StepResult | None:
        return next((step for step in self.steps if step.status == FAILED), None)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)


class Events:
    """What the runner tells a view as it goes; the default tells nobody."""

    def step_started(self, step: str) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass

    def progress(self, step: str, line: str) -> None:
        pass


class StepFailed(Exception):
    def __init__(self, summary: str, detail: str = ""):
        super().__init__(summary)
        self.summary, self.detail = summary, detail


class StepSkipped(Exception):
    pass


class _Run:
    """One scenario's steps, sharing the hosts and the loaded converge between them."""

    def __init__(self, scenario: Scenario, lab_name: str, events: Events,
                 extra_vars: dict[str, Any] | None):
        self.scenario = scenario
        self.lab_name = lab_name
        self.events = events
        self.extra_vars = extra_vars
        self.result = RoleTestResult(scenario, lab_name)
        self._hosts: hosts_mod.TestHosts | None = None
        self._converge: tuple[Any, Any] | None = None

    def step(self, name: str) -> bool:
        self.events.step_started(name)
        started = time.monotonic()
        try:
            outcome = StepResult(name, PASSED, summary=getattr(self, f"do_{name}")())
        except StepFailed as failed:
            outcome = StepResult(name, FAILED, summary=failed.summary, detail=failed.detail)
        except StepSkipped as skipped:
            outcome = StepResult(name, SKIPPED, summary=str(skipped))
        except OrcError as err:
            outcome = StepResult(name, FAILED, summary=str(err))
        outcome.seconds = time.monotonic() - started
        self.record(outcome)
        return outcome.status != FAILED

    def record(self, outcome: StepResult) -> None:
        self.result.steps.append(outcome)
        self.events.step_finished(outcome)

    def progress(self, step: str) -> Callable[[str], None]:
        return lambda line: self.events.progress(step, line)

    @property
    def hosts(self) -> hosts_mod.TestHosts:
        if self._hosts is None:
            self._hosts = hosts_mod.attach(self.scenario, self.lab_name)
        return self._hosts

    def do_create(self) -> str:
        self._hosts = hosts_mod.create(self.scenario, self.lab_name, self.progress("create"))
        names = self._hosts.names
        return f"{len(names)} host(s): {', '.join(names)} (lab {self.lab_name})"

    def _apply(self, step: str):
        if self._converge is None:
            self._converge = converge_mod.load_converge(self.scenario, self.hosts.inventory_path)
        book, inventory = self._converge

        def forward(event: Event) -> None:
            if isinstance(event, HostDone):
                self.events.progress(step, f"{event.host}: {event.status}")

        run = converge_mod.converge(book, inventory, forward, self.extra_vars)
        self.result.changes = len(converge_mod.counted_changes(book, run))
        return book, run

    def do_converge(self) -> str:
        _, run = self._apply("converge")
        failed = converge_mod.failures(run)
        if failed:
            raise StepFailed(f"{len(failed)} task(s) failed",
                             "\n".join(f.line(self.scenario.project) for f in failed))
        hosts = len(run.plays[0].hosts) if run.plays else 0
        return f"{run.changed} change(s) on {hosts} host(s)"

    def do_idempotence(self) -> str:
        book, run = self._apply("idempotence")
        offences = converge_mod.idempotence_offences(book, run)
        if offences:
            raise StepFailed(f"the second converge was not idempotent: {len(offences)} task(s)",
                             "\n".join(o.line(self.scenario.project) for o in offences))
        excepted = len(converge_mod.excepted_tasks(book))
        return "second converge changed nothing" + (
            f" ({excepted} task(s) tagged {converge_mod.NOTEST_TAG} excepted)" if excepted else "")

    def do_verify(self) -> str:
        if not self.scenario.test_files():
            raise StepSkipped(f"no tests in {self.scenario.tests_dir}")
        outcome = verify(self.scenario, self.hosts)
        self.result.verify_junit = outcome.junit_xml
        if not outcome.passed:
            raise StepFailed(outcome.summary, outcome.failure_report())
        return outcome.summary

    def do_destroy(self) -> str:
        if not hosts_mod.destroy(self.lab_name, self.progress("destroy")):
            return "no hosts to remove"
        return f"lab {self.lab_name} removed"


def run_role_test(scenario: Scenario, *, lab_name: str = hosts_mod.DEFAULT_LAB,
                  keep: bool = False, extra_vars: dict[str, Any] | None = None,
                  events: Events | None = None, only: str | None = None) -> RoleTestResult:
    """Run the whole sequence (or the one step `only` names) and return what each step did."""
    with hosts_mod.claimed(lab_name):
        return _run(_Run(scenario, lab_name, events or Events(), extra_vars), keep, only)


def _run(run: _Run, keep: bool, only: str | None) -> RoleTestResult:
    if only is not None:
        if only not in STEPS:
            raise ValueError(f"unknown step {only!r}")
        run.step(only)
        return run.result
    ok = True
    try:
        for name in STEPS[:-1]:
            if ok:
                ok = run.step(name)
            else:
                run.record(StepResult(name, SKIPPED, summary="not run: an earlier step failed"))
    finally:
        if keep and run._hosts is not None:
            run.record(StepResult("destroy", SKIPPED,
                                  summary=f"kept: lab {run.lab_name}, inventory "
                                          f"{run._hosts.inventory_path}"))
        else:
            run.step("destroy")
    return run.result
