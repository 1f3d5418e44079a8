"""Selecting the runs near each budget's optimum (bayescale.near_optimum)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayescale.data.reading import runs_from_frame
from bayescale.data.selection import near_optimum
from bayescale.errors import RunsError


def _sweep() -> pd.DataFrame:
    rows = []
    for budget in (1e18, 1e19, 1e20):
        best = np.sqrt(budget / 120.0)
        for k in range(-4, 5):
            n = best * 2.0 ** k
            # compute jitters by ±2% within a budget, as real sweeps do
            rows.append({"N": n, "C": budget * (1 + 0.02 * np.sin(k)), "loss": 3.0 * (1 + 0.02 * k * k)})
    rows.append({"N": 1e9, "C": 5e21, "loss": 9.0})  # alone at its compute: kept
    frame = pd.DataFrame(rows)
    frame["D"] = frame.C / (6 * frame.N)
    return frame


def test_keeps_the_runs_within_the_margin_of_their_budgets_lowest_loss():
    runs = runs_from_frame(_sweep())
    kept = near_optimum(runs, 0.1)
    # 1 + 0.02 k² ≤ 1.1 holds for |k| ≤ 2: five runs per budget, and the lone run
    assert kept.n_runs == 3 * 5 + 1
    assert kept.excluded == runs.n_runs - kept.n_runs
    assert np.all(kept.loss[kept.C < 1e21] <= 3.0 * 1.1)
    assert "kept 16 of 28" in kept.selection and "selected:" in kept.describe()
    assert near_optimum(runs, 1.0).n_runs == runs.n_runs


def test_budgets_are_compared_only_with_runs_of_about_the_same_compute():
    frame = _sweep()
    frame.loc[frame.C > 1e21, "loss"] = 1.0  # a far larger run with a far lower loss does not remove the others
    assert near_optimum(runs_from_frame(frame), 0.1).n_runs == 16


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan")])
def test_a_bad_margin_is_refused(bad):
    with pytest.raises(RunsError, match="positive margin"):
        near_optimum(runs_from_frame(_sweep()), bad)


def test_the_selection_travels_with_a_saved_fit(tmp_path):
    from conftest import fake_fit

    from bayescale.results.fitted import Fit

    runs = near_optimum(runs_from_frame(_sweep()), 0.1)
    fit = Fit.load(fake_fit(runs, draws=50).save(tmp_path / "f.nc"))
    assert fit.runs.selection == runs.selection and fit.runs.excluded == runs.excluded


def test_the_cli_refuses_a_bad_margin_before_fitting(tmp_path, capsys):
    from bayescale.cli import main

    path = tmp_path / "runs.csv"
    _sweep().to_csv(path, index=False)
    assert main(["fit", str(path), "--near-optimum", "-0.5", "--out", str(tmp_path / "f.nc")]) == 2
    err = capsys.readouterr().err
    assert "positive margin" in err and "Traceback" not in err
    assert not (tmp_path / "f.nc").exists()


def test_each_family_is_compared_with_its_own_minimum():
    a, b = _sweep(), _sweep()
    b["loss"] *= 1.5  # a worse recipe: every run of it is 50% above the other's
    frame = pd.concat([a.assign(mix="a"), b.assign(mix="b")], ignore_index=True)
    kept = near_optimum(runs_from_frame(frame, family_col="mix"), 0.1)
    assert kept.n_runs == 2 * 16
    assert np.bincount(kept.codes("family")).tolist() == [16, 16]


def test_a_plan_on_a_law_that_misses_the_ratio_trend_says_to_fit_near_the_optimum(example_fake_fit):
    from conftest import ROOT, fake_fit

    import bayescale as bs
    from bayescale.data.reading import read_runs

    frame = read_runs(ROOT / "data" / "example_runs.csv").frame.copy()
    frame["loss"] *= np.exp(0.03 * np.log10(frame["D"] / frame["N"] / 20.0) ** 2)  # far-off-optimum runs lie high
    bent = fake_fit(runs_from_frame(frame))
    advised = bs.plan(bent, compute=1e23)
    assert any("--near-optimum" in note for note in advised.notes)
    assert not any("--near-optimum" in note for note in bs.plan(example_fake_fit, compute=1e23).notes)
