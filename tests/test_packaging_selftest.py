"""The self-test's analysis step (``ExoDeep --self-test`` runs it after detection; the frozen self-test
itself: tests/test_installer.py and installer/linux/build-debian11.sh)."""

import pytest

from exodeep_gui import selftest
from exodeep_gui.core.simulate import SimulationParams, simulate_movie


@pytest.fixture(scope="module")
def sim():
    return simulate_movie(SimulationParams(frames=48, height=64, width=64, events=5, docked=6, visiting=2), seed=3)


def test_analysis_step_writes_the_report_and_figures(sim, tmp_path):
    figures = selftest.analyse(sim, tmp_path)
    assert figures == len(list((tmp_path / "analysis" / "figures").iterdir())) > 5
    html = (tmp_path / "analysis" / "report.html").read_text(encoding="utf-8")
    assert "<img" in html                               # figures drawn (matplotlib) and embedded


def test_a_failing_analysis_fails_the_self_test_with_its_reason(sim, tmp_path, monkeypatch):
    import exodeep_gui.cli as cli

    def broken(argv):
        import sys

        print("exodeep: error: no figures today", file=sys.stderr)
        return 1

    monkeypatch.setattr(cli, "main", broken)
    with pytest.raises(AssertionError, match="no figures today"):
        selftest.analyse(sim, tmp_path)
