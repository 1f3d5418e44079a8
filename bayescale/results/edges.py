"""Interval ends that are an edge of the learned tilt, not a quantile.

The law's miss beyond the fitted runs tilts along the isoFLOP curves only over the shifts of D/N it
was learned on, and is flat beyond them (:func:`bayescale.laws.extrapolation.at_learned_edge`). A
draw with a strong tilt stops its optimum on that edge. Where an interval's quantile falls there,
the printed end is the edge: it is marked "≤" or "≥" and explained in a note. These helpers read a
budget's record (:meth:`bayescale.results.optimum.Optimum.to_records`); the command line and the
report use them alike.
"""

from __future__ import annotations

__all__ = ["EDGE_KEYS", "edge_notes", "mark_open", "open_ends"]

#: The keys of a budget's record that hold the shares of draws on and beyond each edge.
EDGE_KEYS = ("predictive_at_learned_edge", "predictive_beyond_learned_edge")


def open_ends(record: dict) -> dict[str, tuple[bool, bool]]:
    """Which ends (lower, upper) of ``N_opt_predictive`` and ``D_opt_predictive`` in a budget's
    record (:meth:`Optimum.to_records`) are an edge of the learned tilt rather than a quantile: the
    interval's quantile on that side falls on the edge (fewer draws than the tail lie beyond it, more
    with those on it). Printed as "≤" and "≥"."""
    at, beyond = record.get("predictive_at_learned_edge"), record.get("predictive_beyond_learned_edge")
    if not at:
        return {}
    few, many = (_quantile_on_edge(at[key], beyond[key], (1 - record["prob"]) / 2)
                 for key in ("few_tokens_per_param", "many_tokens_per_param"))
    return {"N_opt_predictive": (many, few), "D_opt_predictive": (few, many)}


def _quantile_on_edge(at: float, beyond: float, tail: float) -> bool:
    """Whether the interval's end on that side is the edge: fewer draws than the tail lie beyond
    it, and with those on it, more."""
    return beyond < tail <= beyond + at


def mark_open(name: str, lower: str, upper: str, ends: dict[str, tuple[bool, bool]]) -> tuple[str, str]:
    """``lower`` and ``upper`` with "≤" and "≥" where :func:`open_ends` says they are an edge."""
    low, high = ends.get(name, (False, False))
    return ("≤" if low else "") + lower, ("≥" if high else "") + upper


def edge_notes(record: dict) -> list[str]:
    """A note when an end of the predictive N*, D* intervals is an edge of the learned tilt."""
    ends = open_ends(record)
    if not ends:
        return []
    open_few, open_many = ends["D_opt_predictive"]
    shares = record["predictive_at_learned_edge"]
    low, high = shares["few_tokens_per_param"], shares["many_tokens_per_param"]
    what = "the tokens-per-parameter range the law's miss was learned on"
    if open_few and open_many:
        return [f"  note: both ends of N_opt_predictive and D_opt_predictive are edges of {what} ({100 * low:.0f}% of "
                f"draws stop at its few-tokens edge, {100 * high:.0f}% at its many-tokens edge): read each end "
                "(≤, ≥) as 'this far, or farther'"]
    if open_few or open_many:
        which = ("N_opt_predictive's upper end and D_opt_predictive's lower end" if open_few else
                 "N_opt_predictive's lower end and D_opt_predictive's upper end")
        return [f"  note: {which} are an edge of {what} ({100 * (low if open_few else high):.0f}% of draws stop "
                "there): read them (≤, ≥) as 'this far, or farther'"]
    return []
