"""Decisions under uncertainty: which N to train at a budget when N* is uncertain.

- :func:`recommend`: the N that minimises the posterior *expected* loss at the budget (not the
  plug-in median of N*): one size for every draw, scored by every draw.
- :func:`judge_candidate`: for a candidate N on the budget, per draw: the loss penalty against
  that draw's own optimum, the *wasted compute* (the fraction of the budget that a run at the
  optimum would not have needed to reach the candidate's loss) and whether N* exceeds it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayescale.laws.flops import tokens_for_compute
from bayescale.results.fitted import allocation_source

__all__ = ["recommend", "recommend_stacked", "judge_candidate", "wasted_compute"]

_FRACTIONS = np.geomspace(0.05, 1.0, 121)


def _loss(fit: Any, draws: dict, n: np.ndarray, budget: float, extra: dict) -> np.ndarray:
    law = fit.law
    params = {k: np.asarray(draws[k], dtype=float).reshape(-1, 1) for k in law.parameters}
    with np.errstate(all="ignore"):
        value = law.loss(params, fit.scales, N=n, D=tokens_for_compute(budget, n), C=np.full(np.shape(n), budget), **extra)
    return np.where(np.isfinite(value), value, np.inf)


def _optimum_at(fit: Any, budget: float, unique_tokens: float | None, optimum: Any) -> Any:
    """The fit's optimum at ``budget``: the one given (already computed by the caller), or computed here."""
    if optimum is not None:
        return optimum
    return fit.optimum([budget], with_miss=False, **({"unique_tokens": unique_tokens} if unique_tokens is not None else {}))


def recommend(fit: Any, budget: float, unique_tokens: float | None = None, grid: int = 241,
              optimum: Any = None) -> dict[str, float]:
    """N, D minimising the posterior mean loss at ``budget`` (a log grid over the draws' N* range, refined).

    ``optimum`` is the fit's :class:`~bayescale.results.optimum.Optimum` at ``[budget]`` when the
    caller has it already.
    """
    fit = allocation_source(fit)
    extra = {"U": float(unique_tokens)} if unique_tokens is not None else {}
    draws = fit.draws()
    n_opt = _optimum_at(fit, budget, unique_tokens, optimum).N_opt[:, 0]
    lo, hi = np.nanquantile(n_opt, [0.001, 0.999])
    log_n = np.linspace(np.log(lo) - 0.5, np.log(hi) + 0.5, grid)
    expected = np.mean(_loss(fit, draws, np.exp(log_n)[None, :], budget, extra), axis=0)
    n_best = _refined_minimum(log_n, expected)
    return {"N_recommended": n_best, "D_recommended": float(tokens_for_compute(budget, n_best)),
            "expected_loss": float(np.mean(_loss(fit, draws, np.array([[n_best]]), budget, extra)))}


def recommend_stacked(fits: Any, weights: Any, budget: float, grid: int = 241) -> dict[str, float]:
    """As :func:`recommend` for several laws' fits of the same runs: the N minimising the
    stacking-weighted posterior mean loss (each law's expected loss, weighted by ``weights``)."""
    weights = np.asarray(weights, dtype=float) / np.sum(weights)
    fits = [allocation_source(fit) for fit in fits]
    ranges = [np.nanquantile(fit.optimum([budget], with_miss=False).N_opt[:, 0], [0.001, 0.999]) for fit in fits]
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    log_n = np.linspace(np.log(lo) - 0.5, np.log(hi) + 0.5, grid)
    n = np.exp(log_n)[None, :]
    expected = sum(w * np.mean(_loss(fit, fit.draws(), n, budget, {}), axis=0) for w, fit in zip(weights, fits) if w > 0)
    n_best = _refined_minimum(log_n, expected)
    at = np.array([[n_best]])
    return {"N_recommended": n_best, "D_recommended": float(tokens_for_compute(budget, n_best)),
            "expected_loss": float(sum(w * np.mean(_loss(fit, fit.draws(), at, budget, {}))
                                       for w, fit in zip(weights, fits) if w > 0))}


def _refined_minimum(log_n: np.ndarray, expected: np.ndarray) -> float:
    """The grid's minimum of ``expected`` over ``log_n``, refined by a parabola through its neighbours."""
    best = int(np.clip(np.argmin(expected), 1, log_n.size - 2))
    y0, y1, y2 = expected[best - 1:best + 2]
    curvature = y0 - 2 * y1 + y2
    shift = 0.5 * (y0 - y2) / curvature if curvature > 0 else 0.0
    return float(np.exp(log_n[best] + np.clip(shift, -1, 1) * (log_n[1] - log_n[0])))


def wasted_compute(fit: Any, budget: float, loss: np.ndarray, unique_tokens: float | None = None) -> np.ndarray:
    """Per draw: 1 − C'/budget, where C' is the compute at which that draw's optimum reaches ``loss``."""
    fit = allocation_source(fit)
    extra = {"unique_tokens": unique_tokens} if unique_tokens is not None else {}
    curve = fit.optimum(budget * _FRACTIONS, with_miss=False, **extra).L_opt  # (sample, fraction), decreasing in compute
    log_f = np.log(_FRACTIONS)
    out = np.empty(curve.shape[0])
    for s in range(curve.shape[0]):
        values = curve[s]
        if not np.all(np.isfinite(values)) or not np.isfinite(loss[s]):
            out[s] = np.nan
            continue
        # np.interp needs increasing x: the loss falls as the fraction grows
        out[s] = 1.0 - np.exp(np.interp(loss[s], values[::-1], log_f[::-1], left=log_f[-1], right=log_f[0]))
    return np.clip(out, 0.0, 1.0)


def judge_candidate(fit: Any, budget: float, n_candidate: float, unique_tokens: float | None = None,
                    optimum: Any = None) -> dict[str, Any]:
    """Loss penalty, wasted compute and P(N* > candidate) of training ``n_candidate`` parameters at ``budget``.

    ``optimum``: as in :func:`recommend`.
    """
    fit = allocation_source(fit)
    extra_u = {"U": float(unique_tokens)} if unique_tokens is not None else {}
    draws = fit.draws()
    optimum = _optimum_at(fit, budget, unique_tokens, optimum)
    loss = _loss(fit, draws, np.array([[float(n_candidate)]]), budget, extra_u)[:, 0]
    return {"loss_penalty": loss - optimum.L_opt[:, 0], "wasted_compute": wasted_compute(fit, budget, loss, unique_tokens),
            "p_nstar_above": float(np.nanmean(optimum.N_opt[:, 0] > n_candidate))}
