"""Build the PyMC model of a law and a runs table. The only module that creates a ``pm.Model``.

The law is evaluated on the reference-scaled variables (``N / N_ref`` …) and observed on the
log-loss scale through the law's error model (:mod:`bayescale.laws.noise`), e.g.
``log L_i ~ Normal(log f(N_i, D_i; θ), σ)``.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt

from bayescale.data.runs import Runs
from bayescale.laws.coordinates import Coordinates
from bayescale.laws.expr import pytensor_backend
from bayescale.laws.law import Law, Scales
from bayescale.laws.priors import Prior

__all__ = ["build_model", "compiled_law_model", "law_data", "sampled_in_coordinates", "scales_of", "OBSERVED"]

#: Name of the observed variable (and of the log-likelihood variable in a fit).
OBSERVED = "log_loss"


def scales_of(runs: Runs) -> Scales:
    """Reference scales of a runs table: the geometric means of N, D and C.

    Unique tokens U are measured in D's scale (``U_ref = D_ref``): laws compare U with D
    (``min(U, D)``, ``D / U``), which only makes sense in one unit.
    """
    u_ref = runs.D_ref if "U" in runs.frame else 1.0
    return Scales(N_ref=runs.N_ref, D_ref=runs.D_ref, C_ref=runs.C_ref, U_ref=u_ref)


def _distribution(name: str, prior: Prior, values: dict | None = None) -> pt.TensorVariable:
    """A PyMC random variable for ``prior``; hierarchical arguments are looked up in ``values``."""
    args = {k: (values or {})[v] if isinstance(v, str) else v for k, v in prior.args.items()}
    if not prior.centered:  # non-centred: a standard-normal offset per level, the value a deterministic
        offset = pm.Normal(f"{name}_offset", 0.0, 1.0, dims=prior.dims or None)
        value = args["mu"] + args["sigma"] * offset
        return pm.Deterministic(name, pt.exp(value) if prior.dist == "LogNormal" else value, dims=prior.dims or None)
    return getattr(pm, prior.dist)(name, **args, dims=prior.dims or None)


def law_data(law: Law, runs: Runs, scales: Scales) -> dict[str, np.ndarray]:
    """The data a law's model reads: scaled run variables, dim codes and the observed log loss."""
    data = {name: runs.frame[name].to_numpy(dtype=float) / getattr(scales, f"{name}_ref") for name in law.variables}
    data |= {dim: runs.codes(dim) for dim in law.dims}
    data |= law.error_model.run_data(runs)
    data[OBSERVED] = np.log(runs.loss)
    return data


def build_model(law: Law, runs: Runs, scales: Scales | None = None) -> pm.Model:
    """Return the PyMC model of ``law`` fitted to ``runs``.

    The data sit in PyTensor shared variables named after the run variables, the dims and
    :data:`OBSERVED` (see :func:`law_data`), so a compiled model can take new runs.

    Parameters
    ----------
    law : Law
        The law, with its priors and noise family.
    runs : Runs
        The validated runs table; it must have a column for each dim of the law.
    scales : Scales, optional
        Reference scales; by default those of ``runs``.
    """
    return _model_and_data(law, runs, scales or scales_of(runs))[0]


def _model_and_data(law: Law, runs: Runs, scales: Scales) -> tuple[pm.Model, dict]:
    """The model and its shared data variables, by name."""
    # law_data first: it names the missing column when the law has a dim the runs lack
    data = {name: pytensor.shared(value, name=name) for name, value in law_data(law, runs, scales).items()}
    coords = {dim: list(runs.levels[dim]) for dim in law.dims}
    with pm.Model(coords=coords) as model:
        values: dict[str, object] = dict(data)
        if sampled_in_coordinates(law):
            values |= _in_coordinates(law.sampling, law.priors)
        for name in law.parameters:
            if name not in values:
                values[name] = _distribution(name, law.priors[name], values)
        mu = pt.log(law.formula.evaluate(values, pytensor_backend()))
        noise = {name: _distribution(name, law.priors[name], values) for name in law.noise_parameters}
        law.error_model.observe(OBSERVED, mu, noise, data[OBSERVED], {k: data[k] for k in law.error_model.data_names})
    return model, data


def sampled_in_coordinates(law: Law) -> bool:
    """Whether NUTS samples ``law`` in its file's ``[sampling]`` coordinates (which need scalar,
    numeric, positive priors for the parameters they replace; a user's override may take that away)."""
    return law.sampling is not None and law.sampling.applies(law.priors)


def _in_coordinates(coordinates: Coordinates, priors: dict[str, Prior]) -> dict[str, pt.TensorVariable]:
    """The parameters ``coordinates`` replace, as deterministics of the sampler's free variables,
    starting at the priors' medians.

    The priors stay on the parameters: a potential adds each one's log density at its value and
    the log of the value (the density of the parameter's logarithm), and the log-Jacobian of the
    map from the free variables to those logarithms, so that sum is the density of the sampler's
    coordinates and the posterior is unchanged.
    """
    start = coordinates.to_sampler({n: priors[n].median() for n in coordinates.names})
    free = {name: pm.Flat(name, initval=float(start[name])) for name in coordinates.variables()}
    logs, log_jacobian = coordinates.log_parameters(free, pt)
    values = {name: pm.Deterministic(name, pt.exp(logs[name])) for name in coordinates.names}
    density = sum(pm.logp(getattr(pm, priors[n].dist).dist(**priors[n].args), values[n]) + logs[n] for n in logs)
    pm.Potential("prior_in_coordinates", density + log_jacobian)
    return values


_COMPILED: OrderedDict[str, object] = OrderedDict()
_COMPILED_MAX = 16


def _structure_key(law: Law, runs: Runs) -> str:
    """What the compiled graph depends on: formula, priors, error model, dims and their levels."""
    spec = {"formula": law.formula.source, "priors": {k: law.priors[k].to_spec() for k in law.all_parameters},
            "noise": law.noise, "variables": law.variables, "levels": {d: runs.levels[d] for d in law.dims},
            "coordinates": law.sampling.to_table() if sampled_in_coordinates(law) else None}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def compiled_law_model(law: Law, runs: Runs, scales: Scales | None = None):
    """The compiled model of ``law`` with the data of ``runs``, reused across calls in this process.

    The first call for a law (formula, priors, error model) compiles it; later calls, with any
    runs, swap the data into the compiled function. Refits in backtests, calibration and
    simulation studies pay the compilation once.

    Returns
    -------
    bayescale.inference.sampling.CompiledModel
    """
    from bayescale.inference.sampling import compile_model, without_traces

    scales = scales or scales_of(runs)
    key = _structure_key(law, runs)
    compiled = _COMPILED.get(key)
    if compiled is None:
        with without_traces():
            model, data = _model_and_data(law, runs, scales)
            compiled = compile_model(model, law.priors, data)
        _COMPILED[key] = compiled
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(key)
        compiled.set_data(law_data(law, runs, scales))
    return compiled


def build_isoflop_model(
    x: np.ndarray,
    y: np.ndarray,
    budget_index: np.ndarray,
    log_c: np.ndarray,
    priors: dict[str, Prior],
) -> pm.Model:
    """Return the PyMC model of an isoFLOP analysis (Chinchilla Approach 2), in normalized units.

    For run ``i`` in budget ``b``::

        y_i ~ Normal(h_b + k_b (x_i - m_b)^2, sigma)        a parabola in log N per budget
        m_b = g + a c_b + tau z_b,   z_b ~ Normal(0, 1)      minima scattered about a power law

    with ``x = log(N / N_ref)``, ``y = log(loss / L_ref)`` and ``c_b = log(C_b / C_ref)``.
    ``h``, ``k`` and ``z`` are vectors over the dim ``budget``. The scatter of the minima is
    non-centred (``z_b``). Tried on the Porian sweeps and dropped: centred minima (divergences
    where ``tau`` nears 0), a parabola in slope form about each budget's mean size (more
    divergences), a pooled curvature (no fewer divergences).

    Parameters
    ----------
    x, y : ndarray of shape ``(run,)``
        Normalized log model size and log loss.
    budget_index : ndarray of int, shape ``(run,)``
        The budget ``0 … B-1`` of each run.
    log_c : ndarray of shape ``(B,)``
        Normalized log compute of each budget.
    priors : dict
        Priors of ``a, g, tau, sigma`` and the per-budget priors ``h`` and ``k`` (shared by all
        budgets).
    """
    from dataclasses import replace

    budget_index = np.asarray(budget_index, dtype=np.int64)
    log_c = np.asarray(log_c, dtype=float)
    with pm.Model(coords={"run": np.arange(len(x)), "budget": [str(b) for b in range(log_c.size)]}) as model:
        a = _distribution("a", priors["a"])
        g = _distribution("g", priors["g"])
        tau = _distribution("tau", priors["tau"])
        sigma = _distribution("sigma", priors["sigma"])
        h = _distribution("h", replace(priors["h"], dims=("budget",)))
        k = _distribution("k", replace(priors["k"], dims=("budget",)))
        z = pm.Normal("z", 0.0, 1.0, dims="budget")
        m = g + a * pt.constant(log_c) + tau * z
        mu = h[budget_index] + k[budget_index] * (pt.constant(np.asarray(x, float)) - m[budget_index]) ** 2
        pm.Normal(OBSERVED, mu=mu, sigma=sigma, observed=np.asarray(y, float), dims="run")
    return model
