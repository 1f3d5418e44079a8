"""Calibration as an output: result objects without a sampler, then one small real run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import fake_fit

from bayescale.decisions.calibration import Calibration, _coverage, calibrate
from bayescale.decisions.sensitivity import scaled_priors
from bayescale.errors import BayescaleError, FitFileError

SIMULATED = {"simulations": 20, "converged_refits": 19, "budgets": [1e23],
             "N_opt": {"coverage": 0.9, "mc_se": 0.07}, "holdout_loss": {"coverage": 0.95, "mc_se": 0.03},
             "parameters": {"E": {"coverage": 0.85, "mc_se": 0.08}}}
BACKTEST = {"coverage": 0.8, "mean_width": 0.06, "interval_score": 0.13, "elpd_per_run": 2.9, "median_rel_error": 0.01,
            "runs": 60, "rolling": [{"cutoff": 3.8e20, "n_train": 150, "n_holdout": 20, "coverage": 0.9, "mean_width": 0.06,
                                     "interval_score": 0.15, "elpd_per_run": 3.2, "median_rel_error": 0.01}]}


def test_coverage_and_its_monte_carlo_error():
    out = _coverage([1, 1, 0, 1])
    assert out["coverage"] == 0.75 and out["mc_se"] == pytest.approx(0.5 / 2, rel=1e-9)
    # every simulation covered: the error is bounded by one simulation in K, not zero
    assert _coverage([1.0] * 25)["mc_se"] == pytest.approx(np.sqrt(1 / 25 / 25))
    assert _coverage([np.nan]) == {}


def test_saved_calibration_reads_back_and_prints_what_matters(tmp_path):
    result = Calibration(SIMULATED, BACKTEST, False, 0.95, "abc123", "discrepancy", {"priors x2": {"N_opt@1e+23": 0.02}})
    path = result.save(tmp_path / "cal.json")
    again = Calibration.load(path)
    assert again == result
    text = str(again)
    assert "WARNING" in text and "did not pass" in text  # an unconverged fit says so
    assert "coverage 0.90 ± 0.07" in text and "+2.0%" in text and "20 simulations" in text
    assert "verdict: No interval fell far short of 95%" in text  # 0.8 of 60 runs: within the margin
    assert "nan" not in text  # a calibration saved before backtests said how far they reached
    data = json.loads(path.read_text())
    assert data["simulated"]["N_opt"]["coverage"] == 0.9 and data["converged"] is False
    assert data["verdicts"] == ["No interval fell far short of 95%: within 0.15 of it on your runs, within Monte-Carlo error in simulation."]


def test_a_foreign_json_is_not_a_calibration(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"laws": {}}')
    with pytest.raises(FitFileError, match="not a bayescale calibration"):
        Calibration.load(path)
    path.write_text('{"kind": "bayescale calibration", "schema": 9}')
    with pytest.raises(FitFileError, match="newer bayescale"):
        Calibration.load(path)


def test_sensitivity_scales_every_prior_width():
    from bayescale.laws.law_file import load_law

    law = load_law("chinchilla")
    wide = scaled_priors(law, 2.0)
    assert wide["E"]["sigma"] == pytest.approx(2 * law.priors["E"].args["sigma"])
    assert wide["sigma"]["sigma"] == pytest.approx(2 * law.priors["sigma"].args["sigma"])
    assert law.with_priors(wide).priors["alpha"].args["mu"] == law.priors["alpha"].args["mu"]


def _calibration_data(backtest_runs=60, backtest_coverage=0.93, parameter_coverage=0.85, mc_se=0.08):
    simulated = {**SIMULATED, "parameters": {"E": {"coverage": parameter_coverage, "mc_se": mc_se}}}
    return {"prob": 0.95, "noise": "discrepancy", "simulated": simulated,
            "backtest": {**BACKTEST, "runs": backtest_runs, "coverage": backtest_coverage}}


def test_verdicts_name_intervals_that_hold_less_often_than_they_claim():
    from bayescale.decisions.verdicts import verdicts

    fine = ["No interval fell far short of 95%: within 0.15 of it on your runs, within Monte-Carlo error in simulation."]
    assert verdicts(_calibration_data()) == fine
    (narrow,) = verdicts(_calibration_data(backtest_coverage=0.6))  # Porian 11 under leave-one-ladder-out
    assert "held 60% of the held-out runs (60 scores from 1 origins)" in narrow and "too narrow" in narrow
    assert "Read them as a lower bound" in narrow and "--noise discrepancy" not in narrow  # already the default
    (normal,) = verdicts({**_calibration_data(backtest_coverage=0.6), "noise": "normal"})
    assert "Refit with the default error model (--noise discrepancy)" in normal and "then read them" in normal
    assert verdicts(_calibration_data(backtest_coverage=0.82)) == fine  # within the 0.15 margin
    assert verdicts(_calibration_data(backtest_runs=4, backtest_coverage=0.5)) == fine + [
        "The backtest scored only 4 held-out runs: too few to judge the intervals beyond your runs."]
    (weak,) = verdicts(_calibration_data(parameter_coverage=0.7, mc_se=0.05))  # 0.7 + 2 x 0.05 < 0.90
    assert "parameter E (0.70 ± 0.05)" in weak
    assert verdicts(_calibration_data(parameter_coverage=0.8, mc_se=0.06)) == fine


def test_a_verdict_names_n_star_intervals_that_missed_held_out_minima():
    from bayescale.decisions.verdicts import verdicts

    data = _calibration_data()
    data["backtest"]["vertices"] = {"budgets": 9, "N_opt": {"inside": 0.67, "within_error": 0.67},
                                    "N_opt_predictive": {"inside": 1.0, "within_error": 1.0}}
    assert verdicts(data)[0].startswith("No interval fell far short")  # the printed (predictive) N* held them
    data["backtest"]["vertices"]["N_opt_predictive"] = {"inside": 0.56, "within_error": 0.67}
    (missed,) = verdicts(data)
    assert "interval of N* held 56% of the held-out isoFLOP curves' minima (9" in missed
    data["backtest"]["vertices"]["budgets"] = 2  # too few to judge
    assert verdicts(data)[0].startswith("No interval fell far short")


def test_a_verdict_says_how_far_the_backtest_could_check():
    from bayescale.decisions.verdicts import verdicts

    data = _calibration_data()
    data["backtest"] |= {"reach": 0.6, "largest_run": 1e21}  # SIMULATED's budget 1e23: 2 decades out
    fine, far = verdicts(data)
    assert fine.startswith("No interval fell far short")
    assert "reached 0.6 decades" in far and "1e+23 lies 2 decades beyond your largest run" in far
    data["backtest"]["reach"] = 1.8  # within half a decade of the budget: nothing to add
    assert verdicts(data) == [fine]


def test_a_table_too_small_to_hold_out_is_refused():
    from dataclasses import replace

    fit = fake_fit()
    frame = fit.runs.frame.sort_values("C")
    small = replace(fit.runs, frame=frame.iloc[:: len(frame) // 7].reset_index(drop=True))
    assert small.frame["C"].nunique() > 3
    with pytest.raises(BayescaleError, match="too small to hold anything out"):
        calibrate(fake_fit(small), simulations=2)
    with pytest.raises(BayescaleError, match="--simulations"):
        calibrate(fit, simulations=1)


def test_refits_are_normalized_like_the_fit_their_truth_comes_from(monkeypatch):
    """A truth drawn from a fit of every run is compared with refits of a subset: both must use the
    fit's reference scales (compute_power's L0, the loss at C_ref, once covered 0 of 8 truths)."""
    import bayescale.results.fitting as fitting
    from bayescale.decisions.calibration import _simulate_one

    fit = fake_fit()
    seen = {}

    class Stop(Exception):
        pass

    def refit(runs, law, **kwargs):
        seen["scales"], seen["runs"] = kwargs.get("scales"), runs.n_runs
        raise Stop

    monkeypatch.setattr(fitting, "fit", refit)
    truth = {k: float(np.asarray(v).ravel()[0]) for k, v in fit.draws().items()}
    with pytest.raises(Stop):
        _simulate_one((fit.law, fit.runs, fit.scales, truth, None, 0.25, None, 0.95, 0, False))
    assert seen["scales"] == fit.scales and seen["runs"] < fit.runs.n_runs


@pytest.mark.nuts
def test_calibrate_refits_synthetic_tables_and_backtests(tmp_path):
    from bayescale.inference.sampling import SamplerSettings

    quick = SamplerSettings(chains=4, draws=300, tune=300)
    result = calibrate(fake_fit(), simulations=2, bins=1, seed=3, settings=quick)
    data = result.to_dict()
    assert data["simulated"]["simulations"] == 2 and set(data["simulated"]["parameters"]) == {"E", "A", "alpha", "B", "beta", "sigma"}
    # the default error model has a miss: the predictive N* it prints is calibrated too
    for entry in [data["simulated"]["N_opt"], data["simulated"]["N_opt_predictive"], data["simulated"]["holdout_loss"],
                  *data["simulated"]["parameters"].values()]:
        assert 0.0 <= entry["coverage"] <= 1.0 and entry["mc_se"] > 0
    assert len(data["backtest"]["rolling"]) == 1 and data["backtest"]["runs"] > 0
    assert data["backtest"]["interval_score"] >= data["backtest"]["mean_width"] > 0


def test_backtest_json_keeps_its_shape_and_adds_rolling_origins(tmp_path):
    import pandas as pd

    from bayescale.decisions.backtesting import Backtest

    table = pd.DataFrame({"chinchilla": {"elpd": 10.0, "elpd_per_run": 2.0, "coverage": 0.9, "mean_width": 0.1,
                                         "interval_score": 0.2, "median_rel_error": 0.01, "gates": True}}).T
    plain = Backtest(table, 1e21, 40, 5, 0.95)
    assert "rolling" not in plain.to_dict() and plain.to_dict()["laws"]["chinchilla"]["interval_score"] == 0.2
    rolled = Backtest(table, 1e21, 40, 5, 0.95, {"chinchilla": BACKTEST})
    assert rolled.to_dict()["rolling"]["chinchilla"]["rolling"][0]["cutoff"] == 3.8e20
    assert "rolling origins, chinchilla" in str(rolled) and "isoFLOP" not in str(rolled)
    with_minima = Backtest(table, 1e21, 40, 5, 0.95, {"chinchilla": BACKTEST | {"vertices": {
        "budgets": 4, "N_opt": {"inside": 0.5, "within_error": 0.75}}}})
    assert "minima of 4 held-out isoFLOP curves inside the 95% interval of N*: the law's 50%" in str(with_minima)
    saved = json.loads(rolled.save(tmp_path / "bt.json").read_text())
    assert saved["kind"] == "bayescale backtest" and saved["laws"]["chinchilla"]["gates"] is True


def test_rolling_origins_score_every_run_above_them_and_say_how_far(monkeypatch):
    """Each origin scores every run from its bin up, so the first reaches as far as the runs do
    (scoring only the next bin tested one step of compute beyond the fit)."""
    import bayescale.decisions.backtesting as backtesting
    import bayescale.results.fitting as fitting
    from bayescale.inference.sampling import SamplerSettings

    fit = fake_fit()
    seen = []

    def score(fitted, held, prob):
        seen.append((fitted.runs.C.max(), held.C.min(), held.n_runs))
        return {"coverage": 1.0, "mean_width": 0.1, "interval_score": 0.1, "elpd_per_run": 2.0, "median_rel_error": 0.01}

    monkeypatch.setattr(fitting, "fit", lambda train, law, **kwargs: fake_fit(train))  # no sampler
    monkeypatch.setattr(backtesting, "score_holdout", score)
    result = backtesting.rolling_backtest(fit.runs, fit.law, 3, 0.25, SamplerSettings(), workers=1)
    top = fit.runs.C.max()
    assert len(seen) == len(result["rolling"]) >= 2
    for (train_top, held_bottom, n_held), origin in zip(seen, result["rolling"]):
        assert train_top < origin["cutoff"] <= held_bottom
        assert n_held == int((fit.runs.C >= origin["cutoff"]).sum())  # every run above, not one bin
        assert origin["reach"] == pytest.approx(np.log10(top / train_top))
    assert result["reach"] == max(o["reach"] for o in result["rolling"]) == result["rolling"][0]["reach"]
    assert result["runs"] == sum(n for _, _, n in seen)
    # the fake runs are isoFLOP grids: each origin also scores its held-out curves' minima against N*
    assert result["vertices"]["budgets"] == sum(o["vertices"]["budgets"] for o in result["rolling"]) >= 2
    assert 0.0 <= result["vertices"]["N_opt"]["inside"] <= 1.0


def test_a_law_with_unique_tokens_is_not_asked_for_an_optimum_in_the_backtest(monkeypatch):
    """Its optimum needs the unique tokens available, which a backtest origin does not have."""
    import bayescale.decisions.backtesting as backtesting
    import bayescale.results.fitting as fitting
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.laws.law_file import load_law

    fit = fake_fit()

    class NoOptimum:
        def optimum(self, *args, **kwargs):
            raise AssertionError("asked a data-constrained fit for an optimum without U")

    monkeypatch.setattr(fitting, "fit", lambda train, law, **kwargs: NoOptimum())
    monkeypatch.setattr(backtesting, "score_holdout", lambda fitted, held, prob: {"coverage": 1.0})
    train, held = fit.runs, fit.runs
    out = backtesting._score_origin((load_law("data_constrained"), train, held, SamplerSettings(), 0.95, 1e20))
    assert out["coverage"] == 1.0 and "vertices" not in out


def test_the_n_star_line_reads_as_a_sentence():
    from bayescale.decisions.verdicts import vertex_text

    one = vertex_text({"budgets": 1, "N_opt": {"inside": 0.0, "within_error": 0.0}}, "95%")
    assert one == "the minimum of 1 held-out isoFLOP curve inside the 95% interval of N*: the law's 0% (within its error 0%)"
    nine = vertex_text({"budgets": 9, "N_opt": {"inside": 2 / 3, "within_error": 2 / 3},
                        "N_opt_predictive": {"inside": 1.0, "within_error": 1.0}}, "95%")
    assert nine.startswith("minima of 9 held-out isoFLOP curves") and nine.endswith("with the law's miss 100% (within its error 100%)")
