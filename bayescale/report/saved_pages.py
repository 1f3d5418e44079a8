"""Report pages of saved results: a calibration (``bayescale calibrate --out``) or a backtest
(``bayescale backtest --out``). They only draw what the files hold; nothing is recomputed.
"""

from __future__ import annotations

import os
import textwrap
from typing import TYPE_CHECKING, Any

from bayescale.decisions.verdicts import verdicts, vertex_text
from bayescale.files import read_saved_json
from bayescale.report.plots import plot_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["read_saved", "saved_pages"]

KINDS = ("bayescale calibration", "bayescale backtest", "bayescale suggestion")


def read_saved(path: str | os.PathLike) -> dict:
    """Read a calibration, backtest or suggestion JSON written by bayescale.

    Raises
    ------
    FitFileError
        If the file is missing, not JSON, or not one of those kinds.
    """
    data = read_saved_json(path, KINDS, "is not a bayescale calibration, backtest or suggestion",
                           "--with takes files written by 'bayescale calibrate --out', 'bayescale backtest --out' "
                           "or 'bayescale suggest --out'")
    data["path"] = str(path)
    return data


def _coverage_row(label: str, entry: dict | None) -> list[str]:
    if not entry:
        return [label, "–", "–"]
    return [label, f"{entry['coverage']:.2f}", f"± {entry['mc_se']:.2f}"]


def _calibration_page(data: dict) -> Figure:
    from bayescale.report.layout import new_page

    fig = new_page()
    sim, bt = data["simulated"], data["backtest"]
    pct = f"{100 * data['prob']:g}%"
    top, bottom, notes = fig.subfigures(3, 1, height_ratios=[1.2, 1.0, 0.45])
    rows = [_coverage_row("N* at " + ", ".join(f"{b:.3g}" for b in sim["budgets"]) + " FLOPs", sim.get("N_opt"))]
    if sim.get("N_opt_predictive"):
        rows.append(_coverage_row("N* with the law's miss (predictive)", sim["N_opt_predictive"]))
    rows.append(_coverage_row("held-out top-compute runs (predictive)", sim.get("holdout_loss")))
    rows += [_coverage_row(f"parameter {name}", entry) for name, entry in sim["parameters"].items()]
    plot_table(rows, ["interval of", "coverage", "Monte-Carlo s.e."], ax=top.add_subplot(), fontsize=8.5,
               col_widths=[0.5, 0.2, 0.2],
               title=f"Simulated: {sim['simulations']} tables at your design, truth = a posterior draw "
                     f"({sim['converged_refits']} refits converged); nominal {pct}")
    def reach(entry: dict) -> str:  # calibrations saved before the rolling origins said how far they reached
        return f"{entry['reach']:.2g}" if "reach" in entry else "–"

    rows = [[f"C < {o['cutoff']:.3g}", str(o["n_holdout"]), reach(o), f"{o['coverage']:.2f}", f"{o['mean_width']:.3g}",
             f"{o['interval_score']:.3g}", f"{o['elpd_per_run']:.3g}"] for o in bt["rolling"]]
    rows.append(["pooled", str(bt["runs"]), reach(bt), f"{bt['coverage']:.2f}", f"{bt['mean_width']:.3g}",
                 f"{bt['interval_score']:.3g}", f"{bt['elpd_per_run']:.3g}"])
    plot_table(rows, ["fitted on", "runs scored", "reach (decades)", "coverage", "mean width", "interval score",
                      "elpd per run"], ax=bottom.add_subplot(), fontsize=8.5,
               title=f"Backtest on your runs: fit below each top compute bin, score every run above it ({pct} predictive)")
    text = [f"Calibration file {os.path.basename(data['path'])} of fit {data['fit_id']}, error model '{data['noise']}'."]
    if not data["converged"]:
        text.append("WARNING: the calibrated fit did not pass its convergence gates.")
    text.append("Simulated coverage checks the sampler and priors when the law is true; the backtest checks "
                "whether the law's form holds beyond your runs. Widths and interval scores are in the loss's unit "
                "(interval score: width plus 40× the miss for 95% intervals; lower is better). Reach: decades of "
                "compute from the largest fitted run to the largest scored one.")
    for name, moves in data.get("sensitivity", {}).items():
        text.append(f"Prior sensitivity ({name}): " + ", ".join(f"{k} {v:+.1%}" for k, v in moves.items()))
    if "vertices" in bt:
        text.append(vertex_text(bt["vertices"], pct).capitalize() + ".")
    text += [f"Verdict: {line}" for line in verdicts(data)]
    notes.text(0.0, 0.95, "\n".join(textwrap.fill(t, 170) for t in text), fontsize=8, va="top")
    return fig


def _backtest_page(data: dict) -> Figure:
    from bayescale.report.layout import new_page

    fig = new_page()
    columns = ["elpd_per_run", "coverage", "mean_width", "interval_score", "median_rel_error", "gates"]
    rows = [[name] + [("pass" if scores[c] else "FAIL") if c == "gates" else f"{scores.get(c, float('nan')):.3g}"
                      for c in columns] for name, scores in data["laws"].items()]
    plot_table(rows, ["law", *columns], ax=fig.add_subplot(), fontsize=9,
               title=f"Backtest ({os.path.basename(data['path'])}): fitted on {data['n_train']} runs with C < {data['cutoff']:.3g} "
                     f"FLOPs, scored on {data['n_holdout']} held-out runs ({100 * data['prob']:g}% intervals)")
    return fig


def _suggestion_page(data: dict) -> Figure:
    """What to run next: the chosen runs and the N* interval width they are expected to leave."""
    import numpy as np

    from bayescale.report.layout import new_page

    fig = new_page()
    top, middle, notes = fig.subfigures(3, 1, height_ratios=[1.0, 1.1, 0.4])
    runs = data["runs"]
    rows = [[str(i), f"{r['N']:.3g}", f"{r['D']:.3g}", f"{r['tokens_per_param']:.3g}", f"{r['compute']:.3g}",
             f"{100 * r['shrink']:.1f}%", f"×{np.exp(r['width_after']):.2f}"] for i, r in enumerate(runs, 1)]
    title = (f"What to run next for N* at {data['target_compute']:.3g} FLOPs, within {data['budget']:.3g} FLOPs "
             f"({os.path.basename(data['path'])})")
    if rows:
        plot_table(rows, ["#", "N (parameters)", "D (tokens)", "D/N", "compute (FLOPs)", "narrows by",
                          "N* upper/lower after"], ax=top.add_subplot(), fontsize=8.5, title=title)
    else:
        top.text(0.02, 0.5, title + ":\nno affordable run narrows the N* interval enough; none suggested.", fontsize=10)
    ax = middle.add_subplot()
    spent = np.concatenate([[0.0], np.cumsum([r["compute"] for r in runs])])
    ratio = np.exp([data["width_now"]] + [r["width_after"] for r in runs])
    ax.plot(np.arange(len(ratio)), ratio, color="black", marker="o")
    ax.set_xticks(np.arange(len(ratio)), ["today"] + [f"+{i} ({c:.2g})" for i, c in enumerate(spent[1:], 1)])
    ax.set_xlabel("runs done, in the order chosen (FLOPs spent so far)")
    ax.set_ylabel("expected N* interval, upper/lower")
    ax.grid(alpha=0.3)
    lo, hi = data["N_opt_now"]["lower"], data["N_opt_now"]["upper"]
    text = [f"Today N* lies in [{lo:.3g}, {hi:.3g}] ({100 * data['prob']:g}%). The batch is expected to narrow that "
            f"interval by {100 * data['batch_value']:.1f}% for {data['spent']:.3g} FLOPs; laws: {', '.join(data['laws'])}.",
            f"Method: {data['method']}. Runs are chosen by shrinkage per FLOP among those that narrow the interval by "
            f"at least {100 * data['min_gain']:g}% of today's width."]
    if data["stopped"]:
        text.append("The batch stopped early: no further affordable run narrows the interval by that much.")
    notes.text(0.0, 0.95, "\n".join(textwrap.fill(t, 170) for t in text), fontsize=8, va="top")
    return fig


_PAGES = {"bayescale calibration": ("Calibration", _calibration_page),
          "bayescale backtest": ("Backtest", _backtest_page),
          "bayescale suggestion": ("What to run next", _suggestion_page)}


def saved_pages(saved: list[dict]) -> list[tuple[str, Any]]:
    """``(section title, builder)`` pairs, one page per saved result."""
    return [(_PAGES[data["kind"]][0], lambda d=data: _PAGES[d["kind"]][1](d)) for data in saved]
