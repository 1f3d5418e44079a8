"""Page 1 of every report: what to train, what loss to expect, and how far to trust it.

:func:`front_results` computes the answer once through the result API (the recommended
allocation, the laws' and the ensemble's optima, the distance from the data, the verdicts);
:func:`front_page` only draws it.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayescale.report.plots import plot_table
from bayescale.results.edges import mark_open, open_ends
from bayescale.results.optimum import moved_by_miss
from bayescale.texts import loss_interval_text as _loss_interval
from bayescale.texts import sci
from bayescale.texts import times as _times

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FrontResults", "front_results", "front_page", "EXTRAPOLATION_WARNING"]

#: Budgets beyond this multiple of the top of the runs' compute get a visible warning.
EXTRAPOLATION_WARNING = 10.0
_TOP_QUANTILE = 0.9
#: A predictive loss interval wider than this factor (upper / lower) is called uninformative on page 1.
_UNINFORMATIVE = 2.0


@dataclass(frozen=True)
class FrontResults:
    """What page 1 says.

    Attributes
    ----------
    answers : list of dict
        Per budget: ``compute``, ``N_recommended``, ``D_recommended``, ``L_opt_predictive``
        and ``L_opt`` (median, lower, upper), ``beyond`` (budget over the top of the runs' compute),
        ``beyond_size`` (the recommended N over the top of the runs' sizes); for a law with unique
        tokens U, ``unique_tokens``.
    rows : list of list of str
        The table: budget, law (or ``ensemble``), N*, D*, L* a run there, L* law.
    top_compute : float
        The top of the runs' compute: their 90th percentile, FLOPs (not the single largest run).
    verdicts : list of str
        Convergence of each fit, which law the data prefer (PSIS-LOO) and which extrapolated
        best (a saved backtest), and whether those disagree.
    source : str
        Which answer the paragraph gives (one law, or the stacked ensemble of several).
    prob : float
    loss_unit : str
    top_size : float
        The top of the runs' model sizes: their 90th percentile, parameters.
    """

    answers: list[dict]
    rows: list[list[str]]
    top_compute: float
    verdicts: list[str]
    source: str
    prob: float
    loss_unit: str
    top_size: float


def _size_interval(r: dict, name: str = "", ends: dict[str, tuple[bool, bool]] | None = None) -> str:
    """Median [lower, upper]; an end of ``name`` that is the edge of the learned tilt (``ends``,
    :func:`bayescale.results.edges.open_ends`) is marked "≤" or "≥"."""
    lower, upper = mark_open(name, sci(r["lower"], 2), sci(r["upper"], 2), ends or {})
    return f"{sci(r['median'], 2)} [{lower}, {upper}]"


def front_results(fits: Sequence[Any], results: Sequence[Any], comparison: Any = None,
                  saved: Sequence[dict] = (), prob: float = 0.95, cluster: Any = None,
                  price_per_gpu_hour: float | None = None) -> FrontResults | None:
    """Compute page 1 from the fits, their report results, the comparison and saved results.

    With a ``cluster`` (:class:`bayescale.planning.cluster.Cluster`), each answer carries its
    ``days``, ``gpu_hours`` and, with a price, ``cost`` (USD) on it.

    Returns None when no fit has a compute-optimal allocation (compute-only laws).
    """
    from bayescale.planning.decision import recommend, recommend_stacked

    usable = [(fit, res) for fit, res in zip(fits, results) if res.at_budgets is not None]
    if not usable:
        return None
    budgets = usable[0][1].budgets
    tops = _tops(fits[0].runs)
    same_runs = len({fit.attrs["data_hash"] for fit, _ in usable}) == 1 and len(usable) > 1
    weights, mixture = None, None
    if same_runs and comparison is not None:
        labels = list(comparison.table.index)
        from bayescale.decisions.comparison import _labels

        order = _labels([fit for fit, _ in usable])
        if set(order) <= set(labels):
            weights = [float(comparison.table.loc[label, "weight"]) for label in order]
            from bayescale.decisions.ensemble import ensemble

            mixture = ensemble([fit for fit, _ in usable], budgets, weights=weights).optimum  # LOO done once
    rows, answers = [], []
    for j, c in enumerate(budgets):
        rows += [row for fit, res in usable for row in _rows(c, fit.law.name, res.at_budgets.to_records(prob)[j])]
        if mixture is not None:
            rec = mixture.to_records(prob)[j]
            rows += _rows(c, "ensemble (stacked)", rec)
            chosen = recommend_stacked([fit for fit, _ in usable], weights, float(c))
        else:
            fit, res = usable[0]
            rec = res.at_budgets.to_records(prob)[j]
            chosen = recommend(fit, float(c), unique_tokens=res.unique_tokens,
                               optimum=res.at_budgets if len(budgets) == 1 else None)
            if res.unique_tokens is not None:
                chosen = {**chosen, "unique_tokens": res.unique_tokens}
        answers.append(_answer(c, chosen, rec, tops, cluster, price_per_gpu_hour))
    verdicts = [_verdict(fit) for fit in fits]
    verdicts += _preferences(comparison, saved)
    source = "the stacked ensemble of the laws (PSIS-LOO weights)" if mixture is not None else f"the {usable[0][0].law.name} law"
    refitted = [fit for fit, _ in usable if fit.allocation is not None]
    if refitted:
        source += (f", {refitted[0].allocation_basis}" if len(usable) == 1 or mixture is None
                   else ", each law refitted to the runs near their budget's lowest loss")
    return FrontResults(answers, rows, tops[0], verdicts, source, prob, fits[0].runs.loss_unit, tops[1])


def _tops(runs: Any) -> tuple[float, float]:
    """The top of the runs' compute and of their sizes (90th percentiles): distances count from there."""
    return float(np.quantile(runs.C, _TOP_QUANTILE)), float(np.quantile(runs.N, _TOP_QUANTILE))


def _rows(compute: float, label: str, rec: dict) -> list[list[str]]:
    """Table rows: budget, law or family, N*, D*, L* of a run there and of the law; then, where the
    error model has a miss, N* and D* of the surface each draw believes (the law and its miss)."""
    rows = [[sci(compute, 2), label, _size_interval(rec["N_opt"]), _size_interval(rec["D_opt"]),
             _loss_interval(rec["L_opt_predictive"]), _loss_interval(rec["L_opt"])]]
    if moved_by_miss(rec):
        ends = open_ends(rec)
        rows.append(["", "  + the law's miss", _size_interval(rec["N_opt_predictive"], "N_opt_predictive", ends),
                     _size_interval(rec["D_opt_predictive"], "D_opt_predictive", ends), "", ""])
    return rows


def _answer(compute: float, chosen: dict, rec: dict, tops: tuple[float, float], cluster: Any,
            price_per_gpu_hour: float | None) -> dict:
    """One budget's answer: what to train (``chosen``), its losses, its distance from the runs,
    and with a cluster its days, GPU-hours and cost."""
    answer = {"compute": float(compute), **chosen, "L_opt_predictive": rec["L_opt_predictive"], "L_opt": rec["L_opt"],
              "beyond": float(compute) / tops[0], "beyond_size": float(chosen["N_recommended"]) / tops[1]}
    if moved_by_miss(rec):
        answer["N_opt_predictive"] = rec["N_opt_predictive"]
    if cluster is not None:
        answer |= {"cluster": cluster.label, "mfu": cluster.mfu, "days": float(cluster.days(compute)),
                   "gpu_hours": float(cluster.gpu_hours(compute))}
        if price_per_gpu_hour is not None:
            answer["cost"] = answer["gpu_hours"] * float(price_per_gpu_hour)
    return answer


def family_front_results(fit: Any, budgets: Sequence[float], comparison: Any, prob: float = 0.95,
                         cluster: Any = None, price_per_gpu_hour: float | None = None) -> FrontResults:
    """Page 1 of a fit over families: per budget, which family wins and what to train for it.

    The paragraph names the family with the lowest median law loss at its own optimum, how sure
    that is (P(better) than the runner-up, from ``comparison``, a
    :class:`~bayescale.decisions.families.FamilyComparison` at ``budgets``), and that family's
    median N* and D*. The table gives every family's N*, D*, L* (and a new family's, when the
    parameters are pooled).
    """
    from bayescale.decisions.families import NEW_FAMILY, family_optima

    optima = family_optima(fit, budgets)
    tops = _tops(fit.runs)
    rows, answers = [], []
    for j, c in enumerate(budgets):
        records = {name: opt.to_records(prob)[j] for name, opt in optima.items()}
        rows += [row for name, rec in records.items() for row in _rows(c, f"family {name}", rec)]
        known = {name: rec for name, rec in records.items() if name != NEW_FAMILY}
        ranked = sorted(known, key=lambda name: known[name]["L_opt"]["median"])
        best, rec = ranked[0], known[ranked[0]]
        sure = [r["p_better"] for r in comparison.records if r["compute"] == float(c) and r["family_a"] == best
                and len(ranked) > 1 and r["family_b"] == ranked[1]]
        chosen = {"family": best, "p_better": sure[0] if sure else None,
                  "runner_up": ranked[1] if len(ranked) > 1 else None,
                  "N_recommended": rec["N_opt"]["median"], "D_recommended": rec["D_opt"]["median"]}
        answers.append(_answer(c, chosen, rec, tops, cluster, price_per_gpu_hour))
    source = f"the {fit.law.name} law fitted over families, its median N* for the winning family"
    return FrontResults(answers, rows, tops[0], [_verdict(fit)], source, prob, fit.runs.loss_unit, tops[1])


def _verdict(fit: Any) -> str:
    """The gates, and any trend the law misses (with its advice), of one fit, in a sentence or two."""
    text = f"{fit.law.name} (fit {fit.id}): " + ("convergence gates passed" if fit.gates.passed else
                                                 "CONVERGENCE GATES FAILED: do not act on its numbers")
    findings = fit.adequacy().findings
    if findings:
        text += f"; model adequacy FAILED: {findings[0]}" + (f" (and {len(findings) - 1} more trend(s))"
                                                           if len(findings) > 1 else "")
    return text + (f". Runs {fit.runs.selection}." if fit.runs.selection else "")


def _preferences(comparison: Any, saved: Sequence[dict]) -> list[str]:
    out, loo_best = [], None
    if comparison is not None and len(comparison.table) > 1:
        loo_best = str(comparison.table.index[0])
        out.append(f"The runs prefer {loo_best} (PSIS-LOO, stacking weight {comparison.table['weight'].iloc[0]:.2f}).")
    for data in saved:
        if data.get("kind") != "bayescale backtest" or len(data.get("laws", {})) < 2:
            continue
        scores = {name: s.get("elpd_per_run", float("-inf")) for name, s in data["laws"].items()}
        best = max(scores, key=scores.get)
        out.append(f"{best} extrapolated best in the backtest {os.path.basename(data['path'])} "
                   f"(elpd per held-out run {scores[best]:.3g}).")
        if loo_best is not None and not loo_best.startswith(best):
            out.append(f"They disagree: the law that fits the runs best ({loo_best}) is not the one that extrapolated "
                       f"best ({best}); trust the backtest for budgets far beyond the runs.")
    return out


def _spread(answer: dict) -> float:
    """Upper over lower bound of the predictive loss interval."""
    r = answer["L_opt_predictive"]
    return float(r["upper"]) / max(float(r["lower"]), 1e-300)


def _uninformative(answer: dict) -> bool:
    return _spread(answer) > _UNINFORMATIVE


def _far(answer: dict) -> bool:
    """Beyond the warning's multiple of the runs, in compute or in model size, or with a predictive
    interval too wide to act on."""
    return (answer["beyond"] > EXTRAPOLATION_WARNING or answer.get("beyond_size", 0.0) > EXTRAPOLATION_WARNING
            or _uninformative(answer))


def _moved_text(answer: dict) -> str:
    """A sentence on how far the law's miss beyond the runs could move the best size, when it moves it."""
    r = answer.get("N_opt_predictive")
    if r is None or answer["beyond"] <= 1:
        return ""
    return (f" Beyond your runs the law itself may be off, and its miss could put the best size anywhere in "
            f"[{sci(r['lower'], 2)}, {sci(r['upper'], 2)}] parameters.")


def front_page(front: FrontResults) -> Figure:
    """Draw page 1 from :func:`front_results`."""
    from bayescale.report.layout import PAGE, new_page

    fig = new_page()
    pct = f"{100 * front.prob:g}%"
    lines = []
    for a in front.answers:
        size = (f" and a model {_times(a['beyond_size'])} the top of their sizes" if a["beyond_size"] > 1
                else " with a model within their sizes")
        far = (f" This is {_times(a['beyond'])} the top of your runs' compute{size}: an extrapolation"
               + (", so weigh the intervals more than the medians." if _far(a) else "."))
        if a["beyond"] <= 1:
            far = " This lies within the compute of your runs."
        if _uninformative(a):
            spread = _times(_spread(a)).rstrip("×")
            far += (f" Its predictive interval spans a factor of {spread}: this far out, the runs cannot say "
                    "what loss a run would reach; add runs nearer this budget before acting on it.")
        if "days" in a:
            far += (f" On {a['cluster']} at {100 * a['mfu']:g}% MFU it takes {sci(a['days'], 3)} days, "
                    f"{sci(a['gpu_hours'], 3)} GPU-hours" + (f", ${sci(a['cost'], 3)}." if "cost" in a else "."))
        size_tokens = f"{sci(a['N_recommended'], 2)} parameters on {sci(a['D_recommended'], 2)} tokens"
        if a.get("unique_tokens") is not None:
            size_tokens += (f", {a["D_recommended"] / a["unique_tokens"]:.2g} passes over {sci(a["unique_tokens"], 2)} "
                            "unique tokens")
        if a.get("family") is not None:
            sure = (f" (P = {a['p_better']:.2f} that it beats {a['runner_up']}, the next best)"
                    if a.get("p_better") is not None else "")
            what = (f"family {a['family']} reaches the lowest loss{sure}: train it at about {size_tokens} "
                    f"({front.source})")
        else:
            what = f"train about {size_tokens} (the allocation with the lowest expected loss under {front.source})"
        lines.append(f"At {sci(a['compute'], 3)} FLOPs, {what}; expect a loss of {_loss_interval(a['L_opt_predictive'])} "
                     f"{front.loss_unit} ({pct} predictive interval for a run trained there; the law alone: "
                     f"{_loss_interval(a['L_opt'])}).{far}" + _moved_text(a))
    wrapped = [textwrap.fill(line, 150) for line in lines]
    height = sum(w.count("\n") + 1 for w in wrapped) + 0.7 * len(wrapped)  # in lines, with the gaps
    # the page's title comes from decorate(); each part gets the height (inches) it needs
    line = 8.8 * 1.45 / 72
    text_h, table_h = 0.1 + line * height, 0.5 + 0.22 * len(front.rows)
    notes_h = max(1.2, 0.915 * PAGE[1] - text_h - table_h)
    text_part, table_part, notes = fig.subfigures(3, 1, height_ratios=[text_h, table_h, notes_h])
    y = 1.0 - 0.05 / text_h
    for a, text in zip(front.answers, wrapped):  # a budget far beyond the runs is set in dark red
        far = _far(a)
        text_part.text(0.0, y, text, fontsize=8.8, va="top", color="#8a0000" if far else "black",
                       fontweight="bold" if far else "normal")
        y -= line / text_h * (text.count("\n") + 1.7)
    plot_table(front.rows, ["C (FLOPs)", "law or family", "N* (parameters)", "D* (tokens)", f"L* a run there ({front.loss_unit})",
                            "L* the law"], ax=table_part.add_subplot(), fontsize=8,
               col_widths=[0.08, 0.17, 0.2, 0.2, 0.18, 0.17],
               title=f"Per budget and law: median and {pct} interval")
    notes_text = [f"Distances are measured from the top of the runs' compute and sizes (their 90th percentiles, "
                  f"{sci(front.top_compute, 3)} FLOPs and {sci(front.top_size, 3)} parameters), not from the single "
                  "largest run."] + front.verdicts
    notes.text(0.0, 0.95, "\n".join(textwrap.fill(t, 160) for t in notes_text), fontsize=8, va="top")
    return fig
