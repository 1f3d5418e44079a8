"""Stacking weights of fits of the same runs (Yao, Vehtari, Simpson and Gelman 2018).

Weights on the simplex that maximise the log score of the mixture's predictions of held-out
points, which are:

- ``"loo"``: each run, by PSIS-LOO (how well each model explains the runs it was fitted to);
- ``"lfo"``: the runs of the top compute, each model refitted below them (leave-future-out,
  which rewards models that extrapolate). With an isoFLOP analysis among the fits, which predicts
  no loss at a budget it did not fit, the held-out points are instead the minima of the held-out
  isoFLOP curves, and each model is scored by its N* at those budgets.

L* of a mixture with an isoFLOP analysis comes from the laws alone: :func:`loss_weights`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from bayescale.errors import BayescaleError
from bayescale.inference.workers import quiet_notes

#: Fewer held-out isoFLOP minima than this, and the leave-future-out weights get a note.
FEW_MINIMA = 3

__all__ = ["stacking_weights", "loo_weights", "lfo_weights", "loss_weights", "has_loss"]


def stacking_weights(lpd: np.ndarray) -> np.ndarray:
    """Weights on the simplex maximising ``sum_i log sum_k w_k exp(lpd[i, k])`` (points × models)."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp, softmax

    lpd = np.asarray(lpd, dtype=float)
    k = lpd.shape[1]

    def loss(z):
        w = softmax(np.r_[0.0, z])
        return -np.sum(logsumexp(lpd, b=w[None, :], axis=1))

    best = minimize(loss, np.zeros(k - 1), method="BFGS")
    return softmax(np.r_[0.0, best.x])


def has_loss(fits: Sequence[Any]) -> np.ndarray:
    """Which fits predict a loss at a new budget: every fit of a law, no isoFLOP analysis."""
    from bayescale.decisions.isoflop import IsoflopFit

    return np.array([not isinstance(fit, IsoflopFit) for fit in fits])


def loo_weights(fits: Sequence[Any]) -> np.ndarray:
    """PSIS-LOO stacking weights of fits of different laws to the same runs, in their order."""
    from bayescale.decisions.comparison import _labels, check_compatible, compare_fits

    check_compatible(fits, "an ensemble")
    labels = _labels(fits)
    table = compare_fits(fits, labels).table
    return np.array([float(table.loc[label, "weight"]) for label in labels])


def lfo_weights(fits: Sequence[Any], holdout_top: float, settings: Any = None,
                unique_tokens: float | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Leave-future-out stacking weights: on held-out losses, or on held-out minima with an isoFLOP analysis.

    ``settings`` of the law refits, or None: each fit's own (an isoFLOP analysis always keeps its own).
    Returns the weights, the weights L* is mixed by (with an isoFLOP analysis: the laws' alone,
    stacked on the held-out losses under the same refits) and notes for the reader (how few points
    the weights rest on).
    """
    unconverged: list[str] = []
    with quiet_notes():  # their notes concern fits the reader did not ask for
        if has_loss(fits).all():
            w = stacking_weights(_lfo_loss_lpd(fits, holdout_top, settings, unconverged))
            return w, w, _unconverged_note(unconverged)
        lpd, law_lpd = _lfo_vertex_lpd(fits, holdout_top, settings, unique_tokens, unconverged)
    notes = _unconverged_note(unconverged)
    if lpd.shape[0] < FEW_MINIMA:
        notes.append(f"the leave-future-out weights rest on {lpd.shape[0]} held-out isoFLOP "
                     f"minim{'um' if lpd.shape[0] == 1 else 'a'}: with so few, stacking puts (nearly) all the weight "
                     "on whichever model came closest; hold out more budgets (--holdout-top) if the table has them")
    laws = has_loss(fits)
    w_loss = np.zeros(len(fits))
    w_loss[laws] = stacking_weights(law_lpd) if laws.sum() > 1 else 1.0
    return stacking_weights(lpd), w_loss, notes


def _unconverged_note(labels: list[str]) -> list[str]:
    if not labels:
        return []
    return [f"the leave-future-out refit of {', '.join(labels)} did not pass the convergence gates; its weight "
            "rests on an unconverged fit: read it with care, or weigh by PSIS-LOO (--weights loo)"]


def loss_weights(fits: Sequence[Any], w: np.ndarray, method: str) -> np.ndarray:
    """The weights L* is mixed by, for given or PSIS-LOO weights ``w`` (``method`` "given" or "loo").

    ``w`` where every fit has a loss; else the laws' alone, since an isoFLOP analysis has no loss
    at a new budget: given weights are renormalised over the laws, PSIS-LOO weights stacked again
    over the laws alone (one law: all its own). Leave-future-out weights come with their own
    (:func:`lfo_weights`).
    """
    laws = has_loss(fits)
    if laws.all():
        return w
    if method == "given":
        if w[laws].sum() <= 0:
            raise BayescaleError("the weights give nothing to a fit of a law, and L* comes from the laws alone "
                                 "(an isoFLOP analysis has none at a new budget): give a law some weight")
        return np.where(laws, w, 0.0) / w[laws].sum()
    chosen = [fit for fit, law in zip(fits, laws) if law]
    out = np.zeros(len(fits))
    out[laws] = loo_weights(chosen) if len(chosen) > 1 else 1.0
    return out


def _lfo_loss_lpd(fits: Sequence[Any], holdout_top: float, settings: Any, unconverged: list[str]) -> np.ndarray:
    """Held-out log predictive density of each run (rows) under each law refitted below the cutoff
    (columns); the laws whose refit fails its gates are added to ``unconverged``."""
    from bayescale.decisions.backtesting import holdout_lpd, split_by_compute
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import fit as fit_law

    columns = []
    for fit in fits:
        train, held, _ = split_by_compute(fit.runs, holdout_top)
        own = replace(settings or SamplerSettings.from_dict(fit.sampler), progressbar=False)
        refit = fit_law(train, fit.law, settings=own, allocation_refit=False)
        if not refit.gates.passed:
            unconverged.append(fit.law.name)
        columns.append(holdout_lpd(refit, held))
    return np.stack(columns, axis=1)


def _lfo_vertex_lpd(fits: Sequence[Any], holdout_top: float, settings: Any,
                    unique_tokens: float | None, unconverged: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Log density of each held-out isoFLOP minimum (rows) under each model refitted below the cutoff
    (columns); and of each held-out run's loss (rows) under each law's same refit (columns, laws only).

    A law is scored by the N* it would print there (``N_opt_predictive`` where its error model has
    a miss), an isoFLOP analysis by its predictive N* (the power law scattered by ``tau``, widened).
    """
    from bayescale.decisions.backtesting import holdout_lpd, split_by_compute
    from bayescale.decisions.isoflop import IsoflopFit, fit_isoflop
    from bayescale.decisions.vertices import held_out_vertices, vertex_log_density
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import fit as fit_law

    train, held, cutoff = split_by_compute(fits[0].runs, holdout_top)
    vertices = held_out_vertices(held)
    if not vertices:
        raise BayescaleError(
            f"leave-future-out weights with an isoFLOP analysis score each model's N* at the minima of the held-out "
            f"isoFLOP curves, and no budget at or above {cutoff:.3g} FLOPs (the top {holdout_top:g} of the runs by "
            "compute) is one (4 or more model sizes, the lowest loss at neither end): hold out more "
            "(--holdout-top), use weights='loo' (--weights loo), or give the weights")
    budgets = [v[0] for v in vertices]
    columns, law_columns = [], []
    for fit in fits:
        if isinstance(fit, IsoflopFit):
            own = replace(SamplerSettings.from_dict(fit.provenance["sampler"]), progressbar=False)
            refit = fit_isoflop(train, tolerance=fit.tolerance, settings=own, drop_unusable=True)
            optimum = refit.optimum(budgets)
        else:
            own = replace(settings or SamplerSettings.from_dict(fit.sampler), progressbar=False)
            extra = {"unique_tokens": unique_tokens} if "U" in fit.law.variables else {}
            refit = fit_law(train, fit.law, settings=own)
            optimum = refit.optimum(budgets, **extra)
            law_columns.append(holdout_lpd(refit, held))
        if not refit.gates.passed:
            unconverged.append("the isoFLOP analysis" if isinstance(fit, IsoflopFit) else fit.law.name)
        draws = optimum.N_opt_predictive if optimum.N_opt_predictive is not None else optimum.N_opt
        columns.append(vertex_log_density(draws, vertices))
    return np.stack(columns, axis=1), np.stack(law_columns, axis=1)
