"""Compute budgets of isoFLOP sweeps: grouping runs into budgets and checking each brackets its minimum.

Shared by the isoFLOP model (:mod:`bayescale.decisions.isoflop`) and the held-out minima of
backtests (:mod:`bayescale.decisions.vertices`).
"""

from __future__ import annotations

import numpy as np

from bayescale.errors import BayescaleError

__all__ = ["IsoflopError", "bin_budgets", "budget_centres", "budget_problems", "mixed_budgets"]


class IsoflopError(BayescaleError, ValueError):
    """The runs cannot be grouped into budgets, or a budget does not bracket its minimum."""


def bin_budgets(C: np.ndarray, tolerance: float) -> np.ndarray:
    """Group runs into compute budgets: ids ``0 … B-1`` in order of increasing compute.

    Runs whose log compute lies within ``log(1 + tolerance)`` of each other (chained) form one
    group; every run of a group must then lie within ``log(1 + tolerance)`` of the group's
    centre (the mean of its log C), or the grouping is ambiguous and refused.

    Parameters
    ----------
    C : ndarray
        Compute of each run, FLOPs.
    tolerance : float
        Relative tolerance, e.g. 0.05 for ±5 %.

    Raises
    ------
    IsoflopError
        If the tolerance is not positive, or runs chain into a group wider than the tolerance.
    """
    if not (np.isfinite(tolerance) and tolerance > 0):
        raise IsoflopError(f"the budget tolerance must be a positive number, e.g. 0.05; got {tolerance!r}")
    logc = np.log(np.asarray(C, dtype=float))
    width = np.log1p(tolerance)
    order = np.argsort(logc, kind="stable")
    sorted_ids = np.concatenate([[0], np.cumsum(np.diff(logc[order]) > width)])
    ids = np.empty_like(sorted_ids)
    ids[order] = sorted_ids
    for b in range(int(sorted_ids[-1]) + 1):
        members = logc[ids == b]
        if np.max(np.abs(members - members.mean())) > width * (1 + 1e-9):
            lo, hi = np.exp(members.min()), np.exp(members.max())
            raise IsoflopError(
                f"runs with compute from {lo:.4g} to {hi:.4g} FLOPs chain together at a tolerance of "
                f"±{tolerance:g}, but differ by more than that from their centre: they are neither one "
                f"budget nor clearly several. Use a smaller --tolerance to split them, a larger one to "
                f"merge them, or put the runs on a grid of budgets."
            )
    return ids


def budget_centres(C: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Each budget's compute: the geometric mean of its runs' C (``ids`` from :func:`bin_budgets`)."""
    logc = np.log(np.asarray(C, dtype=float))
    return np.exp([logc[ids == b].mean() for b in range(int(ids.max()) + 1)])


def budget_problems(N: np.ndarray, loss: np.ndarray, ids: np.ndarray, budgets: np.ndarray) -> dict[int, str]:
    """Budgets whose minimum is not bracketed: budget id -> reason.

    A budget needs at least three distinct model sizes, and its lowest-loss run must be neither
    the smallest nor the largest model of the budget.
    """
    problems = {}
    for b, c in enumerate(budgets):
        n, losses = N[ids == b], loss[ids == b]
        best = n[np.argmin(losses)]
        if np.unique(n).size < 3:
            problems[b] = f"C = {c:.4g}: {np.unique(n).size} distinct model size(s); at least 3 are needed"
        elif best <= n.min():
            problems[b] = f"C = {c:.4g}: lowest loss at the smallest model (N = {best:.3g}); add smaller models"
        elif best >= n.max():
            problems[b] = f"C = {c:.4g}: lowest loss at the largest model (N = {best:.3g}); add larger models"
    return problems


def mixed_budgets(N: np.ndarray, loss: np.ndarray, ids: np.ndarray, budgets: np.ndarray, spread: float = 0.01) -> list[str]:
    """Budgets where one model size appears more than once with losses more than ``spread`` apart.

    One isoFLOP sweep has one loss per size and budget; repeats that disagree usually mean the
    table mixes several setups (datasets, recipes) that should be analysed apart.
    """
    found = []
    for b, c in enumerate(budgets):
        n, losses = N[ids == b], loss[ids == b]
        sizes, counts = np.unique(n, return_counts=True)
        for size in sizes[counts > 1]:
            same = losses[n == size]
            if same.max() / same.min() - 1 > spread:
                found.append(f"C = {c:.3g}: N = {size:.3g} appears {same.size} times with losses "
                             f"{same.min():.4g} to {same.max():.4g}")
                break
    return found
