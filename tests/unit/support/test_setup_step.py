"""A fixture whose setup step fails makes its tests errors at setup, not failures."""

from __future__ import annotations

import subprocess

from tests.support.orc import REPO, setup_step

pytest_plugins = ["pytester"]


def test_a_failed_setup_step_is_an_error_naming_the_step(pytester, monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.makepyfile("""
        import subprocess
        import pytest
        from tests.support.orc import setup_step

        @pytest.fixture(scope="module")
        def estate():
            setup_step(subprocess.run(["sh", "-c", "echo converge broke; exit 2"],
                                      capture_output=True, text=True), "converging the estate")

        def test_one(estate):
            pass

        def test_two(estate):
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*setup: converging the estate failed (exit 2)*"])
    assert "AssertionError" not in result.stdout.str()


def test_a_step_that_worked_is_handed_back() -> None:
    done = subprocess.run(["true"], capture_output=True, text=True)
    assert setup_step(done, "nothing") is done
