"""Keep the runs near the compute-optimal frontier: the ones an allocation is decided on.

A law such as Chinchilla's is an approximation. On isoFLOP sweeps that reach far from each
budget's optimum (a few tokens per parameter, or thousands), it cannot follow the extreme runs,
and fitting them tilts its exponents: on Porian et al.'s sweeps the law fitted to every run puts
N* at the held-out budget 2–10× from where that budget's curve bottoms out, while the same law
fitted to the runs within 10% of each budget's lowest loss lands within a few per cent of the
compute (``bench/bench_waste.py``). For the question "which N at my budget", fit the runs that
describe the optimum.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bayescale.data.runs import Runs
from bayescale.errors import RunsError

__all__ = ["near_optimum", "ALLOCATION_MARGIN"]

#: Runs within this fraction of their budget's lowest loss are the ones :func:`bayescale.fit`'s
#: allocation refit keeps. Chosen on four Porian sweeps before the other eleven were scored.
ALLOCATION_MARGIN = 0.1


def _window_min(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Minimum of ``values[lo[i]:hi[i]]`` for every i (a sparse table: O(n log n))."""
    levels = [values]
    width = 1
    while 2 * width <= values.size:
        prev = levels[-1]
        levels.append(np.minimum(prev[:-width], prev[width:]))
        width *= 2
    span = hi - lo
    k = np.floor(np.log2(span)).astype(int)
    out = np.empty(values.size)
    for level in np.unique(k):
        at = k == level
        table = levels[level]
        out[at] = np.minimum(table[lo[at]], table[hi[at] - (1 << level)])
    return out


def _near_own_minimum(compute: np.ndarray, loss: np.ndarray, within: float, width: float) -> np.ndarray:
    """Which runs lie within ``within`` of the lowest loss among runs within ``width`` of their log compute."""
    order = np.argsort(compute, kind="stable")
    log_c, ordered = np.log(compute[order]), loss[order]
    lo = np.searchsorted(log_c, log_c - width, side="left")
    hi = np.searchsorted(log_c, log_c + width, side="right")
    keep = np.empty(compute.size, dtype=bool)
    keep[order] = ordered <= _window_min(ordered, lo, hi) * (1.0 + within)
    return keep


def near_optimum(runs: Runs, within: float, tolerance: float = 0.05) -> Runs:
    """The runs whose loss is within ``within`` of the lowest loss at about the same compute.

    Parameters
    ----------
    runs : Runs
    within : float
        Relative margin, e.g. 0.1 keeps runs with loss ≤ 1.1 × the lowest loss among runs of
        the same compute.
    tolerance : float
        Runs whose compute differs by at most this fraction (5% by default) count as the same
        budget. A run with no other at its compute is kept. Runs of different families (a
        family column) are compared only within their family.

    Returns
    -------
    Runs
        The kept runs; ``excluded`` counts the ones left out, and ``selection`` says how.

    Raises
    ------
    RunsError
        If ``within`` is not a positive number, or fewer than 2 runs would remain.
    """
    if not (np.isfinite(within) and within > 0):
        raise RunsError(f"near_optimum takes a positive margin such as 0.1 (runs within 10% of their budget's lowest "
                        f"loss); got {within!r}")
    frame = runs.frame
    keep = np.zeros(runs.n_runs, dtype=bool)
    # runs of different families (recipes, data) have different optima: each is compared within its own
    groups = runs.codes("family") if "family" in runs.levels else np.zeros(runs.n_runs, dtype=int)
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        keep[rows] = _near_own_minimum(frame["C"].to_numpy()[rows], frame["loss"].to_numpy()[rows], within,
                                       np.log1p(tolerance))
    kept = int(keep.sum())
    if kept < 2:
        raise RunsError(f"only {kept} run lies within {within:.0%} of its budget's lowest loss; widen the margin")
    how = (f"runs within {within:.0%} of the lowest loss at their compute (±{tolerance:.0%}): "
           f"kept {kept} of {runs.n_runs}")
    selection = "; ".join(s for s in (runs.selection, how) if s)
    return replace(runs, frame=frame[keep].reset_index(drop=True), excluded=runs.excluded + runs.n_runs - kept,
                   selection=selection)
