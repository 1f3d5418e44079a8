"""Where held-out isoFLOP curves bottom out: does a fit's N* interval hold it?

A backtest that scores only losses says nothing about N*, the number a run is sized by. Where the
held-out runs form isoFLOP curves (several model sizes at one budget whose lowest loss is not at
an end), each curve's vertex, the minimum of a parabola of log loss in log N fitted to its runs by
least squares, is a measurement of N* at that budget. Its standard error in log N comes from the
parabola's coefficient covariance (delta method). ``bench/bench_vertex.py`` measured this on the
15 Porian sweeps; :func:`score_vertices` does it for the user's own table in ``calibrate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["parabola_vertex", "held_out_vertices", "check_vertex", "score_vertices", "vertex_log_density"]

#: Distinct model sizes a held-out budget needs: three for the parabola, one more for its error.
MIN_SIZES = 4
#: The log density given where a model has no finite N* (finite, so that stacking stays defined).
_NO_DENSITY = -700.0


def parabola_vertex(log_n: np.ndarray, log_loss: np.ndarray, bounded: bool = True) -> tuple[float, float] | None:
    """The vertex in log N of a least-squares parabola of ``log_loss`` in ``log_n``, and its
    standard error; None where the curve is not convex or (``bounded``) its vertex lies outside
    the sizes run."""
    coef, cov = np.polyfit(log_n, log_loss, 2, cov="unscaled")
    a, b, _ = coef
    if a <= 0 or (bounded and not log_n.min() < -b / (2 * a) < log_n.max()):
        return None
    residual = log_loss - np.polyval(coef, log_n)
    cov = cov * float(residual @ residual) / max(len(log_n) - 3, 1)
    grad = np.array([b / (2 * a**2), -1 / (2 * a), 0.0])  # of -b / 2a with respect to (a, b, c)
    return float(-b / (2 * a)), float(np.sqrt(grad @ cov @ grad))


def held_out_vertices(runs: Any, tolerance: float = 0.05) -> list[tuple[float, float, float]]:
    """``(budget, log N at the vertex, its standard error)`` of each budget of ``runs`` that is an
    isoFLOP curve: runs within ``tolerance`` of one compute, at least :data:`MIN_SIZES` model
    sizes, the lowest loss at neither end, a convex parabola. Empty for tables of other shapes."""
    from bayescale.decisions.budgets import IsoflopError, bin_budgets, budget_centres, budget_problems

    try:
        ids = bin_budgets(runs.C, tolerance)
    except IsoflopError:  # compute not on a grid of budgets: no isoFLOP curves
        return []
    budgets = budget_centres(runs.C, ids)
    problems = budget_problems(runs.N, runs.loss, ids, budgets)
    out = []
    for b, budget in enumerate(budgets):
        n, loss = runs.N[ids == b], runs.loss[ids == b]
        if b in problems or np.unique(n).size < MIN_SIZES:
            continue
        found = parabola_vertex(np.log(n), np.log(loss))
        if found is not None:
            out.append((float(budget), *found))
    return out


def check_vertex(n_opt: np.ndarray, log_vertex: float, se: float, prob: float = 0.95) -> dict:
    """Does the ``prob`` interval of draws of N* at one budget hold that budget's vertex?

    Returns ``lower``, ``median``, ``upper`` (log N; draws that are not finite left out),
    ``inside``, ``z`` (the vertex's distance from the median in the combined spread of the draws'
    sd and the vertex's own standard error ``se``) and ``within_error`` (that distance within
    the ``prob`` normal quantile of the combined spread).
    """
    log_n = np.log(np.asarray(n_opt, dtype=float))
    log_n = log_n[np.isfinite(log_n)]
    lo, med, hi = np.quantile(log_n, [0.5 - prob / 2, 0.5, 0.5 + prob / 2])
    spread = np.hypot(log_n.std(), se)
    return {"lower": float(lo), "median": float(med), "upper": float(hi), "inside": bool(lo <= log_vertex <= hi),
            "z": float((log_vertex - med) / spread),
            "within_error": bool(abs(log_vertex - med) <= stats.norm.ppf(0.5 + prob / 2) * spread)}


def vertex_log_density(n_opt: np.ndarray, vertices: list[tuple[float, float, float]]) -> np.ndarray:
    """Log density of each vertex's log N under draws of N* at its budget, one per vertex.

    ``n_opt`` has shape ``(sample, vertex)``; ``vertices`` as :func:`held_out_vertices` gives
    them. The draws' log N* is taken as normal (its mean and sd); the vertex's own standard error
    adds to that variance. Draws that are not finite are left out; with none left, the density
    is ``exp(-700)``.
    """
    out = np.empty(len(vertices))
    for j, (_, log_vertex, se) in enumerate(vertices):
        log_n = np.log(n_opt[:, j])
        log_n = log_n[np.isfinite(log_n)]
        out[j] = stats.norm.logpdf(log_vertex, log_n.mean(), np.hypot(log_n.std(), se)) if log_n.size > 1 else _NO_DENSITY
    return out


def score_vertices(fit: Any, held: Any, prob: float = 0.95) -> dict | None:
    """How often the fit's N* intervals hold the vertices of the held-out isoFLOP curves.

    Returns None when no held-out budget is an isoFLOP curve. Otherwise ``budgets`` (how many),
    and for ``N_opt`` (the law's) and, where the error model has a miss, ``N_opt_predictive``:
    ``inside``, the fraction of vertices inside the interval, and ``within_error``, the fraction
    whose distance from the median log N* is within the ``prob`` normal quantile of the combined
    spread (the posterior's sd of log N* and the vertex's own standard error).
    """
    vertices = held_out_vertices(held)
    if not vertices:
        return None
    budgets = [v[0] for v in vertices]
    optimum = fit.optimum(budgets)
    out: dict = {"budgets": len(vertices)}
    for name in ("N_opt", "N_opt_predictive"):
        draws = getattr(optimum, name)
        if draws is None:
            continue
        checks = [check_vertex(draws[:, j], log_vertex, se, prob) for j, (_, log_vertex, se) in enumerate(vertices)]
        out[name] = {key: float(np.mean([c[key] for c in checks])) for key in ("inside", "within_error")}
    return out
