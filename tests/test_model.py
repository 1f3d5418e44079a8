"""Tier 1: the PyMC graph without sampling equals the NumPy law; gradients are finite."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, model_point

from bayescale.data.reading import read_runs
from bayescale.inference.model import OBSERVED, build_model, scales_of
from bayescale.laws.law_file import load_law


@pytest.fixture(scope="module")
def runs():
    return read_runs(ROOT / "data" / "example_runs.csv")


@pytest.mark.parametrize("noise", ["normal", "student_t"])
def test_graph_equals_numpy_log_likelihood(runs, noise):
    law = load_law("chinchilla").with_noise(noise)
    scales = scales_of(runs)
    model = build_model(law, runs, scales)
    assert {rv.name for rv in model.free_RVs} == set(law.sampling.variables()) | set(law.noise_parameters)
    assert {v.name for v in model.deterministics} == set(law.parameters)  # the draws keep the law's parameters
    point = {"E": 1.7, "A": 0.7, "alpha": 0.33, "B": 0.85, "beta": 0.27, "sigma": 0.02, "nu": 5.0}
    values = model_point(model, law, point)
    graph = model.compile_fn(model.logp(vars=[model[OBSERVED]], sum=False)[0])(values)
    params = {k: point[k] for k in law.all_parameters}
    numpy = law.log_likelihood(params, scales, runs.loss, N=runs.N, D=runs.D)
    np.testing.assert_allclose(graph, numpy, rtol=1e-8)  # gammaln differs in the last digits


def test_gradient_is_finite_at_the_initial_point(runs):
    model = build_model(load_law("chinchilla"), runs)
    start = model.initial_point()
    dlogp = model.compile_dlogp()(start)
    assert np.all(np.isfinite(dlogp)) and np.any(dlogp != 0)


def test_model_data_are_normalized(runs):
    model = build_model(load_law("chinchilla"), runs)
    observed = model.rvs_to_values[model[OBSERVED]].get_value()
    np.testing.assert_allclose(observed, np.log(runs.loss))
    scales = scales_of(runs)
    assert scales.N_ref == pytest.approx(np.exp(np.mean(np.log(runs.N))))


def test_value_shapes_match_pymcs_initial_point():
    """The sampler reads each free variable's shape from its type or dims instead of compiling
    PyMC's initial point; both must agree (scalar, per-group, and a vector without dims)."""
    import pymc as pm

    from bayescale.inference.sampling import _value_shapes

    with pm.Model(coords={"group": ["a", "b", "c"]}) as model:
        pm.HalfNormal("scale", 1.0)
        pm.Normal("offset", 0.0, 1.0, dims="group")
        pm.LogNormal("rates", 0.0, 1.0, shape=4)
    free = list(model.free_RVs)
    values = [model.rvs_to_values[rv] for rv in free]
    start = model.initial_point()
    assert _value_shapes(model, free, values) == [np.shape(start[v.name]) for v in values]


def test_graphs_are_built_without_stack_traces_and_the_users_setting_returns():
    """Recording a Python stack with each of the thousands of nodes a model's graph and its
    rewrites make cost a tenth of a second a fit; our graphs skip it, the user's own do not."""
    import pytensor
    import pytensor.tensor as pt

    from bayescale.inference.sampling import without_traces

    before = pytensor.config.traceback__limit
    assert before != 0  # PyTensor's default: traces on
    with without_traces():
        inside = pt.dscalar("x") + 1.0
    outside = pt.dscalar("y") + 1.0
    assert not getattr(inside.tag, "trace", None) and getattr(outside.tag, "trace", None)
    assert pytensor.config.traceback__limit == before
