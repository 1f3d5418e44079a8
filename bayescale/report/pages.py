"""The pages of one fit in the PDF report: title and provenance, notes, data, fit, residuals,
posterior and frontier.

Each builder takes a fit and the results :mod:`bayescale.report.contents` computed for it and only
draws; :func:`fit_pages` returns ``(section title, builder)`` pairs so that the report can number
its pages before drawing them. The appendix (:mod:`bayescale.report.appendix`) and the pages that
set fits side by side (:mod:`bayescale.report.comparing`) are apart; the page itself is
:mod:`bayescale.report.layout`'s.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from bayescale.data.runs import UNITS
from bayescale.report.layout import MONO, Plan, file_name, new_page
from bayescale.report.plots import (
    plot_design,
    plot_fit_slices,
    plot_frontier,
    plot_qq,
    plot_residuals,
    plot_runs,
    plot_table,
)
from bayescale.report.posterior import plot_prior_posterior
from bayescale.texts import sci, times

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayescale.report.contents import FitResults
    from bayescale.results.fitted import Fit
    from bayescale.results.optimum import Optimum

__all__ = ["fit_pages", "allocation_rows"]

_MAX_ROWS = 16  # rows of the posterior table that fit its half page



def _interval(record: dict, key: str, fmt: Callable[[float], str] = sci) -> str:
    r = record[key]
    return f"{fmt(r['median'])} [{fmt(r['lower'])}, {fmt(r['upper'])}]"


def _loss_text(value: float) -> str:
    return f"{value:.4g}"


def _open_interval(record: dict, key: str) -> str:
    """:func:`_interval`, an end marked "≤" or "≥" where it is the edge of the learned tilt."""
    from bayescale.results.edges import mark_open, open_ends

    r = record[key]
    lower, upper = mark_open(key, sci(r["lower"]), sci(r["upper"]), open_ends(record))
    return f"{sci(r['median'])} [{lower}, {upper}]"


def allocation_rows(optimum: Optimum, prob: float, largest_run: float) -> list[list[str]]:
    """Rows of the allocation table: budget, extrapolation, N*, D*, L*, D*/N* with intervals.

    ``largest_run`` is the top of the runs' compute the extrapolation is measured from (the report
    passes their 90th percentile, as page 1 does); losses get the decimals their intervals support.
    """
    from bayescale.results.optimum import moved_by_miss
    from bayescale.texts import loss_interval_text

    rows = []
    for record in optimum.to_records(prob):
        ratio = record["compute"] / largest_run
        reach = "within the runs" if ratio <= 1 else f"{times(ratio)} top of runs"
        new_run = loss_interval_text(record["L_opt_predictive"]) if "L_opt_predictive" in record else "not computed"
        rows.append([sci(record["compute"]), reach, _interval(record, "N_opt"), _interval(record, "D_opt"),
                     loss_interval_text(record["L_opt"]), new_run, _interval(record, "tokens_per_param", lambda v: f"{v:.3g}")])
        if moved_by_miss(record):  # the optimum of each draw's surface: the law and its miss
            rows.append(["", "+ the law's miss", _open_interval(record, "N_opt_predictive"),
                         _open_interval(record, "D_opt_predictive"), "", "", ""])
    return rows


def _allocation_columns(unit: str) -> list[str]:
    return ["C (FLOPs)", "extrapolation", "N* (parameters)", "D* (tokens)", f"L* law ({unit})",
            "L* a run there", "D*/N* (tok./param.)"]


_ALLOC_WIDTHS = [0.08, 0.14, 0.16, 0.16, 0.16, 0.14, 0.13]  # 0.97: the last column's border stays on the page


def _provenance(fit: Fit) -> tuple[list[str], list[str]]:
    """Two columns of provenance lines: data and law; priors, sampler and versions."""
    a, runs, law = fit.attrs, fit.runs, fit.law
    columns = json.loads(a.get("data_columns_json", "{}"))
    scales = fit.scales
    wrap = lambda text, width=88: textwrap.wrap(text, width, subsequent_indent="    ")  # noqa: E731
    left = ["DATA", *wrap(f"file      {file_name(a['data_source'])}"), f"hash      {a['data_hash']}",
            f"runs      {runs.n_runs} kept" + (f", {runs.excluded} left out by the row filters" if runs.excluded else ""),
            *wrap("columns   " + ", ".join(f"{k} ← {v}" for k, v in columns.items())),
            f"loss unit {runs.loss_unit}",
            *([f"N counted {runs.n_convention}"] if runs.n_convention != "unstated" else []),
            *(wrap(f"selected  {runs.selection}") if runs.selection else []), "", "LAW",
            f"name      {law.name}", *wrap(f"title     {law.title}"), *wrap(f"formula   L = {law.formula.source}"),
            *wrap(f"file      {file_name(a.get('law_path', ''))}"), f"hash      {a.get('law_sha256', '')}",
            *wrap(f"units     {', '.join(f'{v}/{v}_ref' for v in law.variables)} with "
                  + ", ".join(f"{v}_ref = {sci(getattr(scales, v + '_ref'))} {UNITS[v]}" for v in law.variables))]
    left += wrap("refs      " + "; ".join(law.references)) if law.references else []
    if fit.allocation is not None:
        kept = fit.allocation.runs
        left += ["", "ALLOCATION", *wrap(f"N*, D*, L* from the law refitted to {kept.n_runs} of {runs.n_runs} runs "
                                         f"({kept.selection}); fit id {fit.allocation.id}, gates "
                                         f"{'passed' if fit.allocation.gates.passed else 'FAILED'}")]
    sampler = fit.sampler
    attempts = json.loads(a.get("attempts_json", "[]"))
    right = ["PRIORS (normalized units)"]
    right += [f"  {name:<8} ~ {law.priors[name]}" for name in law.all_parameters]
    model = law.error_model
    right += ["", "ERROR MODEL", *wrap(f"  {model.name}: {model.title}", 80), *wrap(f"  {model.equation}", 80), "",
              "SAMPLER"]
    right += wrap("  " + ", ".join(f"{k} {v}" for k, v in sampler.items() if v is not None), 80)
    right += [f"  attempts {len(attempts) or 1} (a missed gate adds chains, or samples again with more draws)", "", "VERSIONS"]
    right += wrap("  " + ", ".join(f"{k} {v}" for k, v in json.loads(a.get("versions_json", "{}")).items()), 80)
    right += ["", f"FIT ID    {fit.id}", f"CREATED   {a.get('created', 'unknown')}"]
    return left, right


def title_page(fit: Fit, res: FitResults) -> Figure:
    """Section 1: title, convergence verdict, what the budgets buy, and provenance."""
    fig = new_page()
    gates = fit.gates
    if gates.passed:
        verdict = [str(gates).replace("convergence gates PASSED", "Convergence gates PASSED")]
    else:
        shown = gates.failures[:8] + ([f"and {len(gates.failures) - 8} more"] if len(gates.failures) > 8 else [])
        verdict = ["CONVERGENCE GATES FAILED: do not use these numbers for decisions; sample again "
                   "(more draws, more warm-up, tighter priors)."]
        verdict += textwrap.wrap("Failures: " + "; ".join(shown) + ".", 135)
    rows = (allocation_rows(res.at_budgets, res.summary.prob, float(np.quantile(fit.runs.C, 0.9)))
            if res.at_budgets is not None else [])
    top, box, middle, bottom = fig.subfigures(
        4, 1, height_ratios=[1.0, 0.2 + 0.13 * len(verdict), 0.9 + 0.145 * max(len(rows), len(res.budgets)), 2.6])
    top.text(0.0, 0.95, f"Scaling-law fit: {fit.law.name}", fontsize=20, fontweight="bold", va="top")
    top.text(0.0, 0.55, fit.law.title, fontsize=11, va="top")
    formula = f"L = {fit.law.formula.source}    ({fit.runs.n_runs} runs; loss in {fit.runs.loss_unit})"
    if len(formula) <= 120:
        top.text(0.0, 0.25, formula, fontsize=10, va="top", family="monospace")
    else:  # a long formula (the data-constrained law's is 300 characters) wraps instead of running off the page
        top.text(0.0, 0.36, textwrap.fill(formula, 170, subsequent_indent="    "), fontsize=7, va="top",
                 family="monospace", linespacing=1.1)
    if gates.passed:
        box.text(0.003, 0.5, verdict[0], fontsize=9, va="center",
                 bbox={"boxstyle": "round", "facecolor": "0.93", "edgecolor": "0.4"})
    else:
        box.text(0.003, 0.5, "\n".join(verdict), fontsize=9.5, fontweight="bold", color="#b00000", va="center",
                 linespacing=1.4,
                 bbox={"boxstyle": "square", "facecolor": "#ffe5e5", "edgecolor": "#b00000", "linewidth": 2.5})
    ax = middle.add_subplot()
    pct = f"{100 * res.summary.prob:g}%"
    if res.at_budgets is not None:
        plot_table(rows, _allocation_columns(fit.runs.loss_unit), ax=ax, fontsize=8.5, col_widths=_ALLOC_WIDTHS,
                   title=f"What the budget buys: compute-optimal allocation (median and {pct} credible interval)")
        note = ("N*, D*, L* law: the uncertainty of the fitted law. L* a run there: what one run trained at (N*, D*) "
                f"would score under the error model '{fit.law.noise}' (run-to-run noise, and beyond the runs the law's "
                "own discrepancy). Extrapolation: the budget over the top of the runs' compute (their 90th percentile).")
        if res.at_budgets.N_opt_predictive is not None:
            note += (" + the law's miss: N* and D* of each draw's surface, the law plus its miss beyond the runs, whose "
                     "tilt along the isoFLOP curve moves the optimum (held 15 of 15 held-out vertices of real sweeps).")
        middle.text(0.0, 0.01, textwrap.fill(note, 190), fontsize=7.5, color="0.25")
    elif res.bought is not None:  # a law in compute alone: the loss each budget buys
        unit = fit.runs.loss_unit
        records = res.bought.to_records()
        rows = [[sci(r["C"]), _interval(r, "loss", _loss_text), _interval(r, "predictive", _loss_text)] for r in records]
        plot_table(rows, ["C (FLOPs)", f"loss, the law ({unit})", f"loss, a run there ({unit})"], ax=ax, fontsize=8.5,
                   title=f"What the budget buys: the loss (median and {pct} interval); the law is in compute alone, "
                         "so it says nothing of N and D")
    else:
        ax.axis("off")
        ax.text(0, 0.8, "No compute-optimal allocation: " + "\n".join(textwrap.wrap(res.optimum_error, 140)),
                fontsize=9, va="top", transform=ax.transAxes)
    left, right = _provenance(fit)
    bottom.text(0.0, 0.98, "\n".join(left), va="top", **MONO)
    bottom.text(0.53, 0.98, "\n".join(right), va="top", **MONO)
    return fig


#: Lines of notes that fit on a page.
_NOTE_LINES = 60


def notes_page(fit: Fit) -> Figure:
    """Section 1b: the notes given when the runs were read and the law fitted (a column derived, one
    compute budget, setups that look mixed, …), which qualify every number of the report."""
    fig = new_page()
    fig.text(0.05, 0.95, "Notes given when the runs were read and the law fitted", fontsize=14, fontweight="bold",
             va="top")
    fig.text(0.05, 0.91, textwrap.fill("They qualify the numbers of every page; `bayescale summary FIT` prints them "
                                       "too. The sampler's retries are on page 1, as attempts.", 120),
             fontsize=9, va="top", style="italic")
    lines = [line for note in fit.notes for line in [*textwrap.wrap(note, 120, initial_indent="•  ",
                                                                      subsequent_indent="    "), ""]]
    if len(lines) > _NOTE_LINES:
        lines = lines[:_NOTE_LINES] + ["…  more: bayescale summary FIT prints every note"]
    fig.text(0.05, 0.86, "\n".join(lines), fontsize=9.5, va="top", family="monospace")
    return fig


def data_page(fit: Fit) -> Figure:
    """Section 2: loss against compute coloured by size, and the ranges of the table."""
    fig = new_page()
    left, right = fig.subfigures(1, 2, width_ratios=[1.6, 1])
    plot_runs(fit.runs, ax=left.add_subplot())
    runs = fit.runs
    units = {"N": "parameters", "D": "tokens", "C": "FLOPs", "U": "tokens", "loss": runs.loss_unit}
    rows = []
    for var in [v for v in ("N", "D", "C", "U") if v in runs.frame] + ["loss"]:
        values = runs.frame[var].to_numpy()
        fmt = (lambda v: f"{v:.4g}") if var == "loss" else sci
        rows.append([var, fmt(values.min()), fmt(values.max()), str(len(np.unique(values))), units[var],
                     runs.columns.get(var, var)])
    upper, lower = right.subfigures(2, 1, height_ratios=[1, 1.5])
    ax = upper.add_subplot()
    plot_design(runs, ax=lower.add_subplot())
    plot_table(rows, ["", "min", "max", "distinct", "unit", "column"], ax=ax, fontsize=8,
               col_widths=[0.09, 0.15, 0.15, 0.14, 0.2, 0.27],
               title=f"{runs.n_runs} runs" + (f" ({runs.excluded} left out)" if runs.excluded else ""))
    shown = ("Left: colour (viridis, light = large) and marker shape both show the model size, so the plot reads in "
             "greyscale. Below: the design of the runs, tokens against parameters." if runs.has_sizes else
             "The table gives compute and loss only: laws in compute alone are fitted to it.")
    note = textwrap.fill(f"Source: {file_name(runs.source)}. {shown}", 75)
    ax.text(0.0, 0.1, note, fontsize=7.5, va="top", transform=ax.transAxes)
    return fig


def fit_page(fit: Fit, res: FitResults) -> Figure:
    """Section 3: loss against N per slice with the law's band, and residuals against compute."""
    fig = new_page()
    left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
    if res.slices:
        plot_fit_slices(fit.runs, res.slices, ax=left)
    else:
        left.axis("off")
    left.text(0.0, -0.12, textwrap.fill(res.slice_note, 95), fontsize=7.5, va="top", transform=left.transAxes)
    plot_residuals(fit.runs, res.at_runs, against="C", ax=right)
    return fig


def residuals_page(fit: Fit, res: FitResults) -> Figure:
    """Section 4: residuals against N, D/N and C (the largest runs labelled), a Q-Q plot, influential runs."""
    fig = new_page()
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.15])
    axes = top.subplots(1, 3)
    against_all = ("N", "D/N", "C") if fit.runs.has_sizes else ("C",)
    for ax in axes[len(against_all):]:  # a table of compute and loss only has one axis to plot against
        ax.axis("off")
    for ax, against in zip(axes, against_all):
        plot_residuals(fit.runs, res.at_runs, against=against, ax=ax, label_top=3 if against == "C" else 0)
        ax.set_title(f"residuals against {against}" + (" (the 3 largest runs labelled)" if against == "C" else ""),
                     fontsize=9)
        if ax is not axes[0]:
            ax.set_ylabel("")
            legend = ax.get_legend()
            if legend is not None:
                legend.remove()
    left, right = bottom.subplots(1, 2, width_ratios=[1, 1.4])
    if res.standardized is not None:
        plot_qq(res.standardized, ax=left)
    right.axis("off")
    if res.influential:
        shown = [v for v in ("N", "D", "C") if v in res.influential[0]]
        rows = [[sci(r[v]) for v in shown] + [f"{r['loss']:.4g}", f"{r['k']:.2f}"] for r in res.influential]
        plot_table(rows, [*shown, f"loss ({fit.runs.loss_unit})", "Pareto k"], ax=right, fontsize=8,
                   title="The runs the fit leans on most (PSIS-LOO Pareto k; above 0.7 LOO is unreliable for them)")
    return fig


def posterior_page(fit: Fit, res: FitResults) -> Figure:
    """Section 5: the posterior table (with R-hat and ESS) and prior against posterior."""
    fig = new_page()
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.5])
    s = res.summary
    from bayescale.results.summaries import readable_table

    def meaning(name: str) -> str:  # noise parameters say their unit in their description
        unit = s.units.get(name, "") if name in fit.law.parameters else ""
        return fit.law.descriptions.get(name, "") + (f" [{unit}]" if unit else "")

    # each number to the figures its interval supports
    rows = [[name, meaning(name), r["median"], r["lower"], r["upper"], r["r_hat"], r["ess_bulk"]]
            for name, r in readable_table(s.table).iterrows()]
    rows += [[f"{name} (physical)", "in the papers' units (N in parameters, D in tokens, C in FLOPs)", r["median"],
              r["lower"], r["upper"], "", ""] for name, r in readable_table(s.physical).iterrows()]
    pct = f"{100 * s.prob:g}%"
    if len(rows) > _MAX_ROWS:  # a per-family law has a row per family and parameter
        rows = rows[:_MAX_ROWS - 1] + [[f"… {len(rows) - _MAX_ROWS + 1} more rows", "bayescale summary FIT.nc lists them all",
                                        "", "", "", "", ""]]
    plot_table(rows, ["parameter", "meaning", "median", f"lower {pct}", f"upper {pct}", "R-hat", "bulk ESS"],
               ax=top.add_subplot(), fontsize=8, col_widths=[0.12, 0.36, 0.1, 0.1, 0.1, 0.08, 0.08],
               title=f"Posterior (normalized units: N/N_ref, D/D_ref; median and {pct} equal-tailed interval)")
    plot_prior_posterior(fit, res.prior_draws, fig=bottom)
    bottom.suptitle("prior (dashed) against posterior (grey): how much the runs taught the fit", fontsize=9)
    return fig


def frontier_page(fit: Fit, res: FitResults) -> Figure:
    """Section 6: the compute-optimal frontier with bands, and the table at the budgets."""
    fig = new_page()
    if res.frontier is None:
        fig.text(0.05, 0.7, "No compute-optimal frontier for this law.", fontsize=16, fontweight="bold")
        fig.text(0.05, 0.62, "\n".join(textwrap.wrap(res.optimum_error, 110)), fontsize=11, va="top")
        return fig
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.6, 1])
    runs = fit.runs
    plot_frontier(res.frontier, res.summary.prob, (runs.C.min(), runs.C.max()), res.budgets, fig=top)
    pct = f"{100 * res.summary.prob:g}%"
    note = f"; unique tokens U = {sci(res.frontier.unique_tokens)}" if res.frontier.unique_tokens else ""
    plot_table(allocation_rows(res.at_budgets, res.summary.prob, float(np.quantile(runs.C, 0.9))),
               _allocation_columns(runs.loss_unit),
               ax=bottom.add_subplot(), fontsize=8, col_widths=_ALLOC_WIDTHS,
               title=f"At the budgets (dotted lines): median and {pct} interval; {res.frontier.method}{note}")
    return fig


def fit_pages(fit: Fit, res: FitResults, show_data: bool = True, multi: bool = False) -> Plan:
    """The pages of one fit, as ``(title, builder)`` pairs."""
    name = f"{fit.law.name} [{fit.id}] — " if multi else ""
    flag = "" if fit.gates.passed else "   (CONVERGENCE GATES FAILED)"
    plan: Plan = [(f"{name}1 Title and provenance{flag}", lambda: title_page(fit, res))]
    if fit.notes:
        plan.append((f"{name}1b Notes on the runs and the fit", lambda: notes_page(fit)))
    if show_data:
        plan.append((f"{name}2 The data", lambda: data_page(fit)))
    plan += [(f"{name}3 The fit against the data{flag}", lambda: fit_page(fit, res)),
             (f"{name}4 Residuals{flag}", lambda: residuals_page(fit, res)),
             (f"{name}5 The posterior{flag}", lambda: posterior_page(fit, res)),
             (f"{name}6 The compute-optimal frontier{flag}", lambda: frontier_page(fit, res))]
    return plan


