"""Fuzz tests (hypothesis): the profile comes from HYPOTHESIS_PROFILE, ``ci`` by default (the fast
one `make test` runs: a few dozen cases per property, about 20 s in all, derandomised so that it
never flakes); ``long`` is the campaign (thousands of cases per property, random: about 10 min on two
cores); ``dev`` is in between. ``FUZZ_REPORT=path.json`` writes the counts and the kinds of messages.

    HYPOTHESIS_PROFILE=long FUZZ_REPORT=fuzz.json python -m pytest -q tests/fuzz
"""

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz import contract

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=50, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=1500, **_COMMON)
settings.register_profile("dev", max_examples=200, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def examples(n: int) -> int:
    """Examples for a property: ``n`` per 25 of the profile's ``max_examples`` (ci: 2n, long: 60n)."""
    current = settings().max_examples
    return max(1, round(n * current / 25))


def pytest_terminal_summary(terminalreporter):
    if not contract.COUNTS:
        return
    terminalreporter.section(f"fuzz outcomes (HYPOTHESIS_PROFILE={os.environ.get('HYPOTHESIS_PROFILE', 'ci')})")
    for line in contract.report_lines():
        terminalreporter.write_line(line)
    if os.environ.get("FUZZ_REPORT"):
        contract.write_report(os.environ["FUZZ_REPORT"])


@pytest.fixture(scope="session")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/fuzz/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.fuzz)
