"""Tests for bayescale.results.optimum: compute-optimal N*, D*, L* (closed form and numeric)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bayescale.errors import OptimumError
from bayescale.laws.law import Scales
from bayescale.laws.law_file import law_from_text, load_law
from bayescale.results.optimum import Optimum, compute_optimum, interval

SCALES = Scales(N_ref=1e9, D_ref=2e10, C_ref=1.2e20)
BUDGETS = np.logspace(18, 25, 8)
N_DRAWS = 300


@pytest.fixture(scope="module")
def chin():
    return load_law("chinchilla")


@pytest.fixture(scope="module")
def draws():
    """Random Chinchilla parameters in normalized units (N / N_ref, D / D_ref).

    A and B are log-uniform over three decades around the fitted Chinchilla values
    (A = 406.4 / N_ref^0.34 ~ 0.35, B = 410.7 / D_ref^0.28 ~ 0.54 in these units).
    """
    rng = np.random.default_rng(2022)
    return {
        "E": rng.uniform(1.0, 2.0, N_DRAWS),
        "A": 10 ** rng.uniform(-2.0, 1.0, N_DRAWS),
        "alpha": rng.uniform(0.2, 0.6, N_DRAWS),
        "B": 10 ** rng.uniform(-2.0, 1.0, N_DRAWS),
        "beta": rng.uniform(0.2, 0.6, N_DRAWS),
    }


@pytest.fixture(scope="module")
def closed(chin, draws):
    return compute_optimum(chin, draws, SCALES, BUDGETS)


@pytest.fixture(scope="module")
def numeric(chin, draws):
    return compute_optimum(chin, draws, SCALES, BUDGETS, method="numeric")


@pytest.fixture(scope="module")
def inside(closed):
    """Where the true optimum lies well inside the numeric search range.

    The numeric search scans N over six decades either side of N = D, i.e. N*/D* from 1e-12 to
    1e12, and returns NaN when the best grid point is at an edge. One decade of margin on N*/D*
    (four grid cells) keeps the edge cells out.
    """
    ratio = closed.N_opt / closed.D_opt
    mask = (ratio > 1e-11) & (ratio < 1e11)
    assert mask.mean() > 0.95  # the comparison covers nearly every draw and budget
    return mask


def hoffmann_n_opt(draws, scales, budgets):
    """Hoffmann et al. 2022, eq. 4, written out by hand in physical units."""
    alpha, beta = draws["alpha"][:, None], draws["beta"][:, None]
    A = draws["A"][:, None] * scales.N_ref ** alpha
    B = draws["B"][:, None] * scales.D_ref ** beta
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    return G * (budgets[None, :] / 6.0) ** (beta / (alpha + beta))


def test_shapes_and_methods(closed, numeric, inside):
    for opt, mask in ((closed, np.ones_like(inside)), (numeric, inside)):
        assert isinstance(opt, Optimum)
        np.testing.assert_array_equal(opt.compute, BUDGETS)
        for name in ("N_opt", "D_opt", "L_opt", "tokens_per_param"):
            value = getattr(opt, name)
            assert value.shape == (N_DRAWS, BUDGETS.size)
            assert np.all(np.isfinite(value[mask])) and np.all(value[mask] > 0)
    assert closed.method == "closed form"
    assert numeric.method == "numeric"


def test_closed_form_equals_hoffmann_eq4(closed, draws):
    np.testing.assert_allclose(closed.N_opt, hoffmann_n_opt(draws, SCALES, BUDGETS), rtol=1e-12)


def test_closed_and_numeric_agree(closed, numeric, inside):
    np.testing.assert_allclose(numeric.N_opt[inside], closed.N_opt[inside], rtol=1e-5)
    np.testing.assert_allclose(numeric.D_opt[inside], closed.D_opt[inside], rtol=1e-5)
    np.testing.assert_allclose(numeric.L_opt[inside], closed.L_opt[inside], rtol=1e-10)


def test_numeric_outside_search_range_is_nan_not_wrong(closed, numeric):
    """Beyond N*/D* in [1e-12, 1e12] the search reports NaN; near the edge it is NaN or right."""
    ratio = closed.N_opt / closed.D_opt
    outside = (ratio < 1e-12) | (ratio > 1e12)
    assert outside.any()  # these draws reach the edge, so this is exercised
    assert np.all(np.isnan(numeric.N_opt[outside]))
    found = np.isfinite(numeric.N_opt)
    np.testing.assert_allclose(numeric.N_opt[found], closed.N_opt[found], rtol=1e-5)


def test_auto_uses_closed_form(chin, draws, closed):
    auto = compute_optimum(chin, draws, SCALES, BUDGETS, method="auto")
    assert auto.method == "closed form"
    np.testing.assert_array_equal(auto.N_opt, closed.N_opt)


@pytest.mark.parametrize("which", ["closed", "numeric"])
def test_derived_quantities(chin, draws, closed, numeric, inside, which):
    opt = closed if which == "closed" else numeric
    assert np.all(np.isfinite(opt.N_opt[inside]))
    np.testing.assert_allclose(opt.D_opt, BUDGETS / (6.0 * opt.N_opt), rtol=1e-14)  # NaNs match NaNs
    np.testing.assert_allclose(opt.tokens_per_param, opt.D_opt / opt.N_opt, rtol=1e-14)
    found = np.isfinite(opt.N_opt)
    budgets = np.broadcast_to(BUDGETS, opt.N_opt.shape)
    np.testing.assert_allclose(6.0 * opt.N_opt[found] * opt.D_opt[found], budgets[found], rtol=1e-12)
    params = {k: v[:, None] for k, v in draws.items()}
    np.testing.assert_allclose(opt.L_opt, chin.loss(params, SCALES, N=opt.N_opt, D=opt.D_opt), rtol=1e-14)


@pytest.mark.parametrize("which", ["closed", "numeric"])
def test_optimum_is_a_minimum_on_the_isoflop(chin, draws, closed, numeric, inside, which):
    opt = closed if which == "closed" else numeric
    mask = np.ones_like(inside) if which == "closed" else inside
    params = {k: v[:, None] for k, v in draws.items()}
    for factor in (1.1, 1 / 1.1):
        n = opt.N_opt * factor
        other = chin.loss(params, SCALES, N=n, D=BUDGETS / (6.0 * n))
        assert np.all(other[mask] > opt.L_opt[mask])


def test_hand_computed_single_case(chin):
    """Chinchilla's own fit, unit scales: N* at 5.76e23 FLOPs from eq. 4 by hand."""
    E, A, alpha, B, beta = 1.69, 406.4, 0.34, 410.7, 0.28
    C = 5.76e23
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    n_star = G * (C / 6) ** (beta / (alpha + beta))
    draws = {k: np.array([v]) for k, v in dict(E=E, A=A, alpha=alpha, B=B, beta=beta).items()}
    opt = compute_optimum(chin, draws, Scales(), [C])
    assert opt.N_opt[0, 0] == pytest.approx(n_star, rel=1e-12)
    assert opt.D_opt[0, 0] == pytest.approx(C / (6 * n_star), rel=1e-12)
    assert opt.L_opt[0, 0] == pytest.approx(E + A / n_star**alpha + B / (C / (6 * n_star)) ** beta, rel=1e-12)
    # the same draw expressed in other reference scales gives the same physical optimum
    scales = Scales(N_ref=3e9, D_ref=5e10)
    norm = {**draws, "A": draws["A"] / 3e9**alpha, "B": draws["B"] / 5e10**beta}
    for method in ("closed", "numeric"):
        other = compute_optimum(chin, norm, scales, [C], method=method)
        assert other.N_opt[0, 0] == pytest.approx(n_star, rel=1e-5)
        assert other.L_opt[0, 0] == pytest.approx(opt.L_opt[0, 0], rel=1e-10)


def test_budget_scalar_and_2d_draws(chin, draws):
    draws_2d = {k: v.reshape(3, -1) for k, v in draws.items()}
    opt = compute_optimum(chin, draws_2d, SCALES, 1e21)
    assert opt.N_opt.shape == (N_DRAWS, 1)
    np.testing.assert_allclose(opt.N_opt[:, 0], hoffmann_n_opt(draws, SCALES, np.array([1e21]))[:, 0], rtol=1e-12)


# --- records and intervals ---------------------------------------------------------------------


def test_to_records(closed):
    records = closed.to_records(prob=0.9)
    assert len(records) == BUDGETS.size
    for j, record in enumerate(records):
        assert set(record) == {"compute", "prob", "N_opt", "D_opt", "L_opt", "tokens_per_param", "units"}
        assert record["units"] == {"compute": "FLOPs", "N_opt": "parameters", "D_opt": "tokens",
                                   "L_opt": closed.loss_unit, "tokens_per_param": "tokens/parameter"}
        assert record["compute"] == BUDGETS[j]
        assert record["prob"] == 0.9
        for name in ("N_opt", "D_opt", "L_opt", "tokens_per_param"):
            r = record[name]
            assert set(r) == {"median", "lower", "upper"}
            assert r["lower"] <= r["median"] <= r["upper"]
            assert r["lower"] < r["upper"]  # the draws differ
            column = getattr(closed, name)[:, j]
            assert r["median"] == pytest.approx(np.median(column))
            assert r["lower"] == pytest.approx(np.quantile(column, 0.05))
            assert r["upper"] == pytest.approx(np.quantile(column, 0.95))
    # N* grows with the budget
    medians = [r["N_opt"]["median"] for r in records]
    assert np.all(np.diff(medians) > 0)
    text = closed.format(0.9)
    assert "closed form" in text and "90% interval" in text
    assert text.count("C = ") == BUDGETS.size


def test_interval_known_quantiles():
    values = np.arange(101.0)  # 0..100: the q-quantile is 100 q exactly
    med, lo, hi = interval(values, 0.9)
    np.testing.assert_allclose([med, lo, hi], [50.0, 5.0, 95.0], rtol=1e-12)
    med, lo, hi = interval(values, 0.5)
    np.testing.assert_allclose([lo, hi], [25.0, 75.0], rtol=1e-12)
    # along an axis, NaNs ignored
    table = np.stack([values, 2 * values, np.r_[values[:-1], np.nan]], axis=1)
    med, lo, hi = interval(table, 0.9, axis=0)
    np.testing.assert_allclose(med, [50.0, 100.0, 49.5])
    np.testing.assert_allclose(lo, [5.0, 10.0, 4.95])
    np.testing.assert_allclose(hi, [95.0, 190.0, 94.05])


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("budgets", [[0.0], [-1e21], [1e21, float("nan")], [float("inf")], []])
def test_invalid_budgets(chin, draws, budgets):
    """Said in the API's terms, with the command line's beside them."""
    with pytest.raises(OptimumError, match="at least one compute budget" if not budgets else "must be positive") as err:
        compute_optimum(chin, draws, SCALES, budgets)
    assert "fit.optimum([1e21, 5.76e23])" in str(err.value)


COMPUTE_ONLY = """\
name = "compute_only"
formula = "E + (C0 / C)^gamma"
[parameters.E]
prior = { dist = "LogNormal", mu = 0.5, sigma = 1.0 }
[parameters.C0]
prior = { dist = "LogNormal", mu = 0.0, sigma = 2.0 }
[parameters.gamma]
prior = { dist = "LogNormal", mu = -2.0, sigma = 0.5 }
"""


def test_compute_only_law_has_no_optimum(tmp_path):
    path = tmp_path / "compute_only.toml"
    path.write_text(COMPUTE_ONLY)
    law = load_law(path)
    assert law.variables == ("C",)
    assert law.formula.names == {"E", "C0", "C", "gamma"}
    draws = {"E": np.array([1.7]), "C0": np.array([1.0]), "gamma": np.array([0.05])}
    # the law itself evaluates fine
    assert law.loss({k: v[0] for k, v in draws.items()}, Scales(C_ref=1e20), C=1e20) == pytest.approx(2.7)
    with pytest.raises(OptimumError, match="trade-off"):
        compute_optimum(law, draws, Scales(C_ref=1e20), [1e21])


def test_closed_method_without_optimum_table(chin, draws, closed):
    text = Path(chin.path).read_text()
    assert "[optimum]" in text
    law = law_from_text(text.split("[optimum]")[0], "no_optimum.toml")
    assert law.optimum == {}
    with pytest.raises(OptimumError, match="no closed-form optimum"):
        compute_optimum(law, draws, SCALES, BUDGETS, method="closed")
    # auto falls back to the numeric search, which finds the same optimum
    auto = compute_optimum(law, draws, SCALES, BUDGETS[:2])
    assert auto.method == "numeric"
    np.testing.assert_allclose(auto.N_opt, closed.N_opt[:, :2], rtol=1e-5)


# --- laws with unique tokens U -------------------------------------------------------------------

#: Muennighoff et al. 2023's C4 constants (datablations README, "Parametric Fit"), physical units.
MUENNIGHOFF = {"E": np.exp(0.6254804), "A": np.exp(6.255414), "B": np.exp(7.3049974), "alpha": 0.3526596,
               "beta": 0.3526596, "RD_star": 15.387756, "RN_star": 5.309743}


@pytest.fixture(scope="module")
def dc():
    return load_law("data_constrained")


def one_draw(params):
    return {k: np.array([v]) for k, v in params.items()}


def test_unique_tokens_required_for_laws_with_u(dc):
    with pytest.raises(OptimumError) as err:
        compute_optimum(dc, one_draw(MUENNIGHOFF), Scales(), [1e21])
    assert "--unique-tokens" in str(err.value) and "data_constrained" in str(err.value)
    for bad in (0.0, -1e9, float("nan"), float("inf")):
        with pytest.raises(OptimumError, match="positive number of tokens"):
            compute_optimum(dc, one_draw(MUENNIGHOFF), Scales(), [1e21], unique_tokens=bad)


def test_unique_tokens_refused_for_laws_without_u(chin, draws):
    with pytest.raises(OptimumError) as err:
        compute_optimum(chin, draws, SCALES, [1e21], unique_tokens=1e10)
    assert "does not use unique tokens" in str(err.value) and "--unique-tokens" in str(err.value)


def test_laws_with_u_are_numeric_even_with_a_closed_form(dc):
    """A closed form N*(C) cannot see U, so a law with U never uses it, and 'closed' is refused."""
    text = Path(dc.path).read_text() + '\n[optimum]\nN = "(A / B)^(1 / (2 * alpha)) * (C / 6)^0.5"\n'
    law = law_from_text(text, "dc_with_closed_form.toml")
    assert "N" in law.optimum
    auto = compute_optimum(law, one_draw(MUENNIGHOFF), Scales(), [1e21], unique_tokens=1e9)
    assert auto.method == "numeric"
    with pytest.raises(OptimumError, match="method='numeric'"):
        compute_optimum(law, one_draw(MUENNIGHOFF), Scales(), [1e21], method="closed", unique_tokens=1e9)


def test_optimum_with_unique_tokens_repeats_data(dc):
    """With U fixed the search keeps D = C/6N, lets D exceed U, and minimises the law there."""
    budgets = np.array([1e20, 1e21, 1e22])
    opt = compute_optimum(dc, one_draw(MUENNIGHOFF), Scales(), budgets, unique_tokens=5e9)
    assert opt.method == "numeric" and opt.unique_tokens == 5e9
    np.testing.assert_allclose(6 * opt.N_opt * opt.D_opt, budgets[None, :], rtol=1e-12)
    np.testing.assert_allclose(opt.epochs, opt.D_opt / 5e9, rtol=1e-14)
    assert np.all(opt.D_opt[:, 1:] > 5e9)  # the larger budgets repeat the data
    np.testing.assert_allclose(opt.L_opt, dc.loss(MUENNIGHOFF, Scales(), N=opt.N_opt, D=opt.D_opt, U=5e9), rtol=1e-14)
    for factor in (1.05, 1 / 1.05):
        n = opt.N_opt * factor
        assert np.all(dc.loss(MUENNIGHOFF, Scales(), N=n, D=budgets / (6 * n), U=5e9) > opt.L_opt)
    record = opt.to_records(0.9)[0]
    assert record["unique_tokens"] == 5e9
    assert record["epochs"]["median"] == pytest.approx(opt.D_opt[0, 0] / 5e9)
    text = opt.format()
    assert "U = 5e+09 unique tokens" in text and text.count("epochs") == budgets.size


def test_losses_print_to_the_decimals_their_interval_supports():
    from bayescale.texts import decimals_for

    assert decimals_for(1.98, 2.01) == 3      # width 0.03: two figures of it
    assert decimals_for(1.9, 2.3) == 2
    assert decimals_for(1.0, 1.0) == 4        # no width: the old fixed format
    assert decimals_for(0.0, 1e-9) == 6       # capped


def test_a_wide_loss_interval_prints_each_number_to_two_figures():
    """Far beyond the runs a predictive interval can span a factor of 100; shared decimals (set by
    the width) printed it as '2 [0, 24]', a lower bound of zero loss."""
    from bayescale.texts import loss_interval_text, loss_texts

    assert loss_texts(2.04, 0.312, 24.3) == ("2.0", "0.31", "24")
    assert loss_interval_text({"median": 2.04, "lower": 0.312, "upper": 243.0}) == "2.0 [0.31, 240]"
    assert loss_texts(1.995, 1.980, 2.009) == ("1.995", "1.980", "2.009")  # narrow: the decimals of its width


def test_each_budget_says_how_far_beyond_the_largest_run_it_is(closed):
    """A fit's optimum carries the largest run's compute: each budget is reported as a multiple
    of it, and a budget over a million times larger gets a warning line (1e300 FLOPs printed
    N* = 3e127 with no word that nothing tests it)."""
    from dataclasses import replace

    assert "largest run" not in closed.format()  # an optimum from bare draws knows no runs
    largest = float(closed.compute[0]) / 100
    opt = replace(closed, largest_run=largest)
    records = opt.to_records()
    assert records[0]["times_largest_run"] == pytest.approx(100)
    text = opt.format()
    assert "(100× the largest run's compute)" in text  # as people say a multiple, not 1e+02×
    far = replace(closed, largest_run=float(closed.compute[0]) / 1e7)
    assert far.format().count("over a million times the largest run") == closed.compute.size


def test_a_fit_reports_its_largest_run():
    from conftest import fake_fit

    fit = fake_fit()
    opt = fit.optimum([1e22])
    assert opt.largest_run == pytest.approx(float(np.max(fit.runs.C)))
    assert opt.to_records()[0]["times_largest_run"] == pytest.approx(1e22 / float(np.max(fit.runs.C)))


def test_the_predictive_n_star_widens_beyond_the_runs_only():
    """``N_opt_predictive``: each draw's optimum of the law plus its miss, beside the law's own
    ``N_opt``. Inside the runs' compute the miss is zero and it is the law's; beyond them its tilt
    moves N* and the interval widens. Error models without a miss give none unless asked."""
    from conftest import fake_fit

    fit = fake_fit()
    inside, beyond = float(np.median(fit.runs.C)), float(np.max(fit.runs.C)) * 100
    found = fit.optimum([inside, beyond], all_runs=True)
    np.testing.assert_allclose(np.median(found.N_opt_predictive[:, 0]), np.median(found.N_opt[:, 0]), rtol=1e-3)
    width = [np.subtract(*np.nanquantile(np.log(n[:, 1]), [0.975, 0.025])) for n in (found.N_opt, found.N_opt_predictive)]
    assert width[1] > 1.5 * width[0]
    assert "closed" in found.method
    np.testing.assert_allclose(found.N_opt_predictive * found.D_opt_predictive * 6, np.broadcast_to([inside, beyond], found.N_opt.shape))
    # the law's N* and L_opt_predictive are what they are without the miss
    law_only = fit.optimum([inside, beyond], all_runs=True, with_miss=False)
    assert law_only.N_opt_predictive is None
    np.testing.assert_array_equal(law_only.N_opt, found.N_opt)
    np.testing.assert_array_equal(law_only.L_opt_predictive, found.L_opt_predictive)
    record = found.to_records()[1]
    assert record["N_opt_predictive"]["lower"] < record["N_opt"]["lower"] and "N_opt_predictive" in found.format()
    # inside the runs the two agree: JSON keeps both, the printed table only the law's
    inside_only = fit.optimum([inside], all_runs=True)
    assert "N_opt_predictive" in inside_only.to_records()[0] and "N_opt_predictive" not in inside_only.format()
    assert fake_fit(noise="normal").optimum([beyond]).N_opt_predictive is None
    with pytest.raises(OptimumError, match="no miss beyond the runs"):
        fake_fit(noise="normal").optimum([beyond], with_miss=True)


def test_the_predictive_n_star_stays_where_the_tilt_was_learned():
    """The tilt was learned on runs within ``ratio_shift_range`` decades of D/N from the fitted
    median; beyond it the miss is flat, so far beyond the runs every draw's optimum stays finite and
    within the learned shifts (an unbounded linear tilt carried optima to the edge of the search)."""
    from conftest import fake_fit

    from bayescale.laws.extrapolation import extrapolation_prior

    fit = fake_fit()
    low, high = extrapolation_prior()["ratio_shift_range"]
    found = fit.optimum([float(np.max(fit.runs.C)) * 1e4], all_runs=True)
    shift = np.log10(found.D_opt_predictive / found.N_opt_predictive) - np.median(np.log10(fit.runs.D / fit.runs.N))
    assert np.all(np.isfinite(shift))
    assert shift.min() >= low - 1.0 and shift.max() <= high + 1.0


def test_an_interval_end_at_the_learned_edge_is_marked_open():
    """Far beyond the runs many draws' predictive optimum stops at the edge of the learned D/N
    shifts (the tilt is flat beyond it). That end of the interval is then the edge, not a quantile:
    it is printed "≤"/"≥" with a note, and the JSON gives the share of draws at each edge."""
    from conftest import fake_fit

    from bayescale.laws.extrapolation import at_learned_edge, extrapolation_prior

    fit = fake_fit()
    low, high = extrapolation_prior()["ratio_shift_range"]
    median = np.median(np.log10(fit.runs.D / fit.runs.N))
    n = np.full(5, 1e9)
    d = n * 10 ** (median + np.array([low - 0.5, low, 0.0, high, high + 0.5]))
    # beyond an edge the tilt is flat and an optimum there is the law's own: not "stopped at the edge"
    np.testing.assert_array_equal(at_learned_edge(fit.runs, n, d), [-2, -1, 0, 1, 2])
    inside, far = float(np.median(fit.runs.C)), float(np.max(fit.runs.C)) * 1e4
    found = fit.optimum([inside, far], all_runs=True)
    near, beyond = found.to_records()
    assert near["predictive_at_learned_edge"] == {"few_tokens_per_param": 0.0, "many_tokens_per_param": 0.0}
    shares = beyond["predictive_at_learned_edge"]
    assert shares["few_tokens_per_param"] > 0.025 and shares["many_tokens_per_param"] > 0.025
    text = found.format().split("C = ")[2]
    assert "[≤" in text and ", ≥" in text and "this far, or farther" in text
    assert "≤" not in found.format().split("C = ")[1]
    # an edge seen by a hand-made optimum: only the end it concerns is marked
    one_sided = replace(found, predictive_edge=np.where(found.predictive_edge > 0, 0, found.predictive_edge))
    line = next(x for x in one_sided.format().split("C = ")[2].splitlines() if x.strip().startswith("N_opt_predictive"))
    assert ", ≥" in line and "[≤" not in line
    # where more than the tail lies beyond the edge (the law's own optima there), the end is a quantile
    beyond = replace(found, predictive_edge=np.where(found.predictive_edge < 0, -2, found.predictive_edge))
    line = next(x for x in beyond.format().split("C = ")[2].splitlines() if x.strip().startswith("N_opt_predictive"))
    assert ", ≥" not in line and "[≤" in line


def test_sizes_are_printed_to_the_figures_their_interval_supports():
    from bayescale.texts import size_texts

    assert size_texts(8.16e10, 6.78e10, 9.89e10) == ("8.16e+10", "6.78e+10", "9.89e+10")
    assert size_texts(8.47e10, 4.62e9, 3.71e11) == ("8.5e+10", "4.6e+09", "3.7e+11")  # wider than 2×: two figures
    assert size_texts(280.4, 51.2, 1630.0) == ("280", "51", "1600")  # ratios in plain notation
    assert size_texts(14.43, 11.2, 18.9) == ("14.4", "11.2", "18.9")
