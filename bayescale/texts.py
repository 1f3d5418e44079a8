"""How numbers with uncertainty are printed: the figures an interval supports, and multiples.

Pure functions of numbers, shared by every printed table (``optimum``, ``predict``, ``plan``,
``inverse``, the summary) and the report, so one interval reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["decimals_for", "loss_texts", "size_texts", "interval_texts", "loss_interval_text", "sci", "times"]


def decimals_for(lower: float, upper: float, digits: int = 2) -> int:
    """Decimals that show an interval of this width to ``digits`` significant figures (0 to 6)."""
    width = abs(float(upper) - float(lower))
    if not np.isfinite(width) or width <= 0:
        return 4
    return int(np.clip(digits - 1 - np.floor(np.log10(width)), 0, 6))


#: A loss interval wider than this ratio (upper / lower) is printed number by number.
_WIDE = 2.0


def _figures(value: float, digits: int = 2) -> str:
    """``value`` to ``digits`` significant figures in plain notation (0.31, 2.0, 24, 240)."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    value = float(f"{value:.{digits}g}")
    decimals = int(max(0, digits - 1 - np.floor(np.log10(abs(value)))))
    return f"{value:.{min(decimals, 6)}f}"


def loss_texts(median: float, lower: float, upper: float) -> tuple[str, str, str]:
    """A loss interval as printed: the decimals its width supports, shared by the three numbers.

    An interval wider than a factor of two (far beyond the runs, a heavy-tailed predictive)
    prints each number to two significant figures instead, so a lower bound of 0.31 does not
    round to 0 when the upper bound is 24.
    """
    if lower > 0 and upper / lower > _WIDE:
        return _figures(median), _figures(lower), _figures(upper)
    d = decimals_for(lower, upper)
    return f"{median:.{d}f}", f"{lower:.{d}f}", f"{upper:.{d}f}"


def size_texts(median: float, lower: float, upper: float, scientific: bool = False) -> tuple[str, str, str]:
    """Sizes, token counts and ratios as printed: three significant figures, or two where the
    interval spans more than a factor of two (a third figure there would claim what is not known);
    values from 0.001 to 10,000 in plain notation, unless ``scientific`` (factors that span decades,
    all three as ``2.5e-5``)."""
    digits = 2 if lower > 0 and upper / lower > _WIDE else 3
    if scientific:
        return tuple(sci(v, digits, always=True) for v in (median, lower, upper))  # type: ignore[return-value]
    # ratios and epochs (280 tokens per parameter) in plain notation, sizes (7.8e+08) in scientific
    return tuple(_figures(v, digits) if 1e-3 <= abs(v) < 1e4 else f"{v:#.{digits}g}"  # type: ignore[return-value]
                 for v in (median, lower, upper))


def interval_texts(name: str, record: Mapping[str, Any], open_end: str = "unbounded") -> tuple[str, str, str]:
    """``median``, ``lower``, ``upper`` of a record as printed: a loss (a name starting ``L_`` or
    holding ``loss``) by :func:`loss_texts`, anything else by :func:`size_texts`; an interval with
    an open end (``None``) to two figures, the end as ``open_end``."""
    numbers = (record["median"], record["lower"], record["upper"])
    if any(v is None or not np.isfinite(v) for v in numbers):
        return tuple(open_end if v is None else f"{v:#.2g}" for v in numbers)  # type: ignore[return-value]
    return (loss_texts if name.startswith("L_") or "loss" in name else size_texts)(*numbers)


def loss_interval_text(record: Mapping[str, float]) -> str:
    """``median [lower, upper]`` of a loss record (keys ``median``, ``lower``, ``upper``), by :func:`loss_texts`."""
    med, lo, hi = loss_texts(record["median"], record["lower"], record["upper"])
    return f"{med} [{lo}, {hi}]"


def sci(value: float, digits: int = 3, always: bool = False) -> str:
    """Format a number compactly: ``3.1e10`` rather than ``3.1e+10``; plain when moderate, unless
    ``always`` (numbers that span decades side by side: ``2.5e-5 [1.2e-6, 3.9e-4]``)."""
    if not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits - 1}e}" if always else f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def times(ratio: float) -> str:
    """A multiple as people say it: 1.4×, 24×, 1,000×, 2e5× (two significant figures)."""
    if ratio < 10:
        return f"{ratio:.1f}×"
    if ratio < 1e5:
        rounded = float(f"{ratio:.2g}")
        return f"{rounded:,.0f}×"
    return f"{sci(ratio, 2)}×"
