"""Report pages of saved results: a calibration (``bayescale calibrate --out``) or a backtest
(``bayescale backtest --out``). They only draw what the files hold; nothing is recomputed.
"""

from __future__ import annotations

import os
import textwrap
from typing import TYPE_CHECKING, Any

from bayescale.files import read_saved_json
from bayescale.report.plots import plot_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["read_saved", "saved_pages"]

KINDS = ("bayescale calibration", "bayescale backtest")


def read_saved(path: str | os.PathLike) -> dict:
    """Read a calibration or backtest JSON written by bayescale.

    Raises
    ------
    FitFileError
        If the file is missing, not JSON, or not one of those two kinds.
    """
    data = read_saved_json(path, KINDS, "is neither a bayescale calibration nor a backtest",
                           "--with takes files written by 'bayescale calibrate --out' or 'bayescale backtest --out'")
    data["path"] = str(path)
    return data


def _coverage_row(label: str, entry: dict | None) -> list[str]:
    if not entry:
        return [label, "–", "–"]
    return [label, f"{entry['coverage']:.2f}", f"± {entry['mc_se']:.2f}"]


def _calibration_page(data: dict) -> Figure:
    from bayescale.report.pages import _page

    fig = _page()
    sim, bt = data["simulated"], data["backtest"]
    pct = f"{100 * data['prob']:g}%"
    top, bottom, notes = fig.subfigures(3, 1, height_ratios=[1.2, 1.0, 0.45])
    rows = [_coverage_row("N* at " + ", ".join(f"{b:.3g}" for b in sim["budgets"]) + " FLOPs", sim.get("N_opt")),
            _coverage_row("held-out top-compute runs (predictive)", sim.get("holdout_loss"))]
    rows += [_coverage_row(f"parameter {name}", entry) for name, entry in sim["parameters"].items()]
    plot_table(rows, ["interval of", "coverage", "Monte-Carlo s.e."], ax=top.add_subplot(), fontsize=8.5,
               col_widths=[0.5, 0.2, 0.2],
               title=f"Simulated: {sim['simulations']} tables at your design, truth = a posterior draw "
                     f"({sim['converged_refits']} refits converged); nominal {pct}")
    rows = [[f"C < {o['cutoff']:.3g}", str(o["n_holdout"]), f"{o['coverage']:.2f}", f"{o['mean_width']:.3g}",
             f"{o['interval_score']:.3g}", f"{o['elpd_per_run']:.3g}"] for o in bt["rolling"]]
    rows.append(["pooled", str(bt["runs"]), f"{bt['coverage']:.2f}", f"{bt['mean_width']:.3g}",
                 f"{bt['interval_score']:.3g}", f"{bt['elpd_per_run']:.3g}"])
    plot_table(rows, ["fitted on", "held-out runs", "coverage", "mean width", "interval score", "elpd per run"],
               ax=bottom.add_subplot(), fontsize=8.5,
               title=f"Backtest on your runs: fit below each top compute bin, score that bin ({pct} predictive)")
    text = [f"Calibration file {data['path']} of fit {data['fit_id']}, error model '{data['noise']}'."]
    if not data["converged"]:
        text.append("WARNING: the calibrated fit did not pass its convergence gates.")
    text.append("Simulated coverage checks the sampler and priors when the law is true; the backtest checks "
                "whether the law's form holds beyond your runs. Widths and interval scores are in the loss's unit "
                "(interval score: width plus 40× the miss for 95% intervals; lower is better).")
    for name, moves in data.get("sensitivity", {}).items():
        text.append(f"Prior sensitivity ({name}): " + ", ".join(f"{k} {v:+.1%}" for k, v in moves.items()))
    notes.text(0.0, 0.95, "\n".join(textwrap.fill(t, 170) for t in text), fontsize=8, va="top")
    return fig


def _backtest_page(data: dict) -> Figure:
    from bayescale.report.pages import _page

    fig = _page()
    columns = ["elpd_per_run", "coverage", "mean_width", "interval_score", "median_rel_error", "gates"]
    rows = [[name] + [("pass" if scores[c] else "FAIL") if c == "gates" else f"{scores.get(c, float('nan')):.3g}"
                      for c in columns] for name, scores in data["laws"].items()]
    plot_table(rows, ["law", *columns], ax=fig.add_subplot(), fontsize=9,
               title=f"Backtest ({data['path']}): fitted on {data['n_train']} runs with C < {data['cutoff']:.3g} "
                     f"FLOPs, scored on {data['n_holdout']} held-out runs ({100 * data['prob']:g}% intervals)")
    return fig


def saved_pages(saved: list[dict]) -> list[tuple[str, Any]]:
    """``(section title, builder)`` pairs, one page per saved result."""
    plan = []
    for data in saved:
        if data["kind"] == "bayescale calibration":
            plan.append(("Calibration", lambda d=data: _calibration_page(d)))
        else:
            plan.append(("Backtest", lambda d=data: _backtest_page(d)))
    return plan
