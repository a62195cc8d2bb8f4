"""orc reads every inventory exactly as ansible-core does: same hosts, groups, merged variables.

Each case names inventories under tests/data/inventories, written to exercise one family of
rules; `ansible-inventory` (the oracle) and `orc inventory` run on the same files and must print
the same text. Host patterns are checked against ansible-core's own pattern evaluation.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from tests.support.inventory_oracle import (
    INVENTORIES, ansible_inventory, ansible_list_hosts, ansible_patterns, inventory_args,
)
from orchestrator.cli import main
from orchestrator.inventory import load_inventory, match


@dataclass(frozen=True)
class Case:
    name: str
    sources: tuple[str, ...]  # paths relative to the case's directory, or a comma host list
    hosts: tuple[str, ...] = ()  # hosts to compare with `--host NAME`
    limits: tuple[str, ...] = ()  # `--list --limit PATTERN` comparisons
    patterns: tuple[str, ...] = ()
    # ansible-core orders hosts found two or more levels below a matched group by iterating a
    # set, which changes from run to run; there only the selected set can be compared
    ordered: bool = True
    playbook_dir: str | None = None
    graph_args: tuple[str, ...] = ()  # compare `orc inventory ARGS` with ansible-inventory's

    def paths(self) -> list[str]:
        return [s if "," in s else str(INVENTORIES / self.name / s) for s in self.sources]

    def ansible_args(self) -> list[str]:
        return ["--playbook-dir", str(INVENTORIES / self.name / self.playbook_dir)] \
            if self.playbook_dir else []


GRAPH_VARS = ("--graph", "--vars")
CASES = [
    Case("yaml_basic", ("hosts.yaml",), graph_args=GRAPH_VARS, limits=("web:!canary",),
         patterns=("all", "web", "web:&canary", "web:!canary", "*.example.com", "~(web|db)1\\.",
                   "canary,db", "ungrouped", "monitoring", "bastion.example.com:db")),
    Case("yaml_ranges", ("ranges.yml",),
         patterns=("numbered[0]", "numbered[2:4]", "numbered[-1]", "web1?.example.com",
                   "10.0.0.*", "2001:db8::5", "addresses:!10.0.0.[1:2]", "rack*:shelf*",
                   "db-[a-b]-*")),
    Case("ini_basic", ("hosts.ini",),
         limits=("prod:&webservers",),
         patterns=("prod", "webservers:dbservers", "prod:!dbservers", "www*", "~.*\\.com$",
                   "mail.example.com,jump.example.com", "all:!prod")),
    Case("ini_types", ("types.ini",), hosts=("h1",)),
    Case("directory", ("inv",), patterns=("app:cache", "redis*")),
    Case("vars_forms", ("hosts.yml",), graph_args=GRAPH_VARS),
    Case("deep_nesting", ("hosts.yml",), graph_args=GRAPH_VARS, ordered=False,
         patterns=("all", "l1", "l3:&shallow", "l2:!side3", "~l[0-9]")),
    Case("group_priority", ("hosts.ini", "more.yaml"), graph_args=GRAPH_VARS),
    Case("multi_parent", ("hosts.yml",), graph_args=GRAPH_VARS, ordered=False,
         patterns=("europe", "production:&europe", "diamond_top", "left:right", "bottom")),
    Case("ungrouped", ("first.yml", "second.ini"),
         patterns=("ungrouped", "all:!ungrouped", "team", "stray*")),
    Case("dynamic", ("cloud.py",),
         patterns=("web", "web:!web_canary", "legacy_list:&web", "vm-*")),
    Case("dynamic_host_calls", ("legacy.sh",)),
    Case("multi_source",
         ("one/base.yml", "two/override.ini", "two/cmdb.py", "one/base.yml"),
         limits=("extra",),
         patterns=("web", "extra", "cmdb_only", "web:&extra:!web4")),
    Case("host_list",
         ("web1.example.com,web2.example.com:2222,10.0.0.[1:2],  ,alpha.example.com",
          "named.yml"),
         patterns=("ungrouped", "known", "*.example.com")),
    # `--graph --vars` would make ansible-core decrypt the vaulted value, which needs a password
    Case("json_and_tags", ("inventory.json", "tags.yaml"), hosts=("api3",),
         graph_args=("--graph",)),
    Case("no_extension", ("inv",), patterns=("edge", "solo1:edge2")),
    Case("late_children", ("hosts.ini",), graph_args=GRAPH_VARS,
         patterns=("site", "region:!db", "site[1:3]")),
    Case("playbook_dir", ("inventory/hosts.yml",), graph_args=GRAPH_VARS, hosts=("w2",),
         playbook_dir="play"),
    Case("lab_shape", ("lab.yaml",), patterns=("lab", "lab-[12]", "lab-*")),
    Case("patterns", ("hosts.ini",),
         limits=("web:db", "!web1"),
         patterns=(
             "all", "*", "web", "web1", "web1:&dc_west", "db:web", "web,db", "web , db",
             "web:&prod", "web:!prod", "web:db:&prod:!web3", "!web", "&prod", "!web:&prod",
             "w*", "*-app", "web?", "web[0]", "web[1:]", "web[-1]", "web*[1]", "web[0:1]",
             "~web[12]", "~(east|west)\\d", "~.*app$", "dc_*", "dc_east[1:2]", "10.0.0.5",
             "10.0.0.*", "localhost.localdomain", "ungrouped", "other-host", "prod:staging",
             "prod:staging:&web", "staging,!db2", "web3:db", "*:!dc_*",
         )),
]
CASE_IDS = [case.name for case in CASES]


def _oracle_jobs(case: Case):
    paths, extra = case.paths(), case.ansible_args()
    yield ("list",), lambda: ansible_inventory(paths, "--list", *extra)
    if case.graph_args:
        yield ("graph",), lambda: ansible_inventory(paths, *case.graph_args, *extra)
    for host in case.hosts:
        yield ("host", host), lambda host=host: ansible_inventory(paths, "--host", host, *extra)
    for limit in case.limits:
        yield ("limit", limit), lambda limit=limit: ansible_inventory(
            paths, "--list", "--limit", limit, *extra)


def _queries(case: Case) -> list[tuple[str, str | None]]:
    return [("all", None), *((p, None) for p in case.patterns),
            *(("all", limit) for limit in case.limits)]


def _all_patterns() -> dict[tuple, object]:
    requests = [(case.paths(), _queries(case)) for case in CASES]
    return {
        (case.name, "patterns"): dict(zip(_queries(case), map(tuple, answers)))
        for case, answers in zip(CASES, ansible_patterns(requests))
    }


@pytest.fixture(scope="session")
def oracle() -> dict[tuple, object]:
    """Every ansible-core answer the cases need, computed once, a few processes at a time."""
    jobs = {(case.name, *key): job for case in CASES for key, job in _oracle_jobs(case)}
    with ThreadPoolExecutor(max_workers=3) as pool:
        patterns = pool.submit(_all_patterns)
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()} | patterns.result()


def orc_inventory(case: Case, *args: str) -> str:
    extra = ["--playbook-dir", str(INVENTORIES / case.name / case.playbook_dir)] \
        if case.playbook_dir else []
    result = CliRunner().invoke(main, ["inventory", *inventory_args(case.paths()), *args, *extra])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_list_prints_what_ansible_inventory_prints(case: Case, oracle) -> None:
    assert orc_inventory(case, "--list") == oracle[(case.name, "list")]


@pytest.mark.parametrize("case", [c for c in CASES if c.graph_args], ids=lambda c: c.name)
def test_graph_prints_what_ansible_inventory_prints(case: Case, oracle) -> None:
    assert orc_inventory(case, *case.graph_args) == oracle[(case.name, "graph")]


@pytest.mark.parametrize(
    "case, host", [(c, h) for c in CASES for h in c.hosts],
    ids=[f"{c.name}-{h}" for c in CASES for h in c.hosts],
)
def test_host_prints_what_ansible_inventory_prints(case: Case, host: str, oracle) -> None:
    assert orc_inventory(case, "--host", host) == oracle[(case.name, "host", host)]


@pytest.mark.parametrize(
    "case, limit", [(c, limit) for c in CASES for limit in c.limits],
    ids=[f"{c.name}-{limit}" for c in CASES for limit in c.limits],
)
def test_list_with_limit_prints_what_ansible_inventory_prints(case, limit, oracle) -> None:
    assert orc_inventory(case, "--list", "--limit", limit) == oracle[(case.name, "limit", limit)]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_patterns_select_the_hosts_ansible_selects(case: Case, oracle) -> None:
    inventory = load_inventory(case.paths())
    expected = oracle[(case.name, "patterns")]
    got = {query: tuple(match(inventory, *query).hosts) for query in expected}
    if not case.ordered:
        expected = {query: tuple(sorted(hosts)) for query, hosts in expected.items()}
        got = {query: tuple(sorted(hosts)) for query, hosts in got.items()}
    assert got == expected


@pytest.mark.parametrize("case", [c for c in CASES if c.ordered], ids=lambda c: c.name)
def test_inventory_hosts_are_in_ansibles_order(case: Case, oracle) -> None:
    inventory = load_inventory(case.paths())
    assert tuple(inventory.hosts) == oracle[(case.name, "patterns")][("all", None)]


def test_pattern_oracle_agrees_with_the_ansible_command() -> None:
    """The batch pattern oracle answers what `ansible PATTERN --list-hosts` prints."""
    paths = [str(INVENTORIES / "patterns" / "hosts.ini")]
    for pattern, limit in [("web:db:&prod:!web3", None), ("*", "dc_*")]:
        inventory = load_inventory(paths)
        assert ansible_list_hosts(paths, pattern, limit) == match(inventory, pattern, limit).hosts
