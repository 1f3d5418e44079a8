"""The model-adequacy check, on fake posteriors: the true law passes, a missed trend is named."""

from __future__ import annotations

import numpy as np
from conftest import ROOT, fake_fit

from bayescale.data.reading import read_runs, runs_from_frame


def test_the_true_law_is_adequate(example_fake_fit):
    adequacy = example_fake_fit.adequacy()
    assert adequacy.passed, str(adequacy)
    assert set(adequacy.worst) == {"N", "D", "C", "tokens per parameter D/N"}
    assert "model adequacy PASSED" in str(adequacy)


def test_a_trend_the_law_misses_is_named():
    runs = read_runs(ROOT / "data" / "example_runs.csv")
    frame = runs.frame.copy()
    # the runs bend away from the law as D grows: +4% of loss per decade of tokens above the median
    decades = np.log10(frame["D"] / frame["D"].median())
    frame["loss"] *= np.exp(0.04 * np.clip(decades, 0, None))
    bent = fake_fit(runs_from_frame(frame))  # draws of the unbent law, as a misfit would leave them
    adequacy = bent.adequacy()
    assert not adequacy.passed
    assert any("trend in D" in finding or "trend in C" in finding for finding in adequacy.findings)
    assert adequacy.to_dict()["worst_bins"]["D"]["z"] > 4


def test_a_misfit_along_tokens_per_parameter_points_to_the_near_optimum_fit():
    runs = read_runs(ROOT / "data" / "example_runs.csv")
    frame = runs.frame.copy()
    # far from 20 tokens per parameter the runs lie above the law, as on real isoFLOP sweeps
    frame["loss"] *= np.exp(0.03 * np.log10(frame["D"] / frame["N"] / 20.0) ** 2)
    adequacy = fake_fit(runs_from_frame(frame)).adequacy()
    ratio = [f for f in adequacy.findings if "trend in tokens per parameter" in f]
    assert ratio and "--near-optimum" in ratio[0]
