"""Build the PyMC model of a law and a runs table. The only module that creates a ``pm.Model``.

The law is evaluated on the reference-scaled variables (``N / N_ref`` …) and observed on the
log-loss scale: ``log L_i ~ Normal(log f(N_i, D_i; θ), σ)`` (or Student-t).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayescale.expr import pytensor_backend
from bayescale.law import Law, Scales
from bayescale.priors import Prior
from bayescale.runs import Runs

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
        sigma = _distribution("sigma", law.priors["sigma"])
        observed = np.log(runs.loss)
        if law.noise == "student_t":
            nu = _distribution("nu", law.priors["nu"])
            pm.StudentT(OBSERVED, nu=nu, mu=mu, sigma=sigma, observed=observed, dims="run")
        else:
            pm.Normal(OBSERVED, mu=mu, sigma=sigma, observed=observed, dims="run")
    return model

