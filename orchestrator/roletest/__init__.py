"""`orc test ROLE`: a role's own test, molecule-style, on throwaway lab hosts.

create (lab hosts) -> converge -> idempotence (a second converge changes nothing) -> verify (the
role's testinfra tests over SSH) -> destroy. Scenarios in `roles/ROLE/scenarios/` say on which
hosts, with which variables and roles.
"""

from orchestrator.roletest.hosts import DEFAULT_LAB, TestHosts
from orchestrator.roletest.runner import (
    FAILED,
    PASSED,
    SKIPPED,
    STEPS,
    Events,
    RoleTestResult,
    StepResult,
    run_role_test,
)
from orchestrator.roletest.scenario import (
    DEFAULT,
    Platform,
    Scenario,
    all_roles,
    find_role,
    load_scenario,
    scenario_names,
)

__all__ = [
    "DEFAULT", "DEFAULT_LAB", "FAILED", "PASSED", "SKIPPED", "STEPS", "Events", "Platform",
    "RoleTestResult", "Scenario", "StepResult", "TestHosts", "all_roles", "find_role",
    "load_scenario", "run_role_test", "scenario_names",
]
