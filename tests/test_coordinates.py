"""Sampling coordinates (``[sampling]`` in a law file): the same posterior, other coordinates."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import ROOT, model_point

from bayescale.data.reading import read_runs, runs_from_frame
from bayescale.errors import LawFileError
from bayescale.inference.model import build_model, sampled_in_coordinates
from bayescale.laws.law_file import law_from_text, load_law

POINT = {"E": 1.7, "A": 0.7, "alpha": 0.33, "B": 0.85, "beta": 0.27, "RD_star": 15.0, "RN_star": 5.0, "sigma": 0.02,
         "Nc": 0.6, "Dc": 1.8, "alpha_N": 0.07, "alpha_D": 0.11}


@pytest.fixture(scope="module")
def runs():
    return read_runs(ROOT / "data" / "example_runs.csv")


def _log_density(model, law, point):
    return float(model.compile_logp()(model_point(model, law, point)))


def _numerical_log_jacobian(coordinates, point) -> float:
    """log |det d(log parameters) / d(free variables)| by central differences of the NumPy map."""
    variables = coordinates.variables()
    start = coordinates.to_sampler(point)
    z0 = np.array([float(start[v]) for v in variables])

    def logs(z):
        found, _ = coordinates.log_parameters(dict(zip(variables, z)), np)
        return np.array([found[n] for n in coordinates.names])

    step = 1e-6
    jacobian = np.array([(logs(z0 + step * e) - logs(z0 - step * e)) / (2 * step) for e in np.eye(len(z0))]).T
    return float(np.log(abs(np.linalg.det(jacobian))))


@pytest.mark.parametrize("name", ["chinchilla", "chinchilla_tied", "data_constrained", "kaplan_floor"])
def test_the_coordinates_leave_the_posterior_unchanged(runs, name):
    """The model sampled in the ``[sampling]`` coordinates has the log density of the model
    sampled in the law's own parameters (log E, log A, …) plus the log-Jacobian of the change of
    variables, here a numerical determinant (0 for shares, log alpha_N for the bracket), so the
    posterior is the same. A wrong Jacobian or prior term would differ by a function of the
    point, which the three points (scaled by 0.5, 1, 2) would show."""
    law = load_law(name)
    if "U" in law.variables:
        runs = runs_from_frame(runs.frame.assign(U=runs.frame["D"] * 0.5), u_col="U")  # data repeated twice
    assert sampled_in_coordinates(law)
    plain = dataclasses.replace(law, sampling=None)
    inside, outside = build_model(law, runs), build_model(plain, runs)
    assert {rv.name for rv in inside.free_RVs} != {rv.name for rv in outside.free_RVs}
    for scale in (0.5, 1.0, 2.0):
        point = {k: v * scale if k != "sigma" else v for k, v in POINT.items() if k in law.all_parameters}
        jacobian = _numerical_log_jacobian(law.sampling, point)
        assert abs(jacobian) < 1e-6 if name != "kaplan_floor" else abs(jacobian) > 1.0
        np.testing.assert_allclose(_log_density(inside, law, point) - _log_density(outside, plain, point),
                                   jacobian, atol=1e-6)


@pytest.mark.parametrize("name", ["chinchilla", "kaplan_floor"])
def test_the_analytic_log_jacobian_is_the_numerical_one(name):
    coordinates = load_law(name).sampling
    for scale in (0.5, 1.0, 3.0):
        point = {k: v * scale for k, v in POINT.items() if k in coordinates.names}
        logs, log_jacobian = coordinates.log_parameters(coordinates.to_sampler(point), np)
        np.testing.assert_allclose([logs[n] for n in coordinates.names], [np.log(point[n]) for n in coordinates.names],
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(log_jacobian, _numerical_log_jacobian(coordinates, point), atol=1e-6)


def test_the_coordinates_map_back_to_the_parameters(runs):
    law = load_law("chinchilla")
    model = build_model(law, runs)
    point = {k: POINT[k] for k in law.all_parameters}
    import pytensor

    outputs = model.replace_rvs_by_values([model[n] for n in law.parameters])
    function = pytensor.function(model.value_vars, outputs, on_unused_input="ignore", mode="FAST_COMPILE")
    given = model_point(model, law, point)
    values = function(*[given[v.name] for v in model.value_vars])
    np.testing.assert_allclose(values, [point[n] for n in law.parameters], rtol=1e-12)


def test_a_prior_the_coordinates_cannot_carry_samples_the_parameters_themselves(runs):
    """E with a Normal prior (a user's override) may be negative: no log share, so the model
    falls back to the law's own parameters, with every prior in place."""
    law = load_law("chinchilla").with_priors({"E": {"dist": "Normal", "mu": 1.5, "sigma": 0.5}})
    assert not sampled_in_coordinates(law)
    model = build_model(law, runs)
    assert {rv.name for rv in model.free_RVs} == set(law.all_parameters)


LAW = """name = "x"
formula = "E + A / N^alpha + B / D^beta"
[parameters.E]
prior = {{ dist = "{e_dist}", mu = 0.5, sigma = 1.0 }}
[parameters.A]
prior = {{ dist = "LogNormal", mu = -1.0, sigma = 1.5 }}
[parameters.alpha]
prior = {{ dist = "LogNormal", mu = -1.2, sigma = 0.6 }}
[parameters.B]
prior = {{ dist = "LogNormal", mu = -1.0, sigma = 1.5 }}
[parameters.beta]
prior = {{ dist = "LogNormal", mu = -1.2, sigma = 0.6 }}
[sampling]
{sampling}
"""


@pytest.mark.parametrize("sampling, e_dist, message", [
    ('shares = ["E", "A", "B"]\nweights = 1', "LogNormal", "unknown key"),
    ('shares = "E"', "LogNormal", "two or more"),
    ('shares = ["E", "E"]', "LogNormal", "twice"),
    ('shares = ["E", "Z"]', "LogNormal", "not parameters"),
    ('shares = ["E", "A"]\nslopes = { alpha = "B" }', "LogNormal", "one of the shares"),
    ('shares = ["E", "A", "alpha"]\nslopes = { alpha = "A" }', "LogNormal", "not a share"),
    ('shares = ["E", "A", "B"]', "Normal", "positive numbers"),
])
def test_bad_sampling_tables_are_refused(sampling, e_dist, message):
    with pytest.raises(LawFileError, match=message):
        law_from_text(LAW.format(sampling=sampling, e_dist=e_dist))


@pytest.mark.parametrize("sampling, message", [
    ('floor = "E"\nbracket = ["A", "B"]', "floor, the bracket's two scales and two exponents"),
    ('floor = "E"\nbracket = ["A", "B"]\nexponents = ["alpha", "alpha"]', "twice"),
    ('floor = "E"\nbracket = ["A", "B"]\nexponents = ["alpha", "beta"]\nshares = ["E", "A"]', "exactly one form"),
    ('slopes = { alpha = "A" }', "exactly one form"),
])
def test_bad_bracket_tables_are_refused(sampling, message):
    with pytest.raises(LawFileError, match=message):
        law_from_text(LAW.format(sampling=sampling, e_dist="LogNormal"))


def test_a_sampling_table_is_read():
    law = law_from_text(LAW.format(sampling='shares = ["E", "A", "B"]\nslopes = { alpha = "A" }', e_dist="LogNormal"))
    assert law.sampling.shares == ("E", "A", "B") and law.sampling.slopes == {"alpha": "A"}
    assert law.sampling.variables() == ("log_level", "log_A_over_E", "log_B_over_E", "log_alpha_A")


SAMPLED = LAW.format(sampling='shares = ["E", "A", "B"]', e_dist="LogNormal")


def test_a_sampler_table_raises_the_first_attempt_and_never_lowers_it():
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import _first_attempt

    law = law_from_text(SAMPLED + "[sampler]\ntarget_accept = 0.95\ndraws = 1000\n")
    assert law.sampler == {"target_accept": 0.95, "draws": 1000}
    first = _first_attempt(law, SamplerSettings(draws=500, target_accept=0.9, seed=3))
    assert (first.target_accept, first.draws, first.seed) == (0.95, 1000, 3)
    asked = SamplerSettings(draws=4000, target_accept=0.99)
    assert _first_attempt(law, asked) == asked
    assert load_law("data_constrained").sampler == {"target_accept": 0.97, "draws": 1000}
    assert load_law("kaplan_floor").sampler == {"target_accept": 0.97, "draws": 1000}
    assert load_law("chinchilla").sampler == {}


def test_a_raised_choice_of_the_user_gets_a_note_and_the_defaults_none(caplog):
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import _first_attempt

    law = law_from_text(SAMPLED + "[sampler]\ntarget_accept = 0.95\ndraws = 1000\n")
    with caplog.at_level("WARNING", logger="bayescale"):
        _first_attempt(law, SamplerSettings())
        _first_attempt(law, SamplerSettings(draws=2000))
    assert caplog.records == []
    with caplog.at_level("WARNING", logger="bayescale"):
        first = _first_attempt(law, SamplerSettings(draws=300))
    assert first.draws == 1000 and first.target_accept == 0.95
    assert [r.getMessage() for r in caplog.records] == [
        f"{law.name} is sampled with at least 1000 draws a chain and target acceptance 0.95 (the [sampler] table of its "
        "law file): raised draws from 300 to 1000"]


@pytest.mark.parametrize("table, message", [
    ("tune = 2000", "does not know \\['tune'\\]"),
    ("target_accept = 1.5", "target_accept must be a number from 0.6 to 0.999"),
    ("target_accept = true", "target_accept must be a number"),
    ("draws = 10.5", "draws must be a whole number"),
    ("draws = 0", "draws must be a whole number from 50"),
])
def test_bad_sampler_tables_are_refused(table, message):
    with pytest.raises(LawFileError, match=message):
        law_from_text(SAMPLED + "[sampler]\n" + table + "\n")
