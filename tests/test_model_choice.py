"""Model choice on synthetic runs with real NUTS fits: PSIS-LOO and the backtest must prefer the
law that generated the runs. Both directions: runs from Chinchilla's law (data/example_runs.csv,
Hoffmann et al.'s Approach-3 parameters) and runs from Kaplan's joint law (Kaplan et al. 2020,
Table 2 constants), each fitted by both laws."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from bayescale.data.reading import read_runs, runs_from_frame

pytestmark = pytest.mark.nuts
LAWS = ("chinchilla", "kaplan")


def _kaplan_runs():
    from bayescale.decisions.simulation import simulate_isoflop
    from bayescale.laws.law_file import load_law

    kaplan = {"Nc": 6.4e13, "Dc": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103}
    return runs_from_frame(simulate_isoflop(load_law("kaplan"), kaplan, np.logspace(18, 21, 4), seed=11))


@pytest.fixture(scope="module", params=["chinchilla", "kaplan"])
def generated(request):
    """(true law, runs it generated, {law: fit})."""
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import fit

    runs = read_runs(ROOT / "data" / "example_runs.csv") if request.param == "chinchilla" else _kaplan_runs()
    fits = {law: fit(runs, law, settings=SamplerSettings(seed=2, progressbar=False)) for law in LAWS}
    return request.param, runs, fits


def test_loo_prefers_the_generating_law(generated):
    from bayescale.decisions.comparison import compare_fits

    truth, _, fits = generated
    assert all(f.gates.passed for f in fits.values()), {k: str(f.gates) for k, f in fits.items()}
    table = compare_fits(list(fits.values())).table
    assert table.index[0] == truth
    other = next(law for law in LAWS if law != truth)
    assert table.loc[other, "elpd_diff"] < -2 * table.loc[other, "dse"]
    assert table.loc[truth, "weight"] > 0.9


def test_backtest_prefers_the_generating_law(generated):
    from bayescale.decisions.backtesting import backtest
    from bayescale.inference.sampling import SamplerSettings

    truth, runs, _ = generated
    result = backtest(runs, list(LAWS), holdout_top=0.25, settings=SamplerSettings(seed=3, progressbar=False))
    table = result.table
    other = next(law for law in LAWS if law != truth)
    assert table.loc[truth, "elpd"] > table.loc[other, "elpd"]
    assert table.loc[truth, "median_rel_error"] < table.loc[other, "median_rel_error"]
