"""Grouped effects integrated out: NumPy and PyMC densities against the multivariate Normal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayescale.laws.approximate import GROUP, GROUP_SIZE, grouped_logpdf
from bayescale.laws.noise import get_error_model

SIGMA, TAU = 0.02, 0.03
CODES = np.array([0, 0, 1, 2, 2, 2, 0])
RNG = np.random.default_rng(3)
MU = np.log(RNG.uniform(2, 3, CODES.size))
Y = MU + RNG.normal(0, 0.04, CODES.size)


def covariance(codes, sigma, tau):
    same = codes[:, None] == codes[None, :]
    return sigma**2 * np.eye(codes.size) + tau**2 * same


def test_pointwise_density_is_each_run_given_the_rest_of_its_group():
    cov = covariance(CODES, SIGMA, TAU)
    expected = []
    for i in range(CODES.size):
        others = [j for j in range(CODES.size) if j != i]
        joint = stats.multivariate_normal(MU, cov).logpdf(Y)
        rest = stats.multivariate_normal(MU[others], cov[np.ix_(others, others)]).logpdf(Y[others])
        expected.append(joint - rest)
    np.testing.assert_allclose(grouped_logpdf(Y, MU, SIGMA, TAU, CODES), expected, rtol=1e-10)


def test_pointwise_density_broadcasts_over_draws():
    sigma = np.array([[0.02], [0.05]])
    tau = np.array([[0.03], [0.01]])
    out = grouped_logpdf(Y, MU, sigma, tau, CODES)
    assert out.shape == (2, CODES.size)
    np.testing.assert_allclose(out[1], grouped_logpdf(Y, MU, 0.05, 0.01, CODES), rtol=1e-12)


def test_without_tau_it_is_independent_normal_noise():
    np.testing.assert_allclose(grouped_logpdf(Y, MU, SIGMA, 0.0, CODES), stats.norm.logpdf(Y, MU, SIGMA), rtol=1e-12)


def test_pymc_likelihood_is_the_joint_multivariate_normal():
    import pymc as pm

    model = get_error_model("grouped")
    data = {GROUP: CODES, GROUP_SIZE: np.bincount(CODES).astype(float)}
    with pm.Model() as m:
        model.observe("obs", MU, {"sigma": SIGMA, "tau": TAU}, Y, data)
    logp = float(m.compile_logp()({}))
    assert logp == pytest.approx(stats.multivariate_normal(MU, covariance(CODES, SIGMA, TAU)).logpdf(Y), rel=1e-10)


def test_a_new_configuration_scatters_with_sigma_and_tau():
    draws = get_error_model("grouped").draw(np.zeros(50_000), {"sigma": SIGMA, "tau": TAU}, np.random.default_rng(0))
    assert draws.std() == pytest.approx(np.hypot(SIGMA, TAU), rel=0.02)


def test_groups_are_model_sizes_unless_the_runs_have_a_group_column(tmp_path):
    import bayescale as bs

    path = tmp_path / "runs.csv"
    path.write_text("N,D,loss,setup\n1e8,1e9,3.0,a\n1e8,2e9,2.9,b\n2e8,1e9,2.8,a\n4e8,1e9,2.7,b\n")
    by_size = get_error_model("grouped").run_data(bs.read_runs(path))
    assert list(by_size[GROUP]) == [0, 0, 1, 2] and list(by_size[GROUP_SIZE]) == [2, 1, 1]
    by_column = get_error_model("grouped").run_data(bs.read_runs(path, group_col="setup"))
    assert list(by_column[GROUP]) == [0, 1, 0, 1]


def test_discrepancy_is_zero_inside_the_runs_and_grows_with_distance():
    from bayescale.laws.extrapolation import discrepancy_draws

    prior = {"mu": np.log(0.5), "omega": 0.0, "weights": {"compute": 1.0}, "relative": True}
    context = {"compute": np.array([0.0, 1.0, 2.0]), "ratio": np.zeros(3)}
    draws = discrepancy_draws(context, (20_000, 3), np.random.default_rng(0), sigma=0.02, prior=prior)
    assert np.all(draws[:, 0] == 0)
    np.testing.assert_allclose(draws[:, 1:].std(axis=0), [0.5 * 0.02 * 1, 0.5 * 0.02 * 2], rtol=0.03)
    assert discrepancy_draws(None, (4, 3), np.random.default_rng(0)).sum() == 0


def test_a_draws_miss_is_one_smooth_function_a_level_and_a_tilt():
    """Each posterior draw gets one miss shared by its points: two points at the same place get
    the same value; points on either side of the runs' median D/N share the level and split the
    tilt (with equal weights, uncorrelated); the spread matches discrepancy_scale's."""
    from bayescale.laws.extrapolation import discrepancy_draws, discrepancy_scale

    prior = {"mu": np.log(0.5), "omega": 0.0, "weights": {"compute": 1.0, "compute_ratio_shift": 1.0}}
    context = {"compute": np.full(3, 2.0), "compute_ratio_shift": np.array([2.0, 2.0, -2.0])}
    draws = discrepancy_draws(context, (40_000, 3), np.random.default_rng(0), sigma=0.02, prior=prior)
    np.testing.assert_array_equal(draws[:, 0], draws[:, 1])
    assert abs(np.corrcoef(draws[:, 0], draws[:, 2])[0, 1]) < 0.02
    expected = discrepancy_scale(context, (1, 3), np.random.default_rng(0), sigma=0.02, prior=prior)[0]
    np.testing.assert_allclose(draws.std(axis=0), expected, rtol=0.02)
    np.testing.assert_allclose(expected, 0.5 * 0.02 * np.hypot(2.0, 2.0))
    with pytest.raises(ValueError, match="coherent"):  # a prior of the older, independent form is not misread
        discrepancy_draws(context, (4, 3), np.random.default_rng(0), prior={**prior, "form": "independent"})


def test_the_sigma_floor_adds_to_the_fits_own_scatter_in_quadrature():
    """``sigma_floor``: the rate k multiplies sqrt(sigma² + floor²), in the draws and in their
    spread alike; a prior without the key has no floor (files written before it still read)."""
    from bayescale.laws.extrapolation import discrepancy_draws, discrepancy_scale

    prior = {"mu": np.log(0.5), "omega": 0.0, "weights": {"compute": 1.0}}
    context = {"compute": np.array([2.0])}
    for floor, scale in ((0.0, 0.004), (0.003, 0.005)):  # sqrt(0.004² + 0.003²) = 0.005
        with_floor = {**prior, "sigma_floor": floor} if floor else prior
        spread = discrepancy_scale(context, (1, 1), np.random.default_rng(0), sigma=0.004, prior=with_floor)
        np.testing.assert_allclose(spread, 0.5 * scale * 2.0)
        draws = discrepancy_draws(context, (40_000, 1), np.random.default_rng(1), sigma=0.004, prior=with_floor)
        np.testing.assert_allclose(draws.std(), 0.5 * scale * 2.0, rtol=0.02)


def test_the_shipped_prior_is_the_coherent_form_with_a_tilt():
    from bayescale.laws.extrapolation import extrapolation_prior

    prior = extrapolation_prior()
    assert prior["form"] == "coherent" and set(prior["weights"]) == {"compute", "compute_ratio_shift"}
    assert prior["leave_one_source_out"]["+ discrepancy (leave one source out)"]["joint_lpd"] > \
        prior["leave_one_source_out"]["fitted model"]["joint_lpd"]


def test_the_shipped_prior_says_where_it_came_from():
    from conftest import fake_fit

    from bayescale.laws.extrapolation import distances, extrapolation_prior

    prior = extrapolation_prior()
    runs = fake_fit().runs
    assert prior["omega"] > 0 and set(prior["weights"]) <= set(distances(runs, N=1e9, D=2e10))
    assert len(prior["learned_from"]) >= 10 and "leave_one_source_out" in prior and prior["method"]


def test_the_discrepancy_grows_faster_far_from_the_fitted_tokens_per_parameter():
    """Beyond the runs' compute, a point far from their median D/N gets a wider discrepancy
    than one at it (the shipped prior weighs compute × offset in D/N); inside their compute, none."""
    from conftest import fake_fit

    from bayescale.laws.extrapolation import discrepancy_scale, distances, extrapolation_prior

    runs = fake_fit().runs
    ratio = float(np.median(runs.D / runs.N))
    c = runs.C.max() * 100  # two decades beyond
    n_at, n_far = np.sqrt(c / 6 / ratio), np.sqrt(c / 6 / (ratio * 1000))  # D/N at the median, and 1000x above
    at, far = (distances(runs, N=n, D=c / 6 / n) for n in (n_at, n_far))
    assert float(at["compute"]) == pytest.approx(float(far["compute"])) and float(at["ratio_offset"]) < 1e-9
    # the tilt's shift is held within the shifts it was learned on (ratio_shift_range)
    high = extrapolation_prior()["ratio_shift_range"][1]
    assert float(far["ratio_shift"]) == pytest.approx(3.0) and float(far["compute_ratio_shift"]) == pytest.approx(2 * high)
    assert float(far["compute_ratio_offset"]) == pytest.approx(2.0 * 3.0, rel=1e-6)
    scale = [float(np.median(discrepancy_scale(d, (4000, 1), np.random.default_rng(0)))) for d in (at, far)]
    assert scale[1] > 2 * scale[0] > 0
    c_in = float(np.median(runs.C))
    n_in = np.sqrt(c_in / 6 / (ratio * 1000))
    inside = distances(runs, N=n_in, D=c_in / 6 / n_in)
    assert float(inside["ratio_offset"]) == pytest.approx(3.0) and float(inside["compute_ratio_offset"]) == 0.0


def test_discrepancy_predictions_widen_beyond_the_fitted_runs():
    """A fake fit's predictive interval at 100x the largest compute is wider than inside the runs."""
    model = get_error_model("discrepancy")
    rng = np.random.default_rng(1)
    params = {"sigma": np.full((4000, 1), 0.01)}
    inside = model.draw(np.zeros((4000, 1)), params, rng, {"compute": np.zeros(1), "ratio": np.zeros(1)})
    beyond = model.draw(np.zeros((4000, 1)), params, rng, {"compute": np.full(1, 2.0), "ratio": np.zeros(1)})
    width = lambda d: np.subtract(*np.quantile(d, [0.975, 0.025]))  # noqa: E731
    assert width(inside) == pytest.approx(2 * 1.96 * 0.01, rel=0.1)
    assert width(beyond) > 1.5 * width(inside)


def test_new_run_density_matches_what_draw_samples():
    """The density of a new run is that of the draws: inside the runs the Normal; beyond, wider."""
    rng = np.random.default_rng(2)
    y, mu = np.array([0.0, 0.05, -0.1]), np.zeros(3)
    params = {"sigma": np.full((40000, 1), 0.02)}
    inside = {"compute": np.zeros(3), "ratio": np.zeros(3)}
    model = get_error_model("discrepancy")
    np.testing.assert_allclose(model.new_run_logpdf(y, mu, params, rng, inside), stats.norm.logpdf(y, 0, 0.02) + 0 * params["sigma"])
    beyond = {"compute": np.full(3, 2.0), "ratio": np.zeros(3)}
    density = np.exp(model.new_run_logpdf(y, mu, params, rng, beyond)).mean(axis=0)
    draws = model.draw(np.zeros((40000, 3)), params, rng, beyond)
    hist = np.mean(np.abs(draws[:, 1] - 0.05) < 0.01) / 0.02  # density of the draws near y = 0.05
    assert density[1] == pytest.approx(hist, rel=0.15)
    grouped = get_error_model("grouped").new_run_logpdf(y, mu, {"sigma": 0.02, "tau": 0.03}, rng)
    np.testing.assert_allclose(grouped, stats.norm.logpdf(y, 0, np.hypot(0.02, 0.03)))


def test_groups_that_cannot_be_told_apart_are_refused(tmp_path):
    import bayescale as bs
    from bayescale.errors import RunsError

    path = tmp_path / "runs.csv"
    path.write_text("N,D,loss,setup,run\n1e8,1e9,3.0,a,1\n2e8,2e9,2.9,a,2\n4e8,1e9,2.8,a,3\n8e8,1e9,2.7,a,4\n")
    model = get_error_model("grouped")
    with pytest.raises(RunsError, match="at least two groups.*--group-col"):
        model.run_data(bs.read_runs(path, group_col="setup"))
    with pytest.raises(RunsError, match="groups of several runs.*4 groups of one"):
        model.run_data(bs.read_runs(path, group_col="run"))
    with pytest.raises(RunsError, match="its own model size N"):
        model.run_data(bs.read_runs(path))


def test_heteroskedastic_noise_scales_with_compute():
    import pymc as pm

    from bayescale.laws.approximate import CENTERED_COMPUTE

    model = get_error_model("hetero")
    x = np.array([-1.0, 0.0, 1.0, 2.0, -0.5, 0.3, 0.1])
    params = {"sigma": 0.02, "sigma_trend": 0.4}
    expected = stats.norm.logpdf(Y, MU, 0.02 * np.exp(0.4 * x))
    np.testing.assert_allclose(model.logpdf(Y, MU, params, {CENTERED_COMPUTE: x}), expected)
    with pm.Model() as m:
        model.observe("obs", MU, params, Y, {CENTERED_COMPUTE: x})
    assert float(m.compile_logp()({})) == pytest.approx(expected.sum(), rel=1e-10)
    far = model.draw(np.zeros(20_000), params, np.random.default_rng(0), {CENTERED_COMPUTE: np.full(20_000, 2.0)})
    assert far.std() == pytest.approx(0.02 * np.exp(0.8), rel=0.03)


def test_held_out_runs_of_a_grouped_fit_are_scored_whatever_their_groups():
    """Group codes describe the fitted runs; held-out runs (each its own size here) are new configurations."""
    from conftest import fake_fit

    from bayescale.decisions.backtesting import score_holdout, split_by_compute

    fit = fake_fit(noise="grouped")
    _, held, _ = split_by_compute(fit.runs, 0.25)
    assert np.unique(held.N).size > held.n_runs / 2
    scores = score_holdout(fit, held)
    assert 0.0 <= scores["coverage"] <= 1.0 and np.isfinite(scores["elpd_per_run"])


def test_distances_are_decades_outside_the_fitted_runs():
    from conftest import fake_fit

    from bayescale.laws.extrapolation import distances

    runs = fake_fit().runs
    n, d = float(np.median(runs.N)), float(np.median(runs.D))
    inside = distances(runs, N=n, D=d)
    assert all(float(inside[k]) == 0.0 for k in ("compute", "ratio", "size", "tokens"))
    big = distances(runs, N=runs.N.max() * 10, D=runs.D.max() * 100)
    assert float(big["size"]) == pytest.approx(1.0) and float(big["tokens"]) == pytest.approx(2.0)
    c_max = float(np.log10(runs.C.max()))
    assert float(big["compute"]) == pytest.approx(np.log10(6 * runs.N.max() * 10 * runs.D.max() * 100) - c_max)
    assert float(big["centered_compute"]) == pytest.approx(float(big["compute"]) + c_max - np.log10(runs.C).mean())
    only_c = distances(runs, C=runs.C.min() / 10)
    assert float(only_c["compute"]) == pytest.approx(1.0) and float(only_c["ratio"]) == 0.0


def test_summary_can_say_which_learned_prior_predictions_use():
    """Predictions of a saved fit beyond its runs use the installed prior: the error model says
    which (form, values, date); error models that use the fit alone say nothing."""
    learned = get_error_model("discrepancy").predictive_prior()
    assert learned["form"] == "coherent" and learned["date"] and learned["ladders"] >= 10
    assert learned["sigma_floor"] > 0  # the floor under sigma is part of what predictions use
    assert get_error_model("normal").predictive_prior() is None


def test_grouped_noise_on_runs_of_compute_alone_asks_for_a_group_column():
    """By default runs are grouped by model size; runs of compute alone have none (a KeyError once)."""
    import pandas as pd

    from bayescale.data.reading import runs_from_frame
    from bayescale.errors import RunsError
    from bayescale.laws.approximate import noise_groups

    runs = runs_from_frame(pd.DataFrame({"C": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.6, 2.5]}))
    with pytest.raises(RunsError, match="--group-col"):
        noise_groups(runs)
    grouped = runs_from_frame(pd.DataFrame({"C": [1e18, 1e19, 1e20, 1e21], "loss": [3.0, 2.8, 2.6, 2.5],
                                            "setup": ["a", "a", "b", "b"]}), group_col="setup")
    assert noise_groups(grouped).tolist() == [0, 0, 1, 1]
