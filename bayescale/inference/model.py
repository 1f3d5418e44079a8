"""Build the PyMC model of a law and a runs table. The only module that creates a ``pm.Model``.

The law is evaluated on the reference-scaled variables (``N / N_ref`` …) and observed on the
log-loss scale through the law's error model (:mod:`bayescale.laws.noise`), e.g.
``log L_i ~ Normal(log f(N_i, D_i; θ), σ)``.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayescale.data.runs import Runs
from bayescale.laws.expr import pytensor_backend
from bayescale.laws.law import Law, Scales
from bayescale.laws.priors import Prior

__all__ = ["build_model", "scales_of", "OBSERVED"]

#: Name of the observed variable (and of the log-likelihood variable in a fit).
OBSERVED = "log_loss"


def scales_of(runs: Runs) -> Scales:
    """Reference scales of a runs table: the geometric means of N, D and C.

    Unique tokens U are measured in D's scale (``U_ref = D_ref``): laws compare U with D
    (``min(U, D)``, ``D / U``), which only makes sense in one unit.
    """
    u_ref = runs.D_ref if "U" in runs.frame else 1.0
    return Scales(N_ref=runs.N_ref, D_ref=runs.D_ref, C_ref=runs.C_ref, U_ref=u_ref)


def _distribution(name: str, prior: Prior) -> pt.TensorVariable:
    return getattr(pm, prior.dist)(name, **prior.args)


def build_model(law: Law, runs: Runs, scales: Scales | None = None) -> pm.Model:
    """Return the PyMC model of ``law`` fitted to ``runs``.

    Parameters
    ----------
    law : Law
        The law, with its priors and noise family.
    runs : Runs
        The validated runs table.
    scales : Scales, optional
        Reference scales; by default those of ``runs``.
    """
    scales = scales or scales_of(runs)
    coords = {"run": np.arange(runs.n_runs)}
    with pm.Model(coords=coords) as model:
        values: dict[str, object] = {}
        for name in law.parameters:
            values[name] = _distribution(name, law.priors[name])
        for name in law.variables:
            column = runs.frame[name].to_numpy(dtype=float)
            values[name] = pt.constant(column / getattr(scales, f"{name}_ref"))
        mean_loss = law.formula.evaluate(values, pytensor_backend())
        mu = pt.log(mean_loss)
        noise = {name: _distribution(name, law.priors[name]) for name in law.noise_parameters}
        law.error_model.observe(OBSERVED, mu, noise, np.log(runs.loss), dims="run")
    return model



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

    with ``x = log(N / N_ref)``, ``y = log(loss / L_ref)`` and ``c_b = log(C_b / C_ref)``. The
    scatter of the minima is non-centered (``z_b``), which keeps NUTS free of the funnel when the
    minima lie close to the power law (``tau`` near 0). Every free variable is a scalar, as
    :func:`bayescale.inference.sampling.sample` needs: ``a, g, tau, sigma`` and ``h_b, k_b, z_b`` for
    ``b = 0 … B-1``, named ``h_0``, ``k_0``, ``z_0``, …

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
        budgets); ``z_b`` are standard normal.
    """
    budget_index = np.asarray(budget_index, dtype=np.int64)
    log_c = np.asarray(log_c, dtype=float)
    with pm.Model(coords={"run": np.arange(len(x))}) as model:
        a = _distribution("a", priors["a"])
        g = _distribution("g", priors["g"])
        tau = _distribution("tau", priors["tau"])
        sigma = _distribution("sigma", priors["sigma"])
        h = pt.stack([_distribution(f"h_{b}", priors["h"]) for b in range(log_c.size)])
        k = pt.stack([_distribution(f"k_{b}", priors["k"]) for b in range(log_c.size)])
        z = pt.stack([pm.Normal(f"z_{b}", mu=0.0, sigma=1.0) for b in range(log_c.size)])
        m = g + a * pt.constant(log_c) + tau * z
        mu = h[budget_index] + k[budget_index] * (pt.constant(np.asarray(x, float)) - m[budget_index]) ** 2
        pm.Normal(OBSERVED, mu=mu, sigma=sigma, observed=np.asarray(y, float), dims="run")
    return model
