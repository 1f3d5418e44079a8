"""Prior sensitivity: refit with every prior's scale widened and narrowed, and see what moves.

A fixed factor (×2 and ×0.5 on each prior's scale argument: ``sigma`` of Normal, LogNormal and
HalfNormal priors, ``beta`` of HalfCauchy) rather than power-scaling: it is what a user means by
"what if my priors were twice as vague", and it works for any law without the log-likelihood.
Reported: the relative move of the median N* and L* at each budget (or, for a law without an
allocation, of each parameter's median).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["prior_sensitivity", "scaled_priors"]

#: The argument that sets a prior's width, per distribution.
SCALE_ARGS = {"Normal": "sigma", "LogNormal": "sigma", "HalfNormal": "sigma", "HalfCauchy": "beta",
              "StudentT": "sigma", "Cauchy": "beta", "TruncatedNormal": "sigma"}
FACTORS = {"priors x2": 2.0, "priors x0.5": 0.5}


def scaled_priors(law: Any, factor: float) -> dict[str, dict[str, float]]:
    """Overrides multiplying each numeric prior's scale by ``factor`` (others are left as they are)."""
    out = {}
    for name in law.all_parameters:
        prior = law.priors[name]
        arg = SCALE_ARGS.get(prior.dist)
        if arg and isinstance(prior.args.get(arg), int | float):
            out[name] = {arg: float(prior.args[arg]) * factor}
    return out


def prior_sensitivity(fit: Any, budgets: Sequence[float] | None, settings: Any = None) -> dict[str, dict[str, float]]:
    """Relative moves of the medians of N* and L* (or of the parameters) when the priors change.

    Returns
    -------
    dict
        ``{"priors x2": {"N_opt@1e+24": 0.03, …}, "priors x0.5": {…}}``: (new − old) / old.
    """
    from bayescale.results.fitting import fit as fit_law

    def medians(result: Any) -> dict[str, float]:
        if budgets is not None and len(budgets):
            found = result.optimum(budgets, with_miss=False)
            out = {f"N_opt@{b:.3g}": float(np.nanmedian(found.N_opt[:, j])) for j, b in enumerate(budgets)}
            return out | {f"L_opt@{b:.3g}": float(np.nanmedian(found.L_opt[:, j])) for j, b in enumerate(budgets)}
        return {name: float(np.median(values)) for name, values in result.draws().items() if np.ndim(values) == 1}

    base = medians(fit)
    moves = {}
    for label, factor in FACTORS.items():
        refit = fit_law(fit.runs, fit.law.with_priors(scaled_priors(fit.law, factor), source=f"sensitivity {label}"),
                        settings=settings)
        new = medians(refit)
        moves[label] = {k: (new[k] - base[k]) / base[k] for k in base}
    return moves
