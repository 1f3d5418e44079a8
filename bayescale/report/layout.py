"""The page itself: A4 landscape figures, their title and footer, and cheap log axes.

Shared by every module that draws report pages (:mod:`bayescale.report.pages`,
:mod:`bayescale.report.appendix`, :mod:`bayescale.report.comparing`, the front page and the pages of
saved results).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MONO", "PAGE", "Plan", "decade_label", "decorate", "file_name", "new_page", "plain_log_axes"]

#: A4 landscape, inches.
PAGE = (11.69, 8.27)
#: Pages to draw, as ``(section title, builder)`` pairs: numbered before any is drawn.
Plan = list[tuple[str, Callable[[], "Figure"]]]
#: Text in a fixed-width font, as provenance is set.
MONO = {"family": "monospace", "fontsize": 7.5}


def file_name(path: str) -> str:
    """A file's name without the folders above it: reports travel, and machine paths say nothing."""
    import os

    return os.path.basename(str(path)) or str(path)

def new_page() -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=PAGE, layout="constrained")
    fig.get_layout_engine().set(rect=(0.01, 0.035, 0.98, 0.915))
    return fig


def decorate(fig: Figure, title: str, number: int, total: int, created: datetime) -> None:
    """Add the section title, and a footer with the page number and the fits' date."""
    fig.text(0.02, 0.965, title, fontsize=13, fontweight="bold", va="center")
    fig.text(0.98, 0.965, "bayescale report", fontsize=8, ha="right", va="center", color="0.3")
    fig.text(0.02, 0.012, f"fits created {created.isoformat()}", fontsize=7, color="0.3")
    fig.text(0.98, 0.012, f"page {number} of {total}", fontsize=8, ha="right")
    plain_log_axes(fig)


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decade_label(value: float, _: Any = None) -> str:
    """``10¹⁸`` in plain text: the same as matplotlib's log labels without typesetting mathtext
    for every tick, which is a good part of the time a page takes to draw."""
    exponent = np.log10(value) if value > 0 else np.nan
    if not np.isfinite(exponent) or abs(exponent - round(exponent)) > 1e-9:
        return ""
    return "10" + str(int(round(exponent))).translate(SUPERSCRIPT)


def plain_log_axes(fig: Figure, decades: float = 3.0) -> None:
    """Log axes drawn cheaply: no minor ticks where an axis spans more than ``decades`` (eight
    per decade over ten decades clutter it, and drawing tick marks is most of the time a page
    takes), and decade labels in plain text (:func:`decade_label`)."""
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, NullLocator

    for ax in fig.axes:
        for axis, limits in ((ax.xaxis, ax.get_xlim), (ax.yaxis, ax.get_ylim)):
            if axis.get_scale() != "log":
                continue
            lo, hi = sorted(limits())
            span = np.log10(hi / lo) if lo > 0 else 0.0
            if span > decades:
                axis.set_minor_locator(NullLocator())
            if isinstance(axis.get_major_formatter(), LogFormatterSciNotation):
                axis.set_major_formatter(FuncFormatter(decade_label))
            if span > 1 and isinstance(axis.get_minor_formatter(), LogFormatterSciNotation):
                axis.set_minor_formatter(FuncFormatter(decade_label))  # a decade or more in view: label decades only
