"""Answers per family of a family fit, for a new family, and which family wins at a budget.

A fit of runs with a family column (:mod:`bayescale.laws.families`) has per-family parameters.
:func:`family_optima` gives N*, D*, L* for each family and, when every per-family parameter is
pooled, for a new family of the same population (its parameters drawn from the learned common
distribution, draw by draw). :func:`compare_families` says, for each ordered pair of families
(A, B) and budget C, how likely A's loss at its own optimum is below B's, the gap, and the
compute-equivalent gain: the compute B needs to reach A's loss at C, as a multiple of C. For a
law in compute alone (no optimum) the losses compared are the law's at C.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import Any

import numpy as np

from bayescale.errors import BayescaleError
from bayescale.results.optimum import Optimum, interval
from bayescale.texts import size_texts

__all__ = ["NEW_FAMILY", "FamilyComparison", "compare_families", "family_optima", "format_summary",
           "new_family_draws"]

#: The label of the population-level answer.
NEW_FAMILY = "(a new family)"
_GAIN_DECADES = 4.0


class FamilyAnswerError(BayescaleError, ValueError):
    """Not a family fit, an unknown family, or no population-level answer."""


def _families(fit: Any) -> tuple[str, ...]:
    if "family" not in fit.law.dims:
        raise FamilyAnswerError("this fit has no per-family parameters: fit with --family-col COLUMN "
                                "(read_runs(..., family_col=...) in Python)")
    return tuple(fit.runs.levels["family"])


def new_family_draws(fit: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Parameter draws for a new family: pooled ones drawn from their common distribution.

    Raises
    ------
    FamilyAnswerError
        If a per-family parameter is separate (not pooled): then nothing is known of a new
        family's value.
    """
    _families(fit)
    law, rng = fit.law, np.random.default_rng(seed)
    draws = fit.draws()
    out = {}
    for name in law.all_parameters:
        prior = law.priors[name]
        if "family" not in prior.dims:
            out[name] = draws[name]
            continue
        if prior.is_numeric:
            raise FamilyAnswerError(f"parameter {name!r} is separate per family (not pooled), so a new family's value "
                                    f"is unknown: refit with it pooled (--pool {name}) for a population answer")
        mu, sigma = draws[prior.args["mu"]], draws[prior.args["sigma"]]
        value = mu + sigma * rng.standard_normal(mu.shape)
        out[name] = np.exp(value) if prior.dist == "LogNormal" else value
    return out


def family_optima(fit: Any, budgets: Sequence[float], seed: int = 0,
                  unique_tokens: float | None = None) -> dict[str, Optimum]:
    """N*, D*, L* (law and predictive) per family, and for a new family when every per-family parameter is pooled."""
    extra = {"unique_tokens": unique_tokens} if unique_tokens is not None else {}
    out = {f: fit.optimum(budgets, seed=seed, family=f, **extra) for f in _families(fit)}
    try:
        draws = new_family_draws(fit, seed)
    except FamilyAnswerError:
        return out
    out[NEW_FAMILY] = fit.optimum_of_draws(draws, budgets, seed=seed, **extra)
    return out


def _summary(values: np.ndarray, prob: float) -> dict[str, float | None]:
    big = np.finfo(float).max / 4  # stands in for infinity, which quantiles cannot interpolate
    med, lo, hi = interval(np.clip(values, -big, big), prob)
    clean = lambda x: float(x) if abs(x) < big / 2 else None  # noqa: E731  (JSON has no infinity)
    return {"median": clean(med), "lower": clean(lo), "upper": clean(hi)}


def format_summary(summary: dict, spec: str) -> str:
    """``median [lower, upper]`` of a :meth:`FamilyComparison.to_records` entry (``spec`` a format, or
    ``"ratio"``: the figures the interval supports); a missing value
    (a gain beyond 10^4 × the compute: B does not match A's loss there) shows as ``>1e4``, a
    missing lower bound as ``…``."""
    if spec == "ratio" and None not in (summary["median"], summary["lower"], summary["upper"]):
        return "{} [{}, {}]".format(*size_texts(summary["median"], summary["lower"], summary["upper"]))
    spec = ".2g" if spec == "ratio" else spec
    median = ">1e4" if summary["median"] is None else format(summary["median"], spec)  # most draws never match
    lower = "…" if summary["lower"] is None else format(summary["lower"], spec)
    upper = ">1e4" if summary["upper"] is None else format(summary["upper"], spec)
    return f"{median} [{lower}, {upper}]"


@dataclass(frozen=True)
class FamilyComparison:
    """Which family wins: one record per budget and ordered pair (see :meth:`to_records`)."""

    records: list[dict]
    prob: float
    loss_unit: str

    def to_records(self) -> list[dict]:
        """``compute``, ``family_a``, ``family_b``, ``p_better`` and ``loss_gap``, ``compute_gain``
        as ``{median, lower, upper}`` (``None`` where B cannot match A within 10^4 × the compute)."""
        return self.records

    def _repr_html_(self) -> str:
        from bayescale.results.html import records_html

        return records_html(self.records, f"which family wins (loss in {self.loss_unit})")

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        pct = f"{100 * self.prob:g}%"
        lines = [f"Which family wins (median and {pct} interval; loss in {self.loss_unit}; gain: the compute B "
                 f"needs to match A's loss, × C)"]
        for r in self.records:
            lines.append(f"  C = {r['compute']:.3g}: {r['family_a']} vs {r['family_b']}: P(A better) = "
                         f"{r['p_better']:.2f}; gap {format_summary(r['loss_gap'], '+.3f')}; "
                         f"gain ×{format_summary(r['compute_gain'], 'ratio')}")
        return "\n".join(lines)


def compare_families(fit: Any, budgets: Sequence[float], families: Sequence[str] | None = None,
                     prob: float = 0.95, unique_tokens: float | None = None) -> FamilyComparison:
    """Compare families at each budget: P(A better), the loss gap and the compute-equivalent gain.

    Parameters
    ----------
    fit : Fit
        A fit with per-family parameters.
    budgets : sequence of float
        Compute budgets in FLOPs.
    families : sequence of str, optional
        Two families A and B (that order only); by default every ordered pair.
    prob : float
        Interval probability.

    Raises
    ------
    FamilyAnswerError
        Not a family fit, or a family that is not in it.
    """
    known = _families(fit)
    if families:
        unknown = [f for f in families if f not in known]
        if unknown:
            raise FamilyAnswerError(f"no family {', '.join(map(repr, unknown))} in this fit; its families are {', '.join(known)}")
        if len(families) != 2 or families[0] == families[1]:
            raise FamilyAnswerError("give two different families to compare (A B), or none for every pair")
        pairs = [tuple(families)]
    else:
        pairs = list(permutations(known, 2))
    budgets = np.atleast_1d(np.asarray(budgets, dtype=float))
    extra = {"unique_tokens": unique_tokens} if unique_tokens is not None else {}
    grid = np.exp(np.linspace(-_GAIN_DECADES, _GAIN_DECADES, 81) * np.log(10))
    at = {f: _law_loss(fit, budgets, f, extra) for f in {f for pair in pairs for f in pair}}
    records = []
    for j, c in enumerate(budgets):
        curves = {f: _law_loss(fit, c * grid, f, extra) for f in at}  # (sample, grid), decreasing
        for a, b in pairs:
            la, lb = at[a][:, j], at[b][:, j]
            records.append({"compute": float(c), "family_a": a, "family_b": b,
                            "p_better": float(np.mean(la < lb)), "loss_gap": _summary(la - lb, prob),
                            "compute_gain": _summary(_gain(curves[b], la, grid), prob)})
    return FamilyComparison(records, prob, fit.runs.loss_unit)


def _law_loss(fit: Any, budgets: np.ndarray, family: str, extra: dict) -> np.ndarray:
    """The law's loss of ``family`` at each budget, per draw ``(sample, budget)``: at the
    compute-optimal allocation, or, for a law in compute alone, at the budget itself."""
    if fit.law.in_compute_alone:
        return fit.predict(C=budgets, family=family).mean
    return fit.optimum(budgets, family=family, with_miss=False, **extra).L_opt


def _gain(curve: np.ndarray, target: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per draw: the multiple of C at which the decreasing ``curve`` reaches ``target`` (inf beyond the grid)."""
    log_grid = np.log(grid)
    out = np.empty(target.shape)
    for i, (row, t) in enumerate(zip(curve, target)):
        if t < row[-1]:
            out[i] = np.inf
        elif t > row[0]:
            out[i] = grid[0]
        else:
            out[i] = np.exp(np.interp(-t, -row, log_grid))
    return out
