"""Plots of runs, fits, frontiers and comparisons: pure functions of result objects.

Every function takes objects that already hold the numbers (:class:`~bayescale.data.runs.Runs`,
:class:`~bayescale.results.summaries.Prediction`, :class:`~bayescale.results.optimum.Optimum`) and
an optional Axes or Figure, draws, and returns the Figure. Nothing here fits, predicts or
optimises. Matplotlib is imported inside the functions, and only ``matplotlib.figure.Figure``
objects are made (no pyplot state), so importing this module is cheap and nothing leaks.
Posterior, diagnostic and comparison plots live in :mod:`bayescale.report.posterior`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bayescale.texts import sci

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayescale.data.runs import Runs
    from bayescale.results.optimum import Optimum
    from bayescale.results.summaries import Prediction

__all__ = ["RunSlice", "plot_runs", "plot_design", "plot_fit_slices", "plot_residuals", "plot_frontier",
           "plot_table", "MARKERS", "LINESTYLES"]

#: The colour of runs that carry no model size to colour them by (a table of compute and loss only).
ONE_COLOUR = "#31688e"
#: Marker shapes and line styles that keep groups apart in greyscale print.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
#: Dark colours, distinct in greyscale too with the line styles, one per law on overlaid frontiers.
DARK = ("#1f3b73", "#8c2d19", "#1e5631", "#5b2a6e", "#7a5200", "#333333")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)))
AXIS_TITLES = {"N": "model size N (parameters)", "D": "training tokens D (tokens)",
               "C": "training compute C (FLOPs)", "U": "unique tokens U (tokens)",
               "D/N": "tokens per parameter D/N"}


@dataclass(frozen=True)
class RunSlice:
    """A group of runs and the law's prediction along it (e.g. one isoFLOP budget).

    Attributes
    ----------
    label : str
        Legend text, e.g. ``"C ≈ 1e19 FLOPs"``.
    index : ndarray of int
        Rows of ``runs.frame`` in the group.
    prediction : Prediction
        The law along the slice; its ``inputs`` hold the column ``x``.
    x : str
        The variable on the horizontal axis (``"N"``, or ``"C"`` for compute-only laws).
    loss : ndarray, optional
        The losses to show for the runs, when they were moved to the slice's C or D along the
        fitted law (observed loss times L(slice) / L(run), so the scatter about the curve is the
        run's own residual); the observed losses when None.
    """

    label: str
    index: np.ndarray
    prediction: Prediction
    x: str = "N"
    loss: np.ndarray | None = None


def _figure_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _size_bins(n: np.ndarray, count: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Bin model sizes into ``count`` equal bins of log N: (bin of each run, edges)."""
    logs = np.log10(n)
    edges = np.linspace(logs.min(), logs.max(), count + 1) if np.ptp(logs) > 0 else np.array([logs[0]] * 2)
    return np.clip(np.searchsorted(edges, logs, side="right") - 1, 0, len(edges) - 2), 10**edges


def plot_runs(runs: Runs, ax: Axes | None = None) -> Figure:
    """Loss against compute (log x), coloured by model size (viridis) with one marker per size bin.

    Parameters
    ----------
    runs : Runs
    ax : matplotlib.axes.Axes, optional
        Draw here; a new Figure is made when omitted.
    """
    from matplotlib.colors import LogNorm

    fig, ax = _figure_axes(ax, (7.0, 4.5))
    if runs.has_sizes:
        norm = LogNorm(runs.N.min(), runs.N.max() if runs.N.max() > runs.N.min() else runs.N.min() * 1.01)
        bins, edges = _size_bins(runs.N)
        for b in np.unique(bins):
            keep = bins == b
            ax.scatter(runs.C[keep], runs.loss[keep], c=runs.N[keep], cmap="viridis", norm=norm, s=22,
                       marker=MARKERS[b % len(MARKERS)], edgecolors="black", linewidths=0.4,
                       label=f"N {sci(edges[b], 2)}–{sci(edges[b + 1], 2)}")
    else:  # compute and loss only: one colour, no sizes to key
        ax.scatter(runs.C, runs.loss, color=ONE_COLOUR, s=22, edgecolors="black", linewidths=0.4)
    ax.set_xscale("log")
    ax.set_xlabel(AXIS_TITLES["C"])
    ax.set_ylabel(f"final loss ({runs.loss_unit})")
    ax.grid(True, which="major", alpha=0.3)
    if runs.has_sizes:
        ax.legend(title="model size (parameters)", fontsize=7, title_fontsize=7, loc="upper right")
        fig.colorbar(ax.collections[0], ax=ax, label="model size N (parameters)", aspect=40)
    return fig


def plot_design(runs: Runs, ax: Axes | None = None) -> Figure:
    """Where the runs lie: tokens against model size (log-log), coloured by loss (cividis).

    Parameters
    ----------
    runs : Runs
    ax : matplotlib.axes.Axes, optional
    """
    fig, ax = _figure_axes(ax, (5.0, 4.0))
    if not runs.has_sizes:
        ax.axis("off")
        ax.text(0.5, 0.5, "the table gives compute and loss only:\nno model sizes or token counts to show",
                ha="center", va="center", fontsize=8, transform=ax.transAxes)
        return fig
    points = ax.scatter(runs.N, runs.D, c=runs.loss, cmap="cividis", s=14, edgecolors="black", linewidths=0.3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(AXIS_TITLES["N"])
    ax.set_ylabel(AXIS_TITLES["D"])
    ax.grid(True, which="major", alpha=0.3)
    fig.colorbar(points, ax=ax, label=f"final loss ({runs.loss_unit})", aspect=30)
    return fig


def plot_fit_slices(runs: Runs, slices: Sequence[RunSlice], prob: float | None = None,
                    ax: Axes | None = None) -> Figure:
    """Observed losses of each slice with the law's posterior median and credible band.

    Parameters
    ----------
    runs : Runs
    slices : sequence of RunSlice
        The groups and the predictions along them (made by the caller with ``fit.predict``).
    prob : float, optional
        Band probability; the predictions' own by default.
    ax : matplotlib.axes.Axes, optional
    """
    from matplotlib import colormaps

    fig, ax = _figure_axes(ax, (7.0, 4.5))
    cmap = colormaps["cividis"]
    x_name = slices[0].x if slices else "N"
    for i, piece in enumerate(slices):
        color = cmap(0.9 * i / max(len(slices) - 1, 1))
        pred = piece.prediction
        p = prob or pred.prob
        tail = (1 - p) / 2
        med, lo, hi = np.quantile(pred.mean, [0.5, tail, 1 - tail], axis=0)
        grid = pred.inputs[piece.x].to_numpy()
        ax.fill_between(grid, lo, hi, color=color, alpha=0.25, linewidth=0)
        ax.plot(grid, med, color=color, linestyle=LINESTYLES[i % len(LINESTYLES)], linewidth=1.4,
                label=piece.label)
        shown = runs.loss[piece.index] if piece.loss is None else piece.loss
        ax.scatter(runs.frame[piece.x].to_numpy()[piece.index], shown, color=color,
                   marker=MARKERS[i % len(MARKERS)], s=20, edgecolors="black", linewidths=0.4, zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel(AXIS_TITLES.get(x_name, x_name))
    ax.set_ylabel(f"final loss ({runs.loss_unit})")
    ax.grid(True, which="major", alpha=0.3)
    if slices:
        pct = f"{100 * (prob or slices[0].prediction.prob):g}%"
        moved = any(piece.loss is not None for piece in slices)
        ax.set_title(f"law: posterior median (lines) and {pct} band; runs: markers"
                     + (" (moved along the law to the slice)" if moved else ""), fontsize=9)
        ax.legend(fontsize=7, loc="best", ncol=2 if len(slices) > 4 else 1)
    return fig


def plot_residuals(runs: Runs, prediction: Prediction, against: str = "C", ax: Axes | None = None,
                   label_top: int = 0) -> Figure:
    """Log observed minus log median predicted loss, per run, with the predictive interval.

    Parameters
    ----------
    runs : Runs
    prediction : Prediction
        The fit's prediction at the runs' own N, D, C (one point per run, in order).
    against : {"C", "N", "D", "D/N"}
        Variable on the horizontal axis.
    ax : matplotlib.axes.Axes, optional
    label_top : int
        Label this many largest-compute runs with their residual in percent.
    """
    fig, ax = _figure_axes(ax, (7.0, 4.0))
    tail = (1 - prediction.prob) / 2
    median = np.median(prediction.mean, axis=0)
    lo, hi = np.quantile(prediction.predictive, [tail, 1 - tail], axis=0)
    residual = np.log(runs.loss) - np.log(median)
    x = runs.D / runs.N if against == "D/N" else runs.frame[against].to_numpy()
    ax.axhspan(np.median(np.log(lo / median)), np.median(np.log(hi / median)), color="0.88", linewidth=0,
               label=f"typical {100 * prediction.prob:g}% predictive interval of a new run")
    if runs.has_sizes:
        bins, _ = _size_bins(runs.N)
        from matplotlib.colors import LogNorm

        norm = LogNorm(runs.N.min(), max(runs.N.max(), runs.N.min() * 1.01))
        for b in np.unique(bins):
            keep = bins == b
            ax.scatter(x[keep], residual[keep], c=runs.N[keep], cmap="viridis", norm=norm, s=16,
                       marker=MARKERS[b % len(MARKERS)], edgecolors="black", linewidths=0.3, zorder=3)
    else:
        ax.scatter(x, residual, color=ONE_COLOUR, s=16, edgecolors="black", linewidths=0.3, zorder=3)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(AXIS_TITLES.get(against, against))
    ax.set_ylabel("log observed − log predicted loss\n(dimensionless ≈ relative error)")
    for i in np.argsort(runs.C)[::-1][:label_top]:
        ax.annotate(f"{100 * np.expm1(residual[i]):+.1f}%", (x[i], residual[i]), xytext=(4, 4),
                    textcoords="offset points", fontsize=6.5)
    rms = float(np.sqrt(np.mean(residual**2)))
    ax.set_title(f"residuals (RMS {rms:.3g}; markers as on the data page)", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


_FRONTIER = (("N_opt", "N* (parameters)", "compute-optimal model size", True),
             ("D_opt", "D* (tokens)", "compute-optimal training tokens", True),
             ("L_opt", "L* ({unit})", "loss at the optimum", False),
             ("tokens_per_param", "D*/N* (tokens per parameter)", "tokens per parameter", True))


def plot_frontier(optima: Optimum | Mapping[str, Optimum], prob: float = 0.95,
                  data_range: tuple[float, float] | None = None, budgets: Sequence[float] = (),
                  fig: Figure | None = None) -> Figure:
    """N*(C), D*(C), L*(C) and D*/N* against compute, with credible bands; several fits overlay.

    A fifth panel shows how wide each band is (upper/lower for N* and D*/N*, upper − lower for
    L*), so that a band too narrow to see on a log axis still reads; the sixth holds the legend,
    which then covers no data.

    Parameters
    ----------
    optima : Optimum or mapping of label to Optimum
        From ``fit.optimum(budget_grid)``.
    prob : float
        Band probability.
    data_range : (float, float), optional
        Smallest and largest compute of the runs, shaded as the fitted range.
    budgets : sequence of float
        Budgets to mark with vertical dotted lines.
    fig : matplotlib.figure.Figure, optional
    """
    from matplotlib.figure import Figure

    from bayescale.results.optimum import interval

    if not isinstance(optima, Mapping):
        optima = {"": optima}
    fig = fig or Figure(figsize=(11.0, 6.5), layout="constrained")
    grid = fig.subplots(2, 3, sharex=True)
    axes = [grid[0, 0], grid[0, 1], grid[1, 0], grid[1, 1]]
    for ax, (name, label, title, log_y) in zip(axes, _FRONTIER):
        for i, (fit_label, opt) in enumerate(optima.items()):
            color = DARK[i % len(DARK)]
            med, lo, hi = interval(getattr(opt, name), prob)
            ax.fill_between(opt.compute, lo, hi, color=color, alpha=0.25, linewidth=0)
            for edge in (lo, hi):  # thin edges keep a narrow band visible
                ax.plot(opt.compute, edge, color=color, linewidth=0.6, alpha=0.9)
            ax.plot(opt.compute, med, color=color, linestyle=LINESTYLES[i % len(LINESTYLES)], linewidth=1.5,
                    label=(fit_label + " " if fit_label else "") + f"median, {100 * prob:g}% band")
        if data_range is not None:
            ax.axvspan(*data_range, facecolor="none", edgecolor="0.55", hatch="///", linewidth=0, zorder=0,
                       label="compute range of the runs (hatched)")
        for k, budget in enumerate(budgets):
            ax.axvline(budget, color="black", linestyle=":", linewidth=0.8, label="budgets in the table" if k == 0 else None)
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
            plain_log_ticks(ax.yaxis)
        unit = next(iter(optima.values())).loss_unit
        ax.set_ylabel(label.format(unit=unit), fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("compute budget C (FLOPs)")
        ax.tick_params(labelbottom=True)
        ax.grid(True, which="major", alpha=0.3)
    _band_widths(grid[0, 2], optima, prob)
    handles, labels = axes[0].get_legend_handles_labels()
    grid[1, 2].axis("off")
    grid[1, 2].legend(handles, labels, fontsize=7, loc="center", frameon=False)
    return fig


def _band_widths(ax: Axes, optima: Mapping[str, Optimum], prob: float) -> None:
    """Width of each band against compute: N* as upper/lower (a factor), L* in the loss's unit."""
    from bayescale.results.optimum import interval

    twin = ax.twinx()
    for i, opt in enumerate(optima.values()):
        color = DARK[i % len(DARK)]
        _, lo, hi = interval(opt.N_opt, prob)
        ax.plot(opt.compute, hi / lo, color=color, linestyle="-", linewidth=1.4)
        _, lo, hi = interval(opt.L_opt, prob)
        twin.plot(opt.compute, hi - lo, color=color, linestyle="--", linewidth=1.2)
    ax.set_xscale("log")
    ax.set_title(f"width of the {100 * prob:g}% bands", fontsize=9)
    ax.set_ylabel("N* band, upper/lower (× factor; solid)", fontsize=8)
    unit = next(iter(optima.values())).loss_unit
    twin.set_ylabel(f"L* band, upper − lower ({unit}; dashed)", fontsize=8)
    ax.set_xlabel("compute budget C (FLOPs)")
    ax.tick_params(labelbottom=True)
    ax.grid(True, which="major", alpha=0.3)


def plain_log_ticks(axis, decades: float = 2.0) -> None:
    """Label a log axis with plain numbers (20, 50, 100) when it spans at most ``decades``:
    ``2×10¹`` is hard to read where only a few ticks fall."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    lo, hi = sorted(axis.get_view_interval())
    if not (lo > 0 and np.log10(hi / lo) <= decades):
        return
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def plot_table(rows: Sequence[Sequence[str]], columns: Sequence[str], ax: Axes | None = None,
               title: str | None = None, fontsize: float = 8.0,
               col_widths: Sequence[float] | None = None) -> Figure:
    """Draw a table of already formatted strings on an axes without frame.

    Parameters
    ----------
    rows : sequence of sequence of str
    columns : sequence of str
        Column headers.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    fontsize : float
    col_widths : sequence of float, optional
        Fractions of the axes width.
    """
    fig, ax = _figure_axes(ax, (7.0, 0.4 + 0.25 * (len(rows) + 1)))
    ax.axis("off")
    table = ax.table(cellText=[list(r) for r in rows], colLabels=list(columns), loc="upper center",
                     cellLoc="left", colLoc="left", colWidths=list(col_widths) if col_widths else None)
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    table.scale(1.0, 1.25)
    for (row, _), cell in table.get_celld().items():
        cell.set_linewidth(0.4)
        if row == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("0.9")
    if title:
        ax.set_title(title, fontsize=fontsize + 1, loc="left")
    return fig


def plot_qq(standardized: np.ndarray, ax: Axes | None = None) -> Figure:
    """Standardized residuals (sorted) against standard-normal quantiles, with the identity line."""
    from statistics import NormalDist

    fig, ax = _figure_axes(ax, (4.0, 4.0))
    z = np.sort(np.asarray(standardized, dtype=float))
    n = z.size
    theory = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])
    ax.scatter(theory, z, s=10, color="black", zorder=3)
    edge = max(np.abs(theory).max(), np.abs(z).max()) * 1.05
    ax.plot([-edge, edge], [-edge, edge], color="0.4", linestyle="--", linewidth=1, label="a Normal error model")
    ax.set_xlabel("standard Normal quantile")
    ax.set_ylabel("standardized residual (residual / predictive sd)")
    ax.set_title("Q-Q plot of the standardized residuals", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return fig
