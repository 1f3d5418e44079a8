"""The appendix of a fit: the pair plot of its parameters and the sampler's diagnostics."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from bayescale.report.layout import Plan, new_page
from bayescale.report.posterior import plot_chains, plot_gates, plot_pair

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayescale.results.fitted import Fit

__all__ = ["appendix_pages"]


_PAIR_NOTE = ("How to read: each dot is one posterior draw (a law consistent with the runs). A narrow, "
              "tilted cloud means the runs pin down a combination of two parameters better than either "
              "one: the correlation r is shown above the diagonal. Strong correlations are common in "
              "scaling laws (a size coefficient and its exponent trade off) and do not by themselves "
              "make the predictions uncertain: the bands on the fit and frontier pages propagate them.")


def pair_page(fit: Fit) -> Figure:
    """Appendix: pair plot of the law's parameters (≤ 500 seeded draws)."""
    fig = new_page()
    inner, side = fig.subfigures(1, 2, width_ratios=[1.1, 0.42])
    plot_pair(fit, fig=inner)
    side.text(0.02, 0.9, textwrap.fill(_PAIR_NOTE, 52), fontsize=8.5, va="top")
    return fig


def diagnostics_page(fit: Fit) -> Figure:
    """Appendix: traces and rank plots per parameter, divergences and the gate verdict."""
    fig = new_page()
    left, right = fig.subfigures(1, 2, width_ratios=[2.3, 1])
    plot_chains(fit, fig=left)
    plot_gates(fit.gates, fig=right)
    right.suptitle("\n".join(textwrap.wrap(str(fit.gates).replace("\n  - ", "\n• "), 48)), fontsize=7.5,
                   fontweight="bold" if not fit.gates.passed else "normal", ha="left", x=0.02)
    return fig


def appendix_pages(fit: Fit, multi: bool = False) -> Plan:
    """The sampler's diagnostics of one fit (pair plot, chains), for the appendix at the end."""
    name = f"{fit.law.name} [{fit.id}] — " if multi else ""
    flag = "" if fit.gates.passed else "   (CONVERGENCE GATES FAILED)"
    return [(f"Appendix: {name}pair plot{flag}", lambda: pair_page(fit)),
            (f"Appendix: {name}diagnostics{flag}", lambda: diagnostics_page(fit))]
