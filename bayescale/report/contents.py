"""What the report shows about a fit, computed once through the result API (nothing is drawn here).

:func:`fit_results` asks ``fit.summary``, ``fit.predict`` and ``fit.optimum`` for every number a
fit's pages show and keeps them in a :class:`FitResults`; :func:`family_results` does the same for
the families page. The page builders of :mod:`bayescale.report.pages` take these and only draw;
:mod:`bayescale.report.writer` puts the pages in a PDF.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayescale.errors import OptimumError
from bayescale.laws.flops import tokens_for_compute

if TYPE_CHECKING:
    from bayescale.report.plots import RunSlice
    from bayescale.results.fitted import Fit
    from bayescale.results.optimum import Optimum
    from bayescale.results.summaries import Prediction, Summary

__all__ = ["FitResults", "fit_results", "run_slices", "FamilyResults", "family_results", "PROB"]

#: Probability of every credible interval and band in the report.
PROB = 0.95
#: Prior draws per parameter for the prior-against-posterior plot.
PRIOR_DRAWS = 4000
_GRID_POINTS = 60
_MAX_ISOFLOP_SLICES = 8
_TOKEN_BINS = 5


@dataclass(frozen=True)
class FitResults:
    """Everything the report shows about one fit, computed once through the result API.

    Attributes
    ----------
    summary : Summary
    slices : list of RunSlice
        Groups of runs with the law along them; empty when the law's variables allow no slice.
    slice_note : str
        How the runs were grouped, in words.
    at_runs : Prediction
        The prediction at every run's own variables (for residuals).
    frontier, at_budgets : Optimum or None
        The optimum on a compute grid and at the report's budgets; None when undefined.
    optimum_error : str
        Why there is no optimum, when there is none.
    prior_draws : dict
        Seeded draws from each parameter's prior.
    budgets : ndarray
        The report's budgets (FLOPs).
    standardized : ndarray
        Each run's residual of log loss over the sd of its posterior predictive.
    influential : list of dict
        The runs of largest Pareto k (PSIS-LOO), most influential first: ``N``, ``D``, ``loss``,
        ``k``; empty for tables too large to compute it here (over 5,000 runs).
    unique_tokens : float or None
        For laws of unique tokens U: the U the answers assume (the runs' largest).
    bought : Prediction or None
        For a law in compute alone (no optimum): the loss at the report's budgets, the law's and a run's.
    """

    summary: Summary
    slices: list[RunSlice]
    slice_note: str
    at_runs: Prediction
    frontier: Optimum | None
    at_budgets: Optimum | None
    optimum_error: str
    prior_draws: dict[str, np.ndarray]
    budgets: np.ndarray
    standardized: np.ndarray | None = None
    influential: tuple[dict, ...] = ()
    unique_tokens: float | None = None
    bought: Prediction | None = None


def _clusters(values: np.ndarray, tolerance_dex: float = 0.05) -> list[np.ndarray]:
    """Group positive values whose sorted logs are within ``tolerance_dex`` of their neighbour."""
    order = np.argsort(values, kind="stable")
    logs = np.log10(values[order])
    breaks = np.nonzero(np.diff(logs) > tolerance_dex)[0] + 1
    return [np.sort(part) for part in np.split(order, breaks)]


def _geomean(values: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(values))))


def run_slices(fit: Fit, at_runs: Prediction, prob: float = PROB) -> tuple[list[RunSlice], str]:
    """Group the runs for the fit-against-data page and predict the law along each group.

    IsoFLOP slices (runs sharing a compute budget within 12%) when there are at most eight;
    otherwise five equal bins of log D, the law at each bin's geometric-mean D. A law of
    compute alone gets one curve against C. A run whose C (or D) differs from its slice's is
    shown moved along the fitted law: observed loss times L(N, slice) / L(N, run), medians
    over the posterior, so its distance to the curve is its own residual.

    Parameters
    ----------
    fit : Fit
    at_runs : Prediction
        The fit's prediction at the runs' own variables.
    prob : float
        Interval probability of the predictions.

    Returns
    -------
    slices : list of RunSlice
    note : str
        The grouping, in words.
    """
    from bayescale.report.plots import RunSlice
    from bayescale.texts import sci

    runs, variables = fit.runs, set(fit.law.variables)
    if variables == {"C"}:
        grid = np.geomspace(runs.C.min() / 2, runs.C.max() * 2, _GRID_POINTS)
        pred = fit.predict(prob=prob, C=grid)
        return [RunSlice("all runs", np.arange(runs.n_runs), pred, x="C")], "the law of compute alone against all runs"
    if not {"N", "D"} <= variables:
        return [], f"no slice plot for a law of {', '.join(sorted(variables))}; see the residuals"
    groups = _clusters(runs.C)
    by_compute = 1 < len(groups) <= _MAX_ISOFLOP_SLICES and min(map(len, groups)) >= 2
    if not by_compute:
        edges = np.linspace(np.log10(runs.D.min()), np.log10(runs.D.max()) + 1e-9, _TOKEN_BINS + 1)
        which = np.clip(np.searchsorted(edges, np.log10(runs.D), side="right") - 1, 0, _TOKEN_BINS - 1)
        groups = [np.nonzero(which == b)[0] for b in range(_TOKEN_BINS) if np.any(which == b)]
    slices = []
    at_runs_median = np.median(at_runs.mean, axis=0)
    moved = False
    for index in groups:
        n = runs.N[index]
        grid = np.geomspace(n.min() / 1.5, n.max() * 1.5, _GRID_POINTS)
        extra = {"U": _geomean(runs.U[index])} if "U" in variables else {}
        if by_compute:
            c = _geomean(runs.C[index])
            along = {"D": lambda x, c=c: tokens_for_compute(c, x), "C": lambda x, c=c: np.full_like(x, c)}
            label = f"C ≈ {sci(c, 2)} FLOPs"
        else:
            d = _geomean(runs.D[index])
            along = {"D": lambda x, d=d: np.full_like(x, d)}
            label = f"D ≈ {sci(d, 2)} tokens ({len(index)} runs)"
        pred = fit.predict(prob=prob, N=grid, **{k: f(grid) for k, f in along.items()}, **extra)
        target = fit.predict(prob=prob, N=n, **{k: f(n) for k, f in along.items()}, **extra)
        factor = np.median(target.mean, axis=0) / at_runs_median[index]
        shown = None if np.allclose(factor, 1.0, rtol=1e-9) else runs.loss[index] * factor
        moved |= shown is not None
        slices.append(RunSlice(label, index, pred, x="N", loss=shown))
    note = ("isoFLOP slices: runs grouped by compute budget; the law along D = C/6N at each budget's "
            "geometric mean" if by_compute else
            f"runs grouped into {len(groups)} equal bins of log D; the law at each bin's geometric-mean D")
    if moved:
        note += (". Runs whose own C or D differs from their slice's are drawn moved along the fitted law "
                 "(observed loss × L(N, slice) / L(N, run)), so their distance to the curve is their residual; "
                 "the residual panel uses the raw runs")
    return slices, note


def fit_results(fit: Fit, budgets: Sequence[float], prob: float = PROB,
                unique_tokens: float | None = None) -> FitResults:
    """Compute what the report shows for one fit (summary, predictions, optima, prior draws).

    Parameters
    ----------
    fit : Fit
    budgets : sequence of float
        Budgets (FLOPs) of the allocation table.
    prob : float
    unique_tokens : float, optional
        Unique tokens at the budgets for a law with U; by default the most any run had.
    """
    runs = fit.runs
    budgets = np.asarray(budgets, dtype=float)
    levels = {d: [runs.levels[d][c] for c in runs.codes(d)] for d in fit.law.dims}  # each run's own level
    at_runs = fit.predict(prob=prob, **{v: runs.frame[v].to_numpy() for v in fit.law.variables}, **levels)
    low = min(runs.C.min(), budgets.min()) / 10
    high = max(runs.C.max(), budgets.max()) * 10
    unique = {}
    if "U" in fit.law.variables and (unique_tokens is not None or runs.has_U):
        unique = {"unique_tokens": float(unique_tokens if unique_tokens is not None else np.max(runs.U))}
    frontier = at_budgets = None
    if fit.law.dims:  # one law per level: the families page shows them (a group law: none here)
        slices, note = [], f"The law has per-{fit.law.dims[0]} parameters: see the residuals page."
        if "family" not in fit.law.dims:
            error = (f"the law has per-{fit.law.dims[0]} parameters: ask 'bayescale optimum FIT.nc "
                     f"--{fit.law.dims[0]} NAME' for one")
        elif fit.law.trades_size_for_tokens:
            error = "per-family answers: see the families page"
        else:  # no families page: family_results leaves it out
            error = ("per-family losses of a law in compute alone: ask 'bayescale predict FIT.nc --c C --family "
                     "NAME', and which family wins, 'bayescale compare-families FIT.nc --compute C'")
    else:
        slices, note = run_slices(fit, at_runs, prob)
        try:
            frontier = fit.optimum(np.geomspace(low, high, 41), with_miss=False, **unique)
            at_budgets = fit.optimum(budgets, **unique)
            error = ""
        except OptimumError as exc:
            error = str(exc)
    bought = fit.predict(C=budgets, prob=prob) if fit.law.in_compute_alone and not fit.law.dims else None
    priors = {name: fit.law.priors[name].draw(PRIOR_DRAWS, seed=i)  # hierarchical priors have no draws of their own
              for i, name in enumerate(fit.law.all_parameters) if fit.law.priors[name].is_numeric}
    log_pred = np.log(at_runs.predictive)
    standardized = (np.log(runs.loss) - np.median(log_pred, axis=0)) / np.std(log_pred, axis=0)
    return FitResults(fit.summary(prob), slices, note, at_runs, frontier, at_budgets, error, priors, budgets,
                      standardized, _influential(fit), unique.get("unique_tokens"), bought)


@dataclass(frozen=True)
class FamilyResults:
    """A family fit's frontiers (one per family, and a new family's) and which family wins."""

    frontiers: dict[str, Optimum]
    comparison: Any
    data_range: tuple[float, float]
    budgets: np.ndarray


def family_results(fit: Fit, budgets: np.ndarray) -> FamilyResults | None:
    """The families page of a fit with per-family parameters (None for other fits, and for laws
    without a compute-optimal allocation: their families are compared on the fit's own pages)."""
    if "family" not in fit.law.dims or not fit.law.trades_size_for_tokens:
        return None
    from bayescale.decisions.families import compare_families, family_optima

    runs = fit.runs
    grid = np.geomspace(min(runs.C.min(), budgets.min()) / 10, max(runs.C.max(), budgets.max()) * 10, 41)
    return FamilyResults(family_optima(fit, grid), compare_families(fit, budgets, prob=PROB),
                         (float(runs.C.min()), float(runs.C.max())), budgets)


def _influential(fit: Fit, count: int = 5, largest: int = 5000) -> tuple[dict, ...]:
    """The runs with the largest PSIS-LOO Pareto k (the fit leans on them most)."""
    runs = fit.runs
    if runs.n_runs > largest:
        return ()
    k = np.asarray(fit.psis_loo.pareto_k, dtype=float).reshape(-1)
    order = np.argsort(k)[::-1][:count]
    shown = ("N", "D") if runs.has_sizes else ("C",)
    return tuple({**{v: float(runs.frame[v].iloc[i]) for v in shown}, "loss": float(runs.loss[i]), "k": float(k[i])}
                 for i in order)
