"""Pages that set fits side by side: the PSIS-LOO comparison, overlaid frontiers, and families."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bayescale.report.layout import Plan, new_page
from bayescale.report.plots import plot_frontier, plot_table
from bayescale.report.posterior import plot_comparison
from bayescale.texts import sci

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayescale.report.contents import FitResults
    from bayescale.results.fitted import Fit

__all__ = ["comparison_pages", "families_page"]


def _comparison_page(comparison: Any, reason: str) -> Figure:
    fig = new_page()
    if comparison is None:
        fig.text(0.05, 0.7, "\n".join(textwrap.wrap(reason, 100)), fontsize=13, va="top")
        return fig
    table = comparison.table
    top, bottom = fig.subfigures(2, 1, height_ratios=[0.35 + 0.1 * len(table), 1.3])
    rows = [[str(label)] + [f"{v:.0f}" if col in ("rank", "bad_k") else f"{v:.3g}" if col == "weight" else f"{v:.2f}"
                            for col, v in row.items()] for label, row in table.iterrows()]
    ax = top.add_subplot()
    plot_table(rows, ["fit"] + list(table.columns), ax=ax, fontsize=8.5,
               title="PSIS-LOO comparison: elpd of the log losses (nats; higher is better), best first")
    notes = ["elpd_diff and dse: difference to the best and its standard error; a difference under ~2 dse "
             "is not a clear preference. weight: stacking weight."] + [f"warning: {w}" for w in comparison.warnings]
    top.text(0.0, 0.02, "\n".join(textwrap.fill(n, 170) for n in notes), fontsize=8, va="bottom")
    plot_comparison(comparison, ax=bottom.add_subplot())
    return fig


def _overlay_page(fits: Sequence[Fit], results: Sequence[FitResults]) -> Figure:
    fig = new_page()
    optima = {f"{fit.law.name} [{fit.id}]": res.frontier for fit, res in zip(fits, results) if res.frontier is not None}
    if not optima:
        fig.text(0.05, 0.7, "None of these laws has a compute-optimal frontier.", fontsize=14)
        return fig
    lows = [fit.runs.C.min() for fit in fits]
    highs = [fit.runs.C.max() for fit in fits]
    skipped = [fit.law.name for fit, res in zip(fits, results) if res.frontier is None]
    body = fig
    if skipped:
        note, body = fig.subfigures(2, 1, height_ratios=[1, 24])
        note.text(0.0, 0.5, f"not shown (no trade-off between N and D): {', '.join(skipped)}", fontsize=8, va="center")
    plot_frontier(optima, results[0].summary.prob, (min(lows), max(highs)), results[0].budgets, fig=body)
    return fig


def comparison_pages(fits: Sequence[Fit], results: Sequence[FitResults], comparison: Any, reason: str) -> Plan:
    """The comparison table (or why there is none) and the overlaid frontiers."""
    return [("7 Comparison of the fits", lambda: _comparison_page(comparison, reason)),
            ("7 Comparison: compute-optimal frontiers overlaid", lambda: _overlay_page(fits, results))]


def families_page(families: Any) -> Figure:
    """Per-family frontiers overlaid (and a new family's), with the which-wins table."""
    from bayescale.decisions.families import format_summary as fmt

    fig = new_page()
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.6, 1.0])
    plot_frontier(families.frontiers, 0.95, families.data_range, families.budgets, fig=top)
    records = [r for r in families.comparison.to_records() if r["family_a"] < r["family_b"]]
    rows = [[sci(r["compute"]), r["family_a"], r["family_b"], f"{r['p_better']:.2f}", fmt(r["loss_gap"], "+.3f"),
             "×" + fmt(r["compute_gain"], "ratio")] for r in records[:12]]
    plot_table(rows, ["C (FLOPs)", "A", "B", "P(A better)", f"loss gap A − B ({families.comparison.loss_unit})",
                      "B's compute to match A"], ax=bottom.add_subplot(), fontsize=8,
               title="Which family wins at each budget (each at its own optimum; median and 95% interval)"
                     + (f"; first 12 of {len(records)} pairs" if len(records) > 12 else ""))
    return fig
