"""Posterior, diagnostic and comparison plots: pair plot, prior against posterior, chains, gates, LOO.

Pure functions of a :class:`~bayescale.results.fitted.Fit` (its stored draws),
:class:`~bayescale.inference.gates.Gates` or a :class:`~bayescale.decisions.comparison.Comparison`; they return a
``matplotlib.figure.Figure`` and compute no fit, prediction or optimum. The only randomness,
thinning the pair plot, is seeded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bayescale.laws.noise import NOISE_UNIT
from bayescale.report.plots import LINESTYLES, _figure_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayescale.inference.gates import Gates
    from bayescale.results.fitted import Fit

__all__ = ["parameter_label", "plot_pair", "plot_prior_posterior", "plot_chains", "plot_gates", "plot_comparison"]

def _noise_descriptions() -> dict[str, str]:
    from bayescale.laws.noise import error_models

    return {p: text for model in error_models().values() for p, text in model.descriptions.items()}


def parameter_label(name: str, short: bool = False, fit: Fit | None = None) -> str:
    """Axis label of a parameter with its unit.

    Law parameters take the unit their law file declares (:meth:`~bayescale.laws.law.Law.unit_of`:
    the loss's unit, dimensionless, or a multiple of a reference scale), else "normalized units";
    error-model parameters are labelled from the registry. ``short=True`` gives two short lines,
    for narrow axes.
    """
    noise = _noise_descriptions()
    if name in noise:
        return f"{name}\n(dimensionless)" if short else f"{name} ({NOISE_UNIT})"
    unit = fit.law.unit_of(name, fit.runs.loss_unit) if fit is not None else "normalized units"
    return f"{name}\n({unit.replace('normalized units', 'normalized')})" if short else f"{name} ({unit})"


def _positive(values: np.ndarray) -> bool:
    return bool(np.all(values > 0) and np.max(values) / np.min(values) > 20)


def plot_pair(fit: Fit, names: Sequence[str] | None = None, max_draws: int = 500, seed: int = 0,
              fig: Figure | None = None) -> Figure:
    """Scatter of posterior draws for each pair of parameters, histograms on the diagonal.

    Parameters
    ----------
    fit : Fit
    names : sequence of str, optional
        Parameters to show; by default the law's own scalar parameters (not the noise), at most 8.
    max_draws : int
        Draws are thinned to at most this many, chosen with a seeded generator.
    seed : int
        Seed of the thinning.
    fig : matplotlib.figure.Figure, optional
    """
    from matplotlib.figure import Figure

    # scalar parameters only: a per-group parameter has a value per level (its summary lists them)
    names = list(names or [p for p in fit.law.parameters if not fit.law.dims_of(p)][:8])
    draws = fit.draws()
    if not names:
        fig = fig or Figure(figsize=(8.0, 8.0), layout="constrained")
        fig.text(0.05, 0.5, "every parameter is per group: no pair plot", fontsize=12)
        return fig
    total = len(draws[names[0]])
    keep = np.sort(np.random.default_rng(seed).choice(total, min(max_draws, total), replace=False))
    fig = fig or Figure(figsize=(8.0, 8.0), layout="constrained")
    k = len(names)
    axes = np.atleast_2d(fig.subplots(k, k, squeeze=False))
    for i, row in enumerate(names):
        for j, col in enumerate(names):
            ax = axes[i, j]
            if j > i:
                r = np.corrcoef(draws[col], draws[row])[0, 1]
                ax.text(0.5, 0.5, f"r = {r:+.2f}", ha="center", va="center", fontsize=9 + 4 * abs(r),
                        transform=ax.transAxes)
                ax.axis("off")
                continue
            if i == j:
                ax.hist(draws[col], bins=30, color="0.55", edgecolor="black", linewidth=0.3)
                ax.set_yticks([])
            else:
                ax.scatter(draws[col][keep], draws[row][keep], s=3, color="black", alpha=0.45, linewidths=0)
            ax.tick_params(labelsize=6)
            ax.set_xlabel(parameter_label(col, fit=fit) if i == k - 1 else "", fontsize=7)
            ax.set_ylabel(parameter_label(row, fit=fit) if j == 0 and i > 0 else "", fontsize=7)
            if i < k - 1:
                ax.tick_params(labelbottom=False)
            if j > 0:
                ax.tick_params(labelleft=False)
    fig.suptitle(f"posterior draws ({len(keep)} of {total} shown; r = correlation over all draws)", fontsize=9)
    return fig


def plot_prior_posterior(fit: Fit, prior_draws: Mapping[str, np.ndarray], fig: Figure | None = None) -> Figure:
    """Prior (dashed outline) against posterior (filled) density for each parameter.

    Positive parameters whose prior spans decades are shown on a log axis.

    Parameters
    ----------
    fit : Fit
    prior_draws : mapping
        Parameter name -> draws from its prior (made by the caller, seeded).
    fig : matplotlib.figure.Figure, optional
    """
    from matplotlib.figure import Figure

    draws = fit.draws()
    names = [n for n in fit.law.all_parameters if n in prior_draws][:9]  # three rows of three fit the page
    fig = fig or Figure(figsize=(9.0, 5.0), layout="constrained")
    cols = min(3, len(names))
    axes = np.atleast_1d(fig.subplots((len(names) + cols - 1) // cols, cols, squeeze=False).ravel())
    for ax, name in zip(axes, names):
        post, prior = np.ravel(draws[name]), np.asarray(prior_draws[name])  # a shaped parameter: all its levels
        prior = prior[np.isfinite(prior)]
        lo = min(np.quantile(prior, 0.01), post.min())
        hi = max(np.quantile(prior, 0.99), post.max())
        log_x = lo > 0 and _positive(np.r_[prior[prior > 0], post])
        scale = np.log10 if log_x else (lambda v: v)
        edges = np.linspace(scale(lo), scale(hi), 80)
        shown = (lambda e: 10**e) if log_x else (lambda e: e)
        for values, style in ((prior, {"linestyle": "--", "color": "black", "label": "prior"}),
                              (post, {"fill": True, "color": "0.45", "alpha": 0.8, "label": "posterior"})):
            inside = values[(values >= lo) & (values <= hi)]
            if not inside.size:
                continue
            density, _ = np.histogram(scale(inside), bins=edges, density=True)
            ax.stairs(density * inside.size / values.size, shown(edges), **style)
        if log_x:
            ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(parameter_label(name, fit=fit), fontsize=8)
        ax.set_ylabel("density (per decade)" if log_x else "density (per unit)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(names):]:
        ax.axis("off")
    axes[0].legend(fontsize=7)
    return fig


def plot_chains(fit: Fit, fig: Figure | None = None) -> Figure:
    """Per parameter: the trace of every chain (divergences ticked) and its rank histogram.

    Well-mixed chains give overlapping traces and flat, overlapping rank histograms.

    Parameters
    ----------
    fit : Fit
    fig : matplotlib.figure.Figure, optional
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    draws = fit.draws(flat=False)
    names = list(fit.law.all_parameters)
    diverging = fit.tree["sample_stats"]["diverging"].to_numpy()
    fig = fig or Figure(figsize=(9.0, 1.3 * len(names) + 0.6), layout="constrained")
    axes = fig.subplots(len(names), 2, squeeze=False, width_ratios=[2.2, 1])
    cmap = colormaps["cividis"]
    for row, name in enumerate(names):
        values = draws[name]
        chains = values.shape[0]
        ranks = np.argsort(np.argsort(values.ravel())).reshape(values.shape)
        edges = np.linspace(0, values.size, 21)
        trace, rank = axes[row]
        for c in range(chains):
            color = cmap(0.9 * c / max(chains - 1, 1))
            style = LINESTYLES[c % len(LINESTYLES)]
            trace.plot(values[c], color=color, linewidth=0.4, linestyle=style, label=f"chain {c}")
            counts, _ = np.histogram(ranks[c], bins=edges)
            rank.stairs(counts, edges, color=color, linestyle=style, linewidth=1.0)
        flagged = np.nonzero(diverging.any(axis=0))[0]
        if flagged.size:
            trace.plot(flagged, np.full(flagged.size, values.min()), "|", color="red", markersize=8,
                       label="divergence")
        rank.axhline(values.size / 20 / chains, color="black", linewidth=0.6, linestyle=":")
        trace.set_ylabel(parameter_label(name, short=True, fit=fit), fontsize=7)
        rank.set_ylabel("draws per bin", fontsize=7)
        for ax in (trace, rank):
            ax.tick_params(labelsize=6)
        rank.set_yticks([])
        if row == len(names) - 1:
            trace.set_xlabel("draw after warm-up (iteration)", fontsize=8)
            rank.set_xlabel("rank of draw among all chains (draws)", fontsize=8)
        else:
            trace.tick_params(labelbottom=False)
            rank.tick_params(labelbottom=False)
    axes[0, 0].legend(fontsize=6, ncol=min(5, chains + 1), loc="upper right")
    axes[0, 0].set_title("traces", fontsize=9)
    axes[0, 1].set_title("rank histograms (flat = well mixed)", fontsize=9)
    return fig


def plot_gates(gates: Gates, fig: Figure | None = None) -> Figure:
    """R-hat and bulk ESS per parameter against the gate limits.

    Parameters
    ----------
    gates : Gates
    fig : matplotlib.figure.Figure, optional
    """
    from matplotlib.figure import Figure

    fig = fig or Figure(figsize=(4.0, 5.0), layout="constrained")
    names = list(gates.r_hat)
    y = np.arange(len(names))
    top, bottom = fig.subplots(2, 1)
    r_hat = np.array([gates.r_hat[n] for n in names])
    ess = np.array([gates.ess_bulk[n] for n in names])
    top.barh(y, r_hat - 1.0, left=1.0, color=np.where(r_hat <= gates.rhat_limit, "0.6", "0.15"),
             edgecolor="black", linewidth=0.4)
    top.axvline(gates.rhat_limit, color="black", linestyle="--", linewidth=1, label=f"limit {gates.rhat_limit}")
    top.set_xlim(min(0.995, r_hat.min() - 0.002), max(gates.rhat_limit + 0.01, r_hat.max() + 0.005))
    top.set_xlabel("rank-normalized split R-hat (dimensionless)", fontsize=8)
    bottom.barh(y, ess, color=np.where(ess >= gates.ess_limit, "0.6", "0.15"), edgecolor="black", linewidth=0.4)
    bottom.axvline(gates.ess_limit, color="black", linestyle="--", linewidth=1, label=f"limit {gates.ess_limit:g}")
    bottom.set_xlabel("bulk effective sample size (draws)", fontsize=8)
    for ax in (top, bottom):
        ax.set_yticks(y, names, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.invert_yaxis()
        ax.legend(fontsize=7, loc="lower right")
    top.set_title(f"gates {'PASSED' if gates.passed else 'FAILED'}; divergences: {gates.divergences}",
                  fontsize=9, fontweight="bold")
    return fig


def plot_comparison(comparison: Any, ax: Axes | None = None) -> Figure:
    """ELPD-LOO of each fit with its standard error (higher is better), best on top.

    Parameters
    ----------
    comparison : bayescale.decisions.comparison.Comparison
        Its ``table`` has ``elpd_loo`` and ``se`` (and ``dse``) per fit label.
    ax : matplotlib.axes.Axes, optional
    """
    fig, ax = _figure_axes(ax, (6.0, 3.0))
    table = comparison.table.sort_values("elpd_loo")
    y = np.arange(len(table))
    ax.errorbar(table["elpd_loo"], y, xerr=table["se"], fmt="o", color="black", capsize=3,
                label="ELPD-LOO ± SE")
    if "dse" in table:
        ax.errorbar(table["elpd_loo"], y - 0.2, xerr=table["dse"], fmt="^", color="0.5", capsize=3,
                    markersize=4, label="SE of the difference to the best")
    ax.set_yticks(y, [str(label) for label in table.index])
    ax.set_ylim(-0.6, len(table) - 0.4)
    ax.set_xlabel("ELPD-LOO of log loss (nats; higher is better)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return fig
