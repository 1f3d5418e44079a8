"""An isoFLOP analysis weighed against fits of laws (issue 9, item 3), without a sampler.

The fake analysis is the least-squares parabola of each budget of the example runs, its draws
scattered a little about it; the fits of laws are ``conftest.fake_fit`` of the same runs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import ROOT, fake_fit

from bayescale.data.reading import read_runs
from bayescale.decisions.comparison import CompareError, compare_fits
from bayescale.decisions.ensemble import ensemble
from bayescale.decisions.isoflop import IsoflopFit, bin_budgets, budget_centres
from bayescale.errors import BayescaleError
from bayescale.inference.gates import Gates
from bayescale.results.optimum import Optimum

EXAMPLE = ROOT / "data" / "example_runs.csv"
SAMPLES = 400


def fake_isoflop(runs=None, seed: int = 0) -> IsoflopFit:
    runs = runs or read_runs(EXAMPLE)
    ids = bin_budgets(runs.C, 0.05)
    centres = budget_centres(runs.C, ids)
    vertex, bottom, curve = [], [], []
    for b in range(centres.size):
        x, y = np.log(runs.N[ids == b]), np.log(runs.loss[ids == b])
        c2, c1, c0 = np.polyfit(x, y, 2)
        vertex.append(-c1 / (2 * c2))
        bottom.append(c0 - c1**2 / (4 * c2))
        curve.append(c2)
    rng = np.random.default_rng(seed)
    jitter = lambda scale, shape: scale * rng.standard_normal(shape)  # noqa: E731
    a, g = np.polyfit(np.log(centres), vertex, 1)
    a = a + jitter(0.01, SAMPLES)
    n_opt = np.exp(np.array(vertex)[None, :] + jitter(0.02, (SAMPLES, centres.size)))
    return IsoflopFit(
        a=a, b=1 - a, G=np.exp(g + jitter(0.05, SAMPLES)), A=np.full(SAMPLES, 1.0), tau=np.full(SAMPLES, 0.04),
        sigma=np.full(SAMPLES, 0.01) * np.exp(jitter(0.05, SAMPLES)), budgets=centres,
        runs_per_budget=np.bincount(ids), N_opt=n_opt, D_opt=centres / (6 * n_opt),
        L_opt=np.exp(np.array(bottom)[None, :] + jitter(0.002, (SAMPLES, centres.size))), tolerance=0.05,
        gates=Gates({"a": 1.001}, {"a": 900.0}, 0),
        provenance={"data_source": runs.source, "data_hash": runs.data_hash, "id": f"iso{seed:09d}",
                    "sampler": {"chains": 4}},
        k=np.array(curve)[None, :] * np.exp(jitter(0.02, (SAMPLES, centres.size))), runs=runs,
        budget_index=ids.astype(np.int64))


def test_its_log_density_is_the_isoflop_models_at_the_same_parameters():
    """The density read back in physical units is the PyMC model's, in normalized units."""
    import pymc as pm

    from bayescale.decisions.isoflop import DEFAULT_PRIORS
    from bayescale.inference.model import OBSERVED, build_isoflop_model

    result = fake_isoflop()
    runs, ids = result.runs, result.budget_index
    n_ref, l_ref, c_ref = np.log(runs.N).mean(), np.log(runs.loss).mean(), np.log(result.budgets).mean()
    model = build_isoflop_model(np.log(runs.N) - n_ref, np.log(runs.loss) - l_ref, ids,
                                np.log(result.budgets) - c_ref, DEFAULT_PRIORS)
    i, tau = 7, 0.04
    log_n_opt = np.log(result.N_opt[i])
    a, g = 0.5, 0.1  # z absorbs whatever the line misses: m = g + a c + tau z is the vertex exactly
    z = (log_n_opt - n_ref - g - a * (np.log(result.budgets) - c_ref)) / tau
    point = {"a": a, "g": g, "tau": tau, "sigma": result.sigma[i], "h": np.log(result.L_opt[i]) - l_ref,
             "k": result.k[i], "z": z}
    logp = pm.logp(model[OBSERVED], np.log(runs.loss) - l_ref)
    expected = logp.eval({model[name]: np.asarray(value) for name, value in point.items()})
    # log loss and normalized log loss differ by a shift: the densities are the same
    np.testing.assert_allclose(result.log_likelihood()[i], expected, rtol=1e-9)


def test_it_is_compared_and_stacked_with_fits_of_the_same_runs():
    iso, law = fake_isoflop(), fake_fit(seed=1)
    table = compare_fits([law, iso]).table
    assert set(table.index) == {"chinchilla", "isoflop"} and table["weight"].sum() == pytest.approx(1.0)
    mixed = ensemble([law, iso], [1e21, 1e22], weights=[0.5, 0.5])
    assert mixed.loss_weights == {"chinchilla": 1.0, "isoflop": 0.0}
    # L* comes from the law alone: the mixture's L* is the law's, N* lies between the two answers
    own = law.optimum([1e21, 1e22])
    assert np.median(mixed.optimum.L_opt[:, 1]) == pytest.approx(np.median(own.L_opt[:, 1]), rel=2e-3)
    iso_line = np.median(iso.optimum([1e22]).N_opt)
    lo, hi = sorted([iso_line, np.median(own.N_opt[:, 1])])
    assert lo < np.median(mixed.optimum.N_opt[:, 1]) < hi
    assert not np.isnan(mixed.optimum.L_opt).any()
    assert "stacked over 2 models" in mixed.format() and "L* from the laws alone" in mixed.format() and mixed.to_records()[0]["loss_weights"]["isoflop"] == 0.0


def test_its_optimum_at_a_new_budget_is_the_line_scattered_by_tau_and_widened():
    """The predictive N* is the line plus tau's scatter, its spread widened by the shipped factor
    (learned on the Porian sweeps by bench/isoflop_extrapolation.py); here the line is nearly fixed,
    so the spread is about tau times the factor."""
    from bayescale.decisions.isoflop_weigh import spread_factor

    assert 1.2 < spread_factor() < 2.5
    iso = replace(fake_isoflop(), a=np.full(SAMPLES, 0.5), G=np.full(SAMPLES, 0.1))
    opt = iso.optimum([1e23], seed=3)
    np.testing.assert_allclose(opt.N_opt, iso.at([1e23])[0])
    spread = np.std(np.log(opt.N_opt_predictive / opt.N_opt))
    assert spread == pytest.approx(0.04 * spread_factor(), rel=0.1) and np.isnan(opt.L_opt).all()
    np.testing.assert_allclose(opt.D_opt_predictive * opt.N_opt_predictive * 6, 1e23, rtol=1e-9)


def test_what_it_cannot_weigh_is_refused_with_the_reason():
    law, iso = fake_fit(seed=1), fake_isoflop()
    with pytest.raises(BayescaleError, match="at least one fit of a law"):
        ensemble([iso, fake_isoflop(seed=2)], [1e21])
    with pytest.raises(BayescaleError, match="give a law some weight"):
        ensemble([law, iso], [1e21], weights=[0.0, 1.0])
    with pytest.raises(CompareError, match="different runs"):
        ensemble([fake_fit(replace(law.runs, frame=law.runs.frame.iloc[:-9].reset_index(drop=True))), iso], [1e21])


def test_where_the_analysis_left_budgets_out_every_model_is_weighed_on_the_runs_all_explain():
    law, iso = fake_fit(seed=1), fake_isoflop()
    left_out = replace(iso, budget_index=np.where(iso.budget_index == 0, -1, iso.budget_index))
    whole, part = compare_fits([law, iso]), compare_fits([law, left_out])
    assert "weighed on the 54 of 63 runs" in part.warnings[0] and not any("weighed on" in w for w in whole.warnings)
    # each model's elpd now sums the 54 runs' terms: the law's loses what its 9 left-out runs added
    law_runs = np.asarray(law.psis_loo.elpd_i)
    kept = left_out.budget_index >= 0
    assert part.table.loc["chinchilla", "elpd_loo"] == pytest.approx(law_runs[kept].sum(), rel=1e-6)
    assert whole.table.loc["chinchilla", "elpd_loo"] == pytest.approx(law_runs.sum(), rel=1e-6)
    mixed = ensemble([law, left_out], [1e22])
    assert any("54 of 63" in note for note in mixed.notes)


def test_a_saved_analysis_keeps_what_weighs_it_and_old_files_still_load(tmp_path):
    iso = fake_isoflop()
    loaded = IsoflopFit.load(iso.save(tmp_path / "iso.nc"))
    assert loaded.runs.data_hash == iso.runs.data_hash and loaded.runs.source == iso.runs.source
    np.testing.assert_array_equal(loaded.budget_index, iso.budget_index)
    np.testing.assert_allclose(loaded.log_likelihood(), iso.log_likelihood())
    old = IsoflopFit.load(ROOT / "tests" / "data" / "isoflop_schema1.nc")  # written by isoFLOP schema 1
    assert old.k is None and old.runs is None and old.budgets.size == 3 and old.id == "0123456789ab"
    with pytest.raises(CompareError, match="saved without its runs"):
        compare_fits([fake_fit(), old])


def test_a_damaged_analysis_file_is_refused_with_what_it_lacks(tmp_path, capsys):
    import xarray as xr

    from bayescale.cli import main

    xr.Dataset({"x": ("a", [1.0])}, attrs={"bayescale_isoflop": 2}).to_netcdf(tmp_path / "bad.nc", engine="h5netcdf")
    law = fake_fit(seed=1).save(tmp_path / "law.nc")
    for argv in (["compare", str(law), str(tmp_path / "bad.nc")], ["isoflop", str(tmp_path / "bad.nc")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "lacks A, D_opt" in err and "damaged" in err and "Traceback" not in err


def test_the_cli_stacks_an_analysis_file_with_fit_files(tmp_path, capsys):
    from bayescale.cli import main

    law, iso = fake_fit(seed=1).save(tmp_path / "law.nc"), fake_isoflop().save(tmp_path / "iso.nc")
    assert main(["compare", str(law), str(iso), "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["fits"]) == {"chinchilla", "isoflop"}
    assert main(["optimum", str(law), str(iso), "--compute", "1e22", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert set(record["weights"]) == {"chinchilla", "isoflop"} and record["loss_weights"]["chinchilla"] == 1.0
    assert "PSIS-LOO weighs how well" in record["notes"][0]
    # alone, an analysis answers with its power law and a new sweep's minimum: no NaN loss, valid JSON
    assert main(["optimum", str(iso), "--compute", "1e22", "--json"]) == 0
    (alone,) = json.loads(capsys.readouterr().out)
    assert "N_opt_predictive" in alone and "L_opt" not in alone
    assert main(["optimum", str(iso), "--compute", "1e22"]) == 0
    out = capsys.readouterr().out
    assert "(the power law)" in out and "nan" not in out and "the law and its miss" not in out
    assert main(["optimum", str(iso), "--compute", "1e22", "--law-only"]) == 2


def test_leave_future_out_weighs_by_the_held_out_minima(monkeypatch, caplog):
    """With an isoFLOP analysis, lfo refits each model below the top budgets and scores its N* at
    the held-out curves' minima: the model whose N* lies there gets the weight. The refits are
    replaced by their answers (a sampler is not needed to test the bookkeeping)."""
    import bayescale.decisions.isoflop as isoflop
    import bayescale.results.fitting as fitting
    from bayescale.decisions.vertices import held_out_vertices

    law, iso = fake_fit(seed=1), fake_isoflop()
    held = replace(law.runs, frame=law.runs.frame[law.runs.C >= 1e20].reset_index(drop=True))
    (vertex,) = held_out_vertices(held)  # the example's top budget is an isoFLOP curve
    right = np.exp(vertex[1] + 0.02 * np.random.default_rng(0).standard_normal((400, 1)))

    class Answer:
        def __init__(self, n, passed=True):
            self.n = n
            self.gates = SimpleNamespace(passed=passed)

        def optimum(self, budgets, **_):
            return Optimum(np.asarray(budgets), self.n, self.n, self.n, self.n, "fake")

    import bayescale.decisions.backtesting as backtesting

    monkeypatch.setattr(backtesting, "holdout_lpd", lambda fit, held: np.zeros(held.n_runs))  # the law's L* weight
    monkeypatch.setattr(fitting, "fit", lambda *a, **k: Answer(right))  # the law's N* is right
    monkeypatch.setattr(isoflop, "fit_isoflop", lambda *a, **k: Answer(right * 3.0))  # the analysis's, 3× off
    mixed = ensemble([law, iso], [1e22], weights="lfo", holdout_top=0.15)
    assert mixed.weights["chinchilla"] > 0.95 and mixed.method == "lfo"
    assert mixed.loss_weights == {"chinchilla": 1.0, "isoflop": 0.0}  # one law: L* is all its own
    assert "rest on 1 held-out isoFLOP minimum" in mixed.notes[0]  # the example holds out one curve
    monkeypatch.setattr(fitting, "fit", lambda *a, **k: Answer(right / 3.0))
    monkeypatch.setattr(isoflop, "fit_isoflop", lambda *a, **k: Answer(right))
    assert ensemble([law, iso], [1e22], weights="lfo", holdout_top=0.15).weights["isoflop"] > 0.95
    # the refits' own notes are held back: they concern fits the reader did not ask for
    def noisy(*a, **k):
        logging.getLogger("bayescale.results").warning("fitting the law again to the other 37")
        return Answer(right)

    monkeypatch.setattr(fitting, "fit", noisy)
    with caplog.at_level(logging.WARNING, logger="bayescale"):
        ensemble([law, iso], [1e22], weights="lfo", holdout_top=0.15)
    assert "fitting the law again" not in caplog.text
    assert logging.getLogger("bayescale").level != logging.ERROR  # and the level is restored
    # a refit that fails its gates is named, since the weight rests on it
    monkeypatch.setattr(isoflop, "fit_isoflop", lambda *a, **k: Answer(right, passed=False))
    notes = ensemble([law, iso], [1e22], weights="lfo", holdout_top=0.15).notes
    assert any("refit of the isoFLOP analysis did not pass the convergence gates" in n for n in notes)
    frame = law.runs.frame
    top = frame.C >= 1e20
    largest = frame.N[top].sort_values().iloc[-3]  # the top budget keeps 3 sizes: a parabola, no curve to score
    short = replace(law.runs, frame=frame[~top | (frame.N >= largest)].reset_index(drop=True))
    assert not held_out_vertices(replace(short, frame=short.frame[short.frame.C >= 1e20].reset_index(drop=True)))
    with pytest.raises(BayescaleError, match="no budget at or above .* is one"):
        ensemble([fake_fit(short, seed=1), fake_isoflop(short)], [1e22], weights="lfo", holdout_top=0.03)


def test_a_vertex_is_likelier_under_draws_near_it_and_its_own_error_widens_them():
    from bayescale.decisions.vertices import vertex_log_density

    draws = np.exp(np.random.default_rng(1).normal(20.0, 0.1, (2000, 1)))
    near, far = (vertex_log_density(draws, [(1e21, x, 0.0)])[0] for x in (20.0, 20.5))
    assert near > far + 10
    assert vertex_log_density(draws, [(1e21, 20.5, 0.3)])[0] > far  # an uncertain vertex: less surprising
    assert vertex_log_density(np.full((5, 1), np.nan), [(1e21, 20.0, 0.1)])[0] == -700.0


def test_the_backtest_checks_the_predictive_n_star_against_the_held_out_minimum(monkeypatch, tmp_path, capsys):
    """Refits are replaced by analyses whose N* is known: centred on the example's top-budget
    minimum it is inside; three times off, outside, and the verdict says to read N* as less certain."""
    import bayescale.decisions.isoflop as isoflop
    from bayescale.cli import main
    from bayescale.decisions.isoflop_backtest import backtest_isoflop
    from bayescale.decisions.vertices import held_out_vertices

    iso = fake_isoflop()
    runs = iso.runs
    ((_, log_vertex, _),) = held_out_vertices(replace(runs, frame=runs.frame[runs.C >= 1e20].reset_index(drop=True)))

    def refit_at(log_n):  # an analysis whose power law passes through log_n at 1e20
        def refit(train, **_):
            a = np.full(SAMPLES, 0.5)
            return replace(iso, a=a, G=np.exp(log_n - 0.5 * np.log(1e20)) * np.ones(SAMPLES), budgets=np.unique(train.C))
        return refit

    monkeypatch.setattr(isoflop, "fit_isoflop", refit_at(log_vertex))
    good = backtest_isoflop(runs)
    assert good.held == 2 and [r["held"] for r in good.rows] == [1, 2] and "2 of 2 held-out minima inside" in str(good)
    assert good.rows[1]["times"] == pytest.approx(10.0, rel=0.05)  # two budgets (half a decade each) held out
    monkeypatch.setattr(isoflop, "fit_isoflop", refit_at(log_vertex + np.log(3.0)))
    bad = backtest_isoflop(runs)
    assert bad.held == 0 and "OUTSIDE" in str(bad) and "less certain than printed" in str(bad)
    path = iso.save(tmp_path / "iso.nc")
    assert main(["isoflop", str(path), "--backtest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["backtest"]["scored"] == 2


def test_the_backtest_needs_a_minimum_in_the_top_budget(tmp_path, capsys):
    from bayescale.decisions.isoflop import IsoflopError
    from bayescale.decisions.isoflop_backtest import backtest_isoflop

    runs = fake_isoflop().runs
    frame = runs.frame
    top = frame.C >= 1e20
    largest = frame.N[top].sort_values().iloc[-3]
    short = replace(runs, frame=frame[~top | (frame.N >= largest)].reset_index(drop=True))
    with pytest.raises(IsoflopError, match="no minimum inside its runs"):
        backtest_isoflop(short)
    from bayescale.cli import main

    path = fake_isoflop(short).save(tmp_path / "iso.nc")
    assert main(["isoflop", str(path), "--backtest"]) == 2
    out, err = capsys.readouterr()
    assert "isoFLOP analysis" in out and "no minimum inside its runs" in err and "Traceback" not in err


def test_the_power_law_prints_the_figures_its_intervals_support():
    """The exponent to the decimals its interval's width supports (0.01 of spread: three), the
    factors G and A, which span decades, in scientific notation throughout."""
    # fails before the change: a printed to four decimals whatever its width, G in mixed notation
    result = fake_isoflop()
    a = result.to_dict()["power_law"]["a"]
    text = result.format()
    line = next(row for row in text.splitlines() if row.strip().startswith("a "))
    digits = len(line.split()[1].split(".")[1])
    assert digits == 2 - 1 - int(np.floor(np.log10(a["upper"] - a["lower"])))
    g_line = next(row for row in text.splitlines() if row.strip().startswith("G "))
    assert all("e" in number for number in g_line.replace("[", " ").replace("]", " ").replace(",", " ").split()[1:])
