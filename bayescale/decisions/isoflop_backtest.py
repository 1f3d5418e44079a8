"""Does the isoFLOP model's N* hold on your own sweeps? Hold out the top budgets and check.

The widening of the isoFLOP model's predictive N* was learned on one source (the Porian sweeps,
:func:`bayescale.decisions.isoflop_weigh.spread_factor`). This checks it on the user's table:
for K = 1, 2, … the top K budgets are held out, the model is refitted to the rest, and its
predictive N* interval at the top budget is compared with where that budget's own curve bottoms
out (its parabola's vertex, with the vertex's standard error; :mod:`bayescale.decisions.vertices`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bayescale.data.runs import Runs
from bayescale.decisions.budgets import IsoflopError, bin_budgets, budget_centres
from bayescale.inference.sampling import SamplerSettings
from bayescale.texts import interval_texts

__all__ = ["IsoflopBacktest", "backtest_isoflop"]


@dataclass(frozen=True)
class IsoflopBacktest:
    """Held-out minima against the refitted isoFLOP model's predictive N*.

    Attributes
    ----------
    rows : tuple of dict
        Per held-out split: ``held`` (top budgets held out), ``budget`` (FLOPs), ``times`` (its
        multiple of the largest fitted budget), ``vertex`` and ``vertex_se`` (log N), ``lower``,
        ``median`` and ``upper`` of the predictive N*, ``inside`` and ``z`` (the vertex's distance
        from the median log N*, in the combined spread of the draws and the vertex's error).
    prob : float
    skipped : tuple of str
        Splits that could not be scored, and why.
    """

    rows: tuple[dict, ...]
    prob: float
    skipped: tuple[str, ...] = ()

    @property
    def held(self) -> int:
        """How many of the held-out minima the interval holds."""
        return int(sum(r["inside"] for r in self.rows))

    def to_dict(self) -> dict:
        """JSON-able: the rows, how many held, the probability and what was skipped."""
        return {"prob": self.prob, "rows": [dict(r) for r in self.rows], "held": self.held,
                "scored": len(self.rows), "skipped": list(self.skipped)}

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        pct = f"{100 * self.prob:g}%"
        lines = [f"backtest: the top budgets held out, the isoFLOP model refitted to the rest; its {pct} "
                 "predictive N* at the top budget against where that budget's curve bottoms out"]
        for r in self.rows:
            mid, lo, hi = interval_texts("N_opt", {"median": r["median"], "lower": r["lower"], "upper": r["upper"]})
            lines.append(f"  {r['held']} held out: C = {r['budget']:.3g} ({r['times']:.3g}× the largest fitted), "
                         f"N* {mid} [{lo}, {hi}], minimum at {np.exp(r['vertex']):.3g} (± {r['vertex_se']:.2f} in "
                         f"log N): {'inside' if r['inside'] else 'OUTSIDE'}, z {r['z']:+.2f}")
        lines += [f"  skipped: {why}" for why in self.skipped]
        if self.rows:
            lines.append(f"  {self.held} of {len(self.rows)} held-out minima inside"
                         + ("" if self.held == len(self.rows) else
                            ": on your sweeps the interval is narrower than their minima's misses; read N* beyond "
                            "your budgets as less certain than printed"))
        return "\n".join(lines)


def backtest_isoflop(runs: Runs, *, tolerance: float = 0.05, settings: SamplerSettings | None = None,
                     holds: Sequence[int] = (1, 2), prob: float = 0.95, seed: int = 0) -> IsoflopBacktest:
    """Hold out the top K budgets (K in ``holds``), refit, and score the predictive N* at the top one.

    Parameters
    ----------
    runs : Runs
        The isoFLOP sweeps.
    settings : SamplerSettings, optional
        Of the refits; by default the isoFLOP model's (:data:`bayescale.decisions.isoflop.DEFAULT_SETTINGS`).
    seed : int
        Seeds the predictive draws.

    Raises
    ------
    IsoflopError
        If the top budget's runs do not form a curve with a minimum inside them (nothing to score).
    """
    from bayescale.decisions.isoflop import DEFAULT_SETTINGS, fit_isoflop
    from bayescale.decisions.vertices import MIN_SIZES, check_vertex, held_out_vertices

    ids = bin_budgets(runs.C, tolerance)
    centres = budget_centres(runs.C, ids)
    top = replace(runs, frame=runs.frame[ids == centres.size - 1].reset_index(drop=True))
    found = held_out_vertices(top, tolerance)
    if not found:
        raise IsoflopError(f"the top budget (C = {centres[-1]:.3g}) has no minimum inside its runs to check against "
                           f"(it needs {MIN_SIZES} or more model sizes and its lowest loss at neither end): no backtest")
    ((_, vertex, vertex_se),) = found
    settings = replace(settings or DEFAULT_SETTINGS, progressbar=False)
    rows, skipped = [], []
    for held in holds:
        train = replace(runs, frame=runs.frame[ids < centres.size - held].reset_index(drop=True))
        try:
            refit = fit_isoflop(train, tolerance=tolerance, settings=settings, drop_unusable=True)
        except IsoflopError as err:
            skipped.append(f"{held} held out: {err}")
            continue
        check = check_vertex(refit.optimum([centres[-1]], seed=seed).N_opt_predictive[:, 0], vertex, vertex_se, prob)
        rows.append({"held": int(held), "budget": float(centres[-1]), "times": float(centres[-1] / refit.budgets.max()),
                     "vertex": vertex, "vertex_se": vertex_se,
                     **{k: float(np.exp(check[k])) for k in ("lower", "median", "upper")},
                     **{k: check[k] for k in ("inside", "z", "within_error")}, "converged": bool(refit.gates.passed)})
    return IsoflopBacktest(tuple(rows), prob, tuple(skipped))
