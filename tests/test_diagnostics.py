"""bayescale's R-hat and bulk ESS give the numbers of arviz-stats, and the gates judge them."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bayescale.inference.diagnostics import ess_bulk, rhat
from bayescale.inference.gates import check_gates


def ar1(chains: int, draws: int, phi: float, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((chains, draws))
    noise = rng.standard_normal((chains, draws))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    x[0] += shift
    return x


@pytest.mark.parametrize("phi, shift", [(0.0, 0.0), (0.5, 0.0), (0.9, 0.0), (0.3, 1.5)])
@pytest.mark.parametrize("draws", [101, 500])
def test_same_numbers_as_arviz_stats(phi, shift, draws):
    arviz_stats = pytest.importorskip("arviz_stats")
    x = ar1(4, draws, phi, seed=draws, shift=shift)
    ds = xr.Dataset({"x": (("chain", "draw"), x)})
    assert rhat(x) == pytest.approx(float(arviz_stats.rhat(ds)["x"]), rel=1e-10)
    assert ess_bulk(x) == pytest.approx(float(arviz_stats.ess(ds, method="bulk")["x"]), rel=1e-10)


def test_ties_are_ranked_like_arviz_stats():
    arviz_stats = pytest.importorskip("arviz_stats")
    x = np.round(ar1(4, 200, 0.4, seed=1), 1)  # many ties
    ds = xr.Dataset({"x": (("chain", "draw"), x)})
    assert rhat(x) == pytest.approx(float(arviz_stats.rhat(ds)["x"]), rel=1e-10)
    assert ess_bulk(x) == pytest.approx(float(arviz_stats.ess(ds, method="bulk")["x"]), rel=1e-10)


def test_gates_flag_each_failure():
    coords = {"chain": np.arange(4), "draw": np.arange(300)}
    good = xr.Dataset({"a": (("chain", "draw"), ar1(4, 300, 0.0, seed=2))}, coords=coords)
    no_div = xr.DataArray(np.zeros((4, 300), bool), dims=("chain", "draw"))
    assert check_gates(good, no_div).passed
    sticky = xr.Dataset({"a": (("chain", "draw"), ar1(4, 300, 0.97, seed=3))}, coords=coords)
    gates = check_gates(sticky, no_div)
    assert not gates.passed and any("ESS" in f for f in gates.failures)
    shifted = xr.Dataset({"a": (("chain", "draw"), ar1(4, 300, 0.0, seed=4, shift=1.0))}, coords=coords)
    assert any("R-hat" in f for f in check_gates(shifted, no_div).failures)
    divergent = no_div.copy()
    divergent[0, 5] = True
    gates = check_gates(good, divergent)
    assert gates.divergences == 1 and "1 divergent transitions" in gates.failures



def test_sampling_retries_with_more_effort_until_the_gates_pass(monkeypatch):
    """A failed attempt (a stuck chain, divergences) is sampled again with twice the draws and
    warm-up and a higher target acceptance; every attempt is recorded; a pass stops the retries."""
    import bayescale.inference.sampling
    from bayescale.inference.converge import sample_until_converged
    from bayescale.inference.sampling import SamplerSettings

    rng = np.random.default_rng(0)
    seen = []

    def fake_sample(model, priors, settings):
        seen.append(settings)
        x = rng.standard_normal((4, settings.draws))
        diverging = np.zeros((4, settings.draws), dtype=bool)
        if len(seen) == 1:
            x[0] += 5.0  # a stuck chain
            diverging[0, :3] = True
        return xr.DataTree.from_dict({
            "posterior": xr.Dataset({"a": (("chain", "draw"), x)}),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), diverging)})})

    monkeypatch.setattr(bayescale.inference.sampling, "sample", fake_sample)
    first = SamplerSettings(draws=300, tune=200, target_accept=0.9)
    done = sample_until_converged(None, {}, ["a"], first, retries=2)
    assert len(seen) == 2 and done.gates.passed
    assert (done.settings.draws, done.settings.tune) == (600, 800)  # twice the draws, four times the warm-up
    assert done.settings.target_accept == pytest.approx(0.95)
    assert done.settings.adaptation == "low_rank"  # a retry that is not the last keeps the low-rank mass matrix
    assert [a["gates"]["passed"] for a in done.attempts] == [False, True]
    assert done.posterior["a"].shape == (4, 600)
    seen.clear()
    done = sample_until_converged(None, {}, ["a"], first, retries=1)
    assert done.settings.adaptation == "diag"  # the last retry, after divergences, uses a diagonal mass matrix
    seen.clear()
    rng = np.random.default_rng(0)
    done = sample_until_converged(None, {}, ["a"], first, retries=0)  # no retry allowed
    assert len(seen) == 1 and not done.gates.passed and len(done.attempts) == 1


def test_short_chains_that_agree_get_more_chains_pooled_not_a_fresh_start(monkeypatch):
    """A miss on bulk ESS alone (no divergences, R-hat fine) adds a batch of chains with the same
    settings and a derived seed, pooled with the first: not a longer, costlier fresh start."""
    # fails before the pooling: the retry doubled the draws and quadrupled the warm-up
    import bayescale.inference.sampling
    from bayescale.inference.converge import MAX_POOLED_BATCHES, sample_until_converged
    from bayescale.inference.sampling import SamplerSettings

    seen = []

    def fake_sample(model, priors, settings):
        seen.append(settings)
        rng = np.random.default_rng(settings.seed)
        # stationary AR(1) chains, phi = 0.7: about 0.18 effective draws per draw
        x = np.empty((4, settings.draws))
        x[:, 0] = rng.standard_normal(4)
        for t in range(1, settings.draws):
            x[:, t] = 0.7 * x[:, t - 1] + 0.71 * rng.standard_normal(4)
        return xr.DataTree.from_dict({
            "posterior": xr.Dataset({"a": (("chain", "draw"), x)}),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), np.zeros_like(x, dtype=bool))})})

    monkeypatch.setattr(bayescale.inference.sampling, "sample", fake_sample)
    first = SamplerSettings(draws=500, tune=200, seed=5)
    done = sample_until_converged(None, {}, ["a"], first, retries=2)
    assert not done.attempts[0]["gates"]["passed"] and done.gates.passed
    assert len(seen) == 2 and seen[1].draws == 500 and seen[1].tune == 200 and seen[1].seed != 5
    assert done.posterior["a"].shape == (8, 500) and done.sample_stats["diverging"].shape == (8, 500)
    assert list(done.posterior["chain"].values) == list(range(8)) and done.settings.chains == 8
    assert [a["chains"] for a in done.attempts] == [4, 8]
    assert done.attempts[0]["gates"]["ess_bulk"]["a"] < 400 <= done.gates.ess_bulk["a"]
    assert MAX_POOLED_BATCHES >= 2
    again = sample_until_converged(None, {}, ["a"], first, retries=2)  # the same seed, the same draws
    np.testing.assert_array_equal(again.posterior["a"].values, done.posterior["a"].values)


def test_a_near_miss_on_r_hat_gets_more_chains_pooled_not_a_fresh_start(monkeypatch):
    """R-hat just over 1.01 with no divergences and plenty of effective draws (four chains that
    agree but for the noise of R-hat's estimate): four more chains with the same settings, pooled;
    not a restart with twice the draws, which costs more and throws the first draws away."""
    # fails before the change: a near miss on R-hat restarted with draws=1000
    import bayescale.inference.sampling
    from bayescale.inference.converge import NEAR_RHAT, sample_until_converged
    from bayescale.inference.sampling import SamplerSettings

    seen = []

    def chains(settings):
        x = np.random.default_rng(settings.seed).standard_normal((4, settings.draws))
        if not seen[1:]:  # the first batch: chain means a little apart
            x += np.array([0.25, -0.25, 0.12, -0.12])[:, None]
        return x

    def fake_sample(model, priors, settings):
        seen.append(settings)
        x = chains(settings)
        return xr.DataTree.from_dict({
            "posterior": xr.Dataset({"a": (("chain", "draw"), x)}),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), np.zeros_like(x, dtype=bool))})})

    monkeypatch.setattr(bayescale.inference.sampling, "sample", fake_sample)
    first = SamplerSettings(draws=500, tune=500, seed=2)
    done = sample_until_converged(None, {}, ["a"], first, retries=2)
    r_hat = done.attempts[0]["gates"]["r_hat"]["a"]
    assert 1.01 < r_hat <= NEAR_RHAT and done.attempts[0]["gates"]["ess_bulk"]["a"] > 400  # a near miss
    assert done.gates.passed and len(seen) == 2
    assert (seen[1].draws, seen[1].tune) == (500, 500) and seen[1].seed != 2  # the same settings, a new seed
    assert done.posterior["a"].shape == (8, 500) and done.gates.r_hat["a"] < 1.01


def test_divergences_alone_restart_with_a_smaller_step_only(monkeypatch):
    import bayescale.inference.sampling
    from bayescale.inference.converge import sample_until_converged
    from bayescale.inference.sampling import SamplerSettings

    seen = []

    def fake_sample(model, priors, settings):
        seen.append(settings)
        x = np.random.default_rng(len(seen)).standard_normal((4, settings.draws))  # well mixed
        diverging = np.zeros((4, settings.draws), dtype=bool)
        if len(seen) == 1:
            diverging[1, 7] = True  # one divergent transition, nothing else wrong
        return xr.DataTree.from_dict({
            "posterior": xr.Dataset({"a": (("chain", "draw"), x)}),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), diverging)})})

    monkeypatch.setattr(bayescale.inference.sampling, "sample", fake_sample)
    done = sample_until_converged(None, {}, ["a"], SamplerSettings(draws=500, tune=500, target_accept=0.9), retries=3)
    assert done.gates.passed and len(seen) == 2
    # a smaller step, with the same draws and warm-up (fails before: the warm-up was quadrupled)
    assert seen[1].draws == 500 and seen[1].tune == 500 and seen[1].target_accept == pytest.approx(0.95)
    seen.clear()  # the last restart trades the low-rank mass matrix for a diagonal one: that one gets more draws
    done = sample_until_converged(None, {}, ["a"], SamplerSettings(draws=500, tune=500, target_accept=0.9), retries=1)
    assert seen[1].adaptation == "diag" and seen[1].draws == 1000


def test_a_restart_never_repeats_the_attempt_before_it():
    """Divergences alone at the highest target acceptance, after a long warm-up: nothing is left
    to raise, and the same settings and seed would draw the same chains; the seed changes."""
    from bayescale.inference.converge import _escalated
    from bayescale.inference.gates import Gates
    from bayescale.inference.sampling import SamplerSettings

    gates = Gates(r_hat={"a": 1.001}, ess_bulk={"a": 900.0}, divergences=2, failures=["2 divergent transitions"])
    first = {"settings": SamplerSettings(draws=500, tune=500).to_dict(), "gates": gates.to_dict()}
    at_top = SamplerSettings(draws=500, tune=2000, target_accept=0.99, seed=3)
    again = _escalated(at_top, gates, [first, {"settings": at_top.to_dict(), "gates": gates.to_dict()}], last=False)
    assert again.seed != 3 and (again.draws, again.tune, again.target_accept) == (500, 2000, 0.99)
    rising = SamplerSettings(draws=500, tune=500, target_accept=0.9, seed=3)
    step = _escalated(rising, gates, [first], last=False)
    assert (step.seed, step.tune, step.target_accept) == (3, 500, 0.95)  # settings changed: the same seed


def test_a_near_miss_restarts_with_longer_chains_and_the_same_warm_up():
    """R-hat 1.012 with no divergences (chains that agree, too short): twice the draws, the
    first warm-up; R-hat 1.05 (chains that disagree): the long warm-up as well."""
    from bayescale.inference.converge import NEAR_RHAT, _escalated
    from bayescale.inference.gates import Gates
    from bayescale.inference.sampling import SamplerSettings

    first = SamplerSettings(draws=500, tune=500)
    for r_hat, tune in ((1.012, 500), (1.05, 2000)):
        gates = Gates(r_hat={"a": r_hat}, ess_bulk={"a": 300.0}, divergences=0,
                      failures=[f"R-hat of a is {r_hat}", "bulk ESS of a is 300"])
        again = _escalated(first, gates, [{"settings": first.to_dict(), "gates": gates.to_dict()}], last=False)
        assert (again.draws, again.tune) == (1000, tune)
    assert 1.01 < NEAR_RHAT <= 1.02
