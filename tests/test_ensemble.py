"""Law uncertainty: stacking weights and the mixture of several laws' optima, without a sampler."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fake_fit

from bayescale.decisions.comparison import CompareError
from bayescale.decisions.ensemble import Ensemble, ensemble, stacking_weights
from bayescale.results.optimum import Optimum


def test_stacking_puts_the_weight_on_the_model_that_predicts_better():
    rng = np.random.default_rng(0)
    good = -0.5 * rng.standard_normal(200) ** 2
    w = stacking_weights(np.stack([good, good - 3.0], axis=1))
    assert w.sum() == pytest.approx(1.0) and w[0] > 0.97


def test_stacking_mixes_models_that_are_each_right_somewhere():
    lpd = np.array([[0.0, -5.0]] * 50 + [[-5.0, 0.0]] * 50)
    np.testing.assert_allclose(stacking_weights(lpd), [0.5, 0.5], atol=0.02)


def _optimum(center: float, spread: float, n: int = 4000, seed: int = 0) -> Optimum:
    rng = np.random.default_rng(seed)
    n_opt = center * np.exp(spread * rng.standard_normal((n, 1)))
    d_opt = 1e23 / (6 * n_opt)
    loss = 2.0 + 0.01 * rng.standard_normal((n, 1))
    return Optimum(np.array([1e23]), n_opt, d_opt, loss, d_opt / n_opt, "closed form", "nats/token", None, loss)


def test_law_share_is_near_zero_when_laws_agree_and_large_when_they_do_not():
    same = Ensemble(_optimum(1e10, 0.1), {"a": 0.5, "b": 0.5}, "loo", {"a": _optimum(1e10, 0.1, seed=1), "b": _optimum(1e10, 0.1, seed=2)})
    assert same.law_share()[0]["N_opt"] < 0.1
    a, b = _optimum(1e10, 0.05, 2000, 1), _optimum(4e10, 0.05, 2000, 2)
    mixture = Optimum(a.compute, *(np.concatenate([getattr(a, k), getattr(b, k)]) for k in ("N_opt", "D_opt", "L_opt", "tokens_per_param")),
                      "stacked mixture of laws", "nats/token", None, np.concatenate([a.L_opt, b.L_opt]))
    apart = Ensemble(mixture, {"a": 0.5, "b": 0.5}, "loo", {"a": a, "b": b})
    assert apart.law_share()[0]["N_opt"] > 0.8
    record = apart.to_records()[0]
    assert record["weights"] == {"a": 0.5, "b": 0.5} and record["weights_from"] == "loo" and "L_opt_predictive" in record
    assert "the choice of law is" in str(apart)


def test_ensemble_of_two_fits_to_the_same_runs():
    one, other = fake_fit(seed=1), fake_fit(seed=2, spread=0.03)
    result = ensemble([one, other], [1e22, 1e23])
    assert result.optimum.N_opt.shape == (4000, 2)
    assert sum(result.weights.values()) == pytest.approx(1.0)
    lo = min(np.quantile(f.optimum([1e23]).N_opt, 0.1) for f in (one, other))
    hi = max(np.quantile(f.optimum([1e23]).N_opt, 0.9) for f in (one, other))
    assert lo < np.median(result.optimum.N_opt[:, 1]) < hi


def test_the_mixture_carries_the_predictive_optimum_where_a_law_has_a_miss():
    """A fit whose error model has a miss contributes its surface's optimum to the mixture's
    N_opt_predictive; a fit without one (``normal``) contributes its law's N*."""
    with_miss, without = fake_fit(seed=1), fake_fit(seed=2, noise="normal")
    far = float(np.max(with_miss.runs.C)) * 100
    two_normal = ensemble([without, fake_fit(seed=3, noise="normal")], [far], weights=[0.5, 0.5]).optimum
    assert two_normal.N_opt_predictive is None
    mixed = ensemble([with_miss, without], [far], weights=[1.0, 0.0]).optimum
    law, moved = (np.log(x[:, 0]) for x in (mixed.N_opt, mixed.N_opt_predictive))
    assert np.std(moved) > 1.5 * np.std(law)  # all weight on the fit with a miss: its surface's spread
    only_normal = ensemble([with_miss, without], [far], weights=[0.0, 1.0]).optimum
    np.testing.assert_array_equal(only_normal.N_opt_predictive, only_normal.N_opt)


def test_incompatible_fits_are_refused():
    from dataclasses import replace

    fit = fake_fit()
    with pytest.raises(CompareError, match="at least two"):
        ensemble([fit], [1e23])
    with pytest.raises(CompareError, match="given twice"):
        ensemble([fit, fit], [1e23])
    fewer = replace(fit.runs, frame=fit.runs.frame.iloc[:40].reset_index(drop=True))
    with pytest.raises(CompareError, match="different runs"):
        ensemble([fit, fake_fit(fewer, seed=4)], [1e23])


def test_known_weights_are_used_as_given_without_recomputing_loo(monkeypatch):
    import bayescale.decisions.ensemble as module

    a, b = fake_fit(seed=1), fake_fit(seed=2)
    monkeypatch.setattr(module, "loo_weights", lambda fits: pytest.fail("LOO recomputed"))
    mixed = ensemble([a, b], [1e23], weights=[3.0, 1.0])
    assert list(mixed.weights.values()) == pytest.approx([0.75, 0.25]) and "the caller" in mixed.format()
    with pytest.raises(Exception, match="one per fit"):
        ensemble([a, b], [1e23], weights=[1.0])


def test_leave_future_out_weights_of_laws_come_from_the_held_out_losses(monkeypatch):
    """Each law refitted below the top quarter (here: itself) and scored on the held-out runs'
    losses; the law whose held-out density is higher takes the weight. No sampler: the refit and
    the held-out density are replaced."""
    import bayescale.decisions.backtesting as backtesting
    import bayescale.results.fitting as fitting

    a, b = fake_fit(seed=1), fake_fit(seed=2, noise="normal")
    monkeypatch.setattr(fitting, "fit", lambda train, law, **_: a if law.noise == a.law.noise else b)
    held = {id(a): 1.0, id(b): -2.0}
    monkeypatch.setattr(backtesting, "holdout_lpd", lambda fit, runs: np.full(runs.n_runs, held[id(fit)]))
    mixed = ensemble([a, b], [1e23], weights="lfo")
    assert mixed.method == "lfo" and list(mixed.weights.values())[0] > 0.99 and mixed.loss_weights is None
