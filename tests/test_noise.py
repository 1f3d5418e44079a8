"""The error-model registry: lookup, NumPy densities against SciPy, predictive draws, PyMC graph."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayescale.errors import LawFileError
from bayescale.laws.law_file import load_law
from bayescale.laws.noise import ErrorModel, error_models, get_error_model, register

PARAMS = {"normal": {"sigma": 0.03}, "student_t": {"sigma": 0.03, "nu": 4.0}}
SCIPY = {"normal": lambda y, mu, p: stats.norm.logpdf(y, mu, p["sigma"]),
         "student_t": lambda y, mu, p: stats.t.logpdf(y, p["nu"], mu, p["sigma"])}


def test_registry_lists_the_built_in_models_and_rejects_unknown_names():
    assert {"normal", "student_t"} <= set(error_models())
    with pytest.raises(LawFileError, match="unknown error model 'gaussian'.*normal"):
        get_error_model("gaussian")
    with pytest.raises(LawFileError, match="unknown error model"):
        load_law("chinchilla").with_noise("gaussian")


@pytest.mark.parametrize("name", ["normal", "student_t"])
def test_logpdf_matches_scipy(name):
    y = np.log(np.array([2.1, 2.3, 3.0]))
    mu = np.log(np.array([2.0, 2.35, 2.9]))
    np.testing.assert_allclose(get_error_model(name).logpdf(y, mu, PARAMS[name]), SCIPY[name](y, mu, PARAMS[name]))


@pytest.mark.parametrize("name", ["normal", "student_t"])
def test_draws_scatter_about_mu_with_the_models_scale(name):
    model = get_error_model(name)
    draws = model.draw(np.full(40_000, 1.0), PARAMS[name], np.random.default_rng(0))
    assert abs(np.median(draws) - 1.0) < 0.002
    iqr = np.subtract(*np.percentile(draws, [75, 25]))
    expected = {"normal": 2 * 0.6745 * 0.03, "student_t": 2 * stats.t.ppf(0.75, 4.0) * 0.03}[name]
    assert iqr == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("name", ["normal", "student_t"])
def test_pymc_likelihood_equals_numpy_logpdf(name):
    import pymc as pm

    y = np.log(np.array([2.1, 2.3, 3.0]))
    mu = np.log(np.array([2.0, 2.35, 2.9]))
    model = get_error_model(name)
    with pm.Model() as m:
        model.observe("obs", mu, PARAMS[name], y)
    logp = m.compile_logp(sum=False)({})
    np.testing.assert_allclose(np.asarray(logp[0]), model.logpdf(y, mu, PARAMS[name]), rtol=1e-8)


def test_a_new_error_model_is_one_class(monkeypatch):
    """Adding a model is one registered class; laws then accept it by name."""
    import bayescale.laws.noise as noise

    monkeypatch.setattr(noise, "_REGISTRY", dict(noise._REGISTRY))

    @register
    class Laplace(ErrorModel):
        name = "laplace_test"
        title = "Laplace noise"
        equation = "ε ~ Laplace(0, b)"
        parameters = ("sigma",)
        defaults = {"sigma": {"dist": "HalfNormal", "sigma": 0.1}}
        descriptions = {"sigma": "scale"}

        def logpdf(self, y, mu, params):
            return stats.laplace.logpdf(y, mu, params["sigma"])

    law = load_law("chinchilla").with_noise("laplace_test")
    assert law.noise_parameters == ("sigma",) and law.error_model.title == "Laplace noise"
    with pytest.raises(ValueError, match="taken"):
        register(Laplace)
