"""Tests for bayescale.laws.priors: specs, NumPy draws, merging overrides and prior files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from bayescale.errors import PriorError
from bayescale.laws.priors import DISTRIBUTIONS, Prior, merge_priors, read_prior_file

# --- from_spec --------------------------------------------------------------------------------


def test_from_spec_happy_path():
    prior = Prior.from_spec({"dist": "LogNormal", "mu": 0, "sigma": 1.5}, "parameter 'E'")
    assert prior.dist == "LogNormal"
    assert prior.args == {"mu": 0.0, "sigma": 1.5}
    assert all(type(v) is float for v in prior.args.values())  # ints become floats
    assert prior.support == "positive"
    assert prior.to_spec() == {"dist": "LogNormal", "mu": 0.0, "sigma": 1.5}
    assert str(prior) == "LogNormal(mu=0, sigma=1.5)"
    assert Prior.from_spec(prior.to_spec(), "x") == prior  # round trip


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "Normal", "mu": -3.0, "sigma": 2.0},
        {"dist": "StudentT", "nu": 3, "mu": -1.0, "sigma": 1.0},
        {"dist": "Uniform", "lower": -1.0, "upper": 1.0},
        {"dist": "TruncatedNormal", "mu": 0.0, "sigma": 1.0, "lower": -2.0, "upper": 0.5},
        {"dist": "HalfNormal", "sigma": 0.1},
        {"dist": "HalfStudentT", "nu": 4, "sigma": 1.0},
        {"dist": "HalfCauchy", "beta": 1.0},
        {"dist": "Gamma", "alpha": 2.0, "beta": 0.1},
        {"dist": "InverseGamma", "alpha": 3.0, "beta": 1.0},
        {"dist": "Exponential", "lam": 2.0},
        {"dist": "Beta", "alpha": 2.0, "beta": 5.0},
    ],
)
def test_from_spec_every_distribution(spec):
    prior = Prior.from_spec(spec, "p")
    assert prior.to_spec() == {k: (v if k == "dist" else float(v)) for k, v in spec.items()}
    draws = prior.draw(500, seed=1)
    assert draws.shape == (500,)
    assert np.all(np.isfinite(draws))
    support = DISTRIBUTIONS[spec["dist"]][1]
    if support == "positive":
        assert np.all(draws >= 0)
    elif support == "unit":
        assert np.all((draws > 0) & (draws < 1))
    elif support == "interval":
        assert np.all((draws >= spec["lower"]) & (draws <= spec["upper"]))


@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_cauchy_location_may_be_zero_or_negative(alpha):
    prior = Prior.from_spec({"dist": "Cauchy", "alpha": alpha, "beta": 1.0}, "p")
    assert prior.args["alpha"] == alpha


def test_cauchy_positive_location_accepted():
    prior = Prior.from_spec({"dist": "Cauchy", "alpha": 2.0, "beta": 1.0}, "p")
    assert np.median(prior.draw(20000, seed=3)) == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ({"mu": 0.0, "sigma": 1.0}, "must be a table with a 'dist' key"),
        ("LogNormal", "must be a table with a 'dist' key"),
        ({"dist": "Lognormal", "mu": 0.0, "sigma": 1.0}, "unknown distribution 'Lognormal'"),
        ({"dist": "Normal", "mu": 0.0, "sigma": 1.0, "scale": 2.0}, "unknown ['scale']"),
        ({"dist": "Normal", "mu": 0.0}, "missing ['sigma']"),
        ({"dist": "Normal", "mu": float("nan"), "sigma": 1.0}, "argument mu must be a finite number"),
        ({"dist": "Normal", "mu": float("inf"), "sigma": 1.0}, "argument mu must be a finite number"),
        ({"dist": "Normal", "mu": "0", "sigma": 1.0}, "argument mu must be a number or the name of a parameter"),
        ({"dist": "Normal", "mu": True, "sigma": 1.0}, "argument mu must be a finite number"),
        ({"dist": "Normal", "mu": 0.0, "sigma": 0.0}, "argument sigma must be > 0"),
        ({"dist": "HalfNormal", "sigma": -1.0}, "argument sigma must be > 0"),
        ({"dist": "Gamma", "alpha": 2.0, "beta": 0.0}, "argument beta must be > 0"),
        ({"dist": "Exponential", "lam": -2.0}, "argument lam must be > 0"),
        ({"dist": "Uniform", "lower": 1.0, "upper": 1.0}, "lower must be below upper"),
        ({"dist": "Uniform", "lower": 2.0, "upper": 1.0}, "lower must be below upper"),
        ({"dist": "TruncatedNormal", "mu": 0, "sigma": 1, "lower": 3, "upper": -3}, "lower must be below upper"),
    ],
)
def test_from_spec_errors(spec, fragment):
    with pytest.raises(PriorError) as info:
        Prior.from_spec(spec, "parameter 'E'")
    assert fragment in str(info.value)
    assert "parameter 'E'" in str(info.value)


def test_unknown_distribution_lists_choices():
    with pytest.raises(PriorError) as info:
        Prior.from_spec({"dist": "Weibull"}, "p")
    for name in DISTRIBUTIONS:
        assert name in str(info.value)


# --- draws ------------------------------------------------------------------------------------

N_DRAWS = 20000


@pytest.mark.parametrize(
    "spec, frozen",
    [
        ({"dist": "Normal", "mu": -0.7, "sigma": 2.0}, stats.norm(loc=-0.7, scale=2.0)),
        ({"dist": "LogNormal", "mu": 0.5, "sigma": 1.0}, stats.lognorm(s=1.0, scale=math.exp(0.5))),
        ({"dist": "HalfNormal", "sigma": 0.1}, stats.halfnorm(scale=0.1)),
        # PyMC's Gamma(alpha, beta) has rate beta, i.e. scale 1/beta
        ({"dist": "Gamma", "alpha": 2.0, "beta": 0.1}, stats.gamma(a=2.0, scale=10.0)),
    ],
)
def test_draw_median_matches_analytic(spec, frozen):
    draws = Prior.from_spec(spec, "p").draw(N_DRAWS, seed=12345)
    assert draws.shape == (N_DRAWS,)
    median = frozen.median()
    # standard error of a sample median: 1 / (2 f(m) sqrt(n)); allow 5 standard errors
    se = 1.0 / (2.0 * frozen.pdf(median) * math.sqrt(N_DRAWS))
    assert abs(np.median(draws) - median) < 5 * se
    # a second check that catches a wrong scale that leaves the median alone
    iqr = frozen.ppf(0.75) - frozen.ppf(0.25)
    assert np.subtract(*np.percentile(draws, [75, 25])) == pytest.approx(iqr, rel=0.05)


def test_draw_size_and_seed_reproducible():
    prior = Prior.from_spec({"dist": "LogNormal", "mu": 0.0, "sigma": 1.0}, "p")
    a = prior.draw(7, seed=42)
    b = prior.draw(7, seed=42)
    c = prior.draw(7, seed=43)
    assert a.shape == (7,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    rng = np.random.default_rng(0)
    assert prior.draw(3, seed=rng).shape == (3,)


def test_truncated_normal_draws_within_bounds_and_size():
    prior = Prior.from_spec({"dist": "TruncatedNormal", "mu": 0.0, "sigma": 1.0, "lower": 0.0, "upper": 1.0}, "p")
    draws = prior.draw(N_DRAWS, seed=5)
    assert draws.shape == (N_DRAWS,)
    assert np.all((draws > 0) & (draws < 1))
    median = stats.truncnorm(a=0.0, b=1.0).median()
    assert np.median(draws) == pytest.approx(median, abs=0.02)


# --- merge_priors ------------------------------------------------------------------------------

DEFAULTS = {
    "E": Prior.from_spec({"dist": "LogNormal", "mu": 0.5, "sigma": 1.0}, "E"),
    "alpha": Prior.from_spec({"dist": "LogNormal", "mu": -1.2, "sigma": 0.6}, "alpha"),
}


def test_merge_full_replacement():
    merged = merge_priors(DEFAULTS, {"E": {"dist": "Normal", "mu": 1.7, "sigma": 0.1}})
    assert merged["E"] == Prior("Normal", {"mu": 1.7, "sigma": 0.1})
    assert merged["alpha"] is DEFAULTS["alpha"]
    assert DEFAULTS["E"].dist == "LogNormal"  # defaults untouched


def test_merge_full_replacement_does_not_inherit_arguments():
    with pytest.raises(PriorError, match=r"missing \['sigma'\]"):
        merge_priors(DEFAULTS, {"E": {"dist": "Normal", "mu": 1.7}})


def test_merge_partial_update_of_one_argument():
    merged = merge_priors(DEFAULTS, {"alpha": {"sigma": 0.2}})
    assert merged["alpha"] == Prior("LogNormal", {"mu": -1.2, "sigma": 0.2})
    assert merged["E"] == DEFAULTS["E"]


def test_merge_partial_update_is_validated():
    with pytest.raises(PriorError, match="sigma must be > 0") as info:
        merge_priors(DEFAULTS, {"alpha": {"sigma": -0.2}}, source="my.toml")
    assert "my.toml" in str(info.value)


def test_merge_unknown_parameter_lists_known_names():
    with pytest.raises(PriorError) as info:
        merge_priors(DEFAULTS, {"Alpha": {"sigma": 0.2}}, source="cli")
    msg = str(info.value)
    assert "cli" in msg
    assert "['Alpha']" in msg
    assert "['E', 'alpha']" in msg


def test_merge_non_table_override():
    with pytest.raises(PriorError, match="must be a table"):
        merge_priors(DEFAULTS, {"E": 1.0})


# --- read_prior_file ---------------------------------------------------------------------------


def test_read_toml(tmp_path):
    path = tmp_path / "priors.toml"
    path.write_text('E = { dist = "Normal", mu = 1.7, sigma = 0.1 }\n[alpha]\nsigma = 0.3\n')
    data = read_prior_file(path)
    assert data == {"E": {"dist": "Normal", "mu": 1.7, "sigma": 0.1}, "alpha": {"sigma": 0.3}}
    merged = merge_priors(DEFAULTS, data, source=str(path))
    assert merged["E"].dist == "Normal"
    assert merged["alpha"].args == {"mu": -1.2, "sigma": 0.3}


def test_read_json(tmp_path):
    path = tmp_path / "priors.json"
    spec = {"E": {"dist": "HalfNormal", "sigma": 2.0}}
    path.write_text(json.dumps(spec))
    assert read_prior_file(str(path)) == spec


@pytest.mark.parametrize(
    "name, text, fragment",
    [
        ("bad.toml", "E = { dist = ", "is not valid toml"),
        ("bad.json", "{\"E\": ", "is not valid json"),
        ("list.json", "[1, 2]", "must hold one table per parameter"),
    ],
)
def test_read_invalid_files(tmp_path, name, text, fragment):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PriorError) as info:
        read_prior_file(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_read_missing_file(tmp_path):
    with pytest.raises(PriorError, match="cannot read prior file"):
        read_prior_file(tmp_path / "nope.toml")
