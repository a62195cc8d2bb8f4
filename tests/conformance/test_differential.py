"""Every case of tests/conformance/cases/ through ansible-playbook and through orc, each on its
own lab host: the hosts must hold the same files (bytes, mode, owner) and every task must
report the same status, on the first run and on the second (idempotence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.lab import Lab
from tests.support.differential import Differential, load_cases

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def differential(lab: Lab, lab_inventory: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Differential:
    names = [h.name for h in lab.hosts]
    return Differential(lab.name, lab_inventory, names[-2], names[-1],
                        tmp_path_factory.mktemp("differential"))


@pytest.mark.parametrize("case", load_cases(), ids=lambda case: case.name)
def test_same_as_ansible(differential: Differential, case) -> None:
    differential.check(case)
