"""The PDF report of one fit or several: what was fitted, how sure we are, what a budget buys.

:func:`write_report` has :mod:`bayescale.report.contents` ask the result API for every number
(``fit.summary``, ``fit.predict``, ``fit.optimum``; here
:func:`bayescale.decisions.comparison.compare_fits`) and hands the results to the page layouts of
:mod:`bayescale.report.pages`, which only draw. Nothing here samples. The PDF is
deterministic: its dates come from the fits, every random draw is seeded, and it is written
atomically (a temporary file in the same folder, then a rename).

Sections per fit: 1 title and provenance (with the convergence verdict), 2 the data, 3 the fit
against the data, 4 the posterior (table and prior against posterior; then the pair plot),
5 diagnostics, 6 the compute-optimal frontier: seven pages. With several fits the data page
is shown once per data set, and section 7 follows: the PSIS-LOO comparison, then the
frontiers overlaid.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bayescale.errors import BayescaleError
from bayescale.files import atomic_path, check_output_path
from bayescale.report.contents import family_results, fit_results

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayescale.results.fitted import Fit

__all__ = ["write_report", "DEFAULT_BUDGETS"]

#: Budgets (FLOPs) of the allocation table when the caller gives none.
DEFAULT_BUDGETS = (1e21, 1e23, 1e25)
_RC = {"pdf.fonttype": 42, "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 8,
       "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7, "path.simplify": True}


def _comparison(fits: Sequence[Fit]) -> tuple[Any, str]:
    """The PSIS-LOO comparison, or None and the reason it is unavailable."""
    try:
        from bayescale.decisions.comparison import compare_fits
    except ImportError:
        return None, "comparison unavailable: this bayescale has no bayescale.decisions.comparison module"
    try:
        return compare_fits(fits), ""
    except BayescaleError as exc:
        return None, f"comparison unavailable: {exc}"


def _created(fits: Sequence[Fit]) -> datetime:
    """The latest creation time among the fits (timezone-aware; UTC when none is stated)."""
    stamps = []
    for fit in fits:
        try:
            stamp = datetime.fromisoformat(str(fit.attrs.get("created", "")))
        except ValueError:
            stamp = datetime(1970, 1, 1, tzinfo=UTC)
        stamps.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))
    return max(stamps)


def _check_budgets(budgets: Sequence[float] | None) -> np.ndarray:
    if budgets is None:
        return np.asarray(DEFAULT_BUDGETS, dtype=float)
    values = np.atleast_1d(np.asarray(budgets, dtype=float))
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise BayescaleError(f"report budgets must be positive numbers of FLOPs, e.g. 1e21 1e23; got {list(budgets)}")
    return np.unique(values)


def write_report(fits: Sequence[Fit], path: str | os.PathLike, budgets: Sequence[float] | None = None,
                 with_files: Sequence[str | os.PathLike] = (), cluster: Any = None,
                 price_per_gpu_hour: float | None = None, unique_tokens: float | None = None) -> Path:
    """Write a PDF report of one fit or several.

    Parameters
    ----------
    fits : sequence of Fit
        The fits, in the order their sections appear. With two or more, a PSIS-LOO comparison
        and overlaid frontiers follow.
    path : str or os.PathLike
        The PDF to write; its folder must exist. Written atomically.
    budgets : sequence of float, optional
        Compute budgets (FLOPs) for the allocation tables; :data:`DEFAULT_BUDGETS` by default.
    with_files : sequence of path
        Saved calibrations (``bayescale calibrate --out``) or backtests (``bayescale backtest
        --out``), one page each at the end; shown as saved, not recomputed.
    cluster : bayescale.planning.cluster.Cluster, optional
        Page 1 then gives each budget's days and GPU-hours on it, and the cost with
        ``price_per_gpu_hour``.
    unique_tokens : float, optional
        Unique tokens available at the budgets, for data-constrained laws; by default the most
        any run had. Ignored by laws without U.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    BayescaleError
        If ``fits`` is empty or a budget is not a positive number.
    OutputPathError
        If the PDF cannot be written at ``path`` (checked before anything is computed).
    """
    check_output_path(path, "report")
    fits = list(fits)
    if not fits:
        raise BayescaleError("a report needs at least one fit: pass the fit files made by 'bayescale fit'")
    values = _check_budgets(budgets)
    from bayescale.report import pages
    from bayescale.report.appendix import appendix_pages
    from bayescale.report.comparing import comparison_pages, families_page
    from bayescale.report.saved_pages import read_saved, saved_pages

    saved = [read_saved(p) for p in with_files]  # a bad file is refused before anything is drawn

    results = [fit_results(fit, values, unique_tokens=unique_tokens) for fit in fits]
    comparison, reason = _comparison(fits) if len(fits) > 1 else (None, "")
    from bayescale.report.front import front_page, front_results

    front = front_results(fits, results, comparison, saved, cluster=cluster, price_per_gpu_hour=price_per_gpu_hour)
    family_pages = [family_results(fit, values) for fit in fits]
    if front is None:  # no fit without families has an allocation: page 1 from the first fit over families
        from bayescale.report.front import family_front_results

        first = next(((fit, fam) for fit, fam in zip(fits, family_pages) if fam is not None), None)
        if first is not None:
            front = family_front_results(first[0], values, first[1].comparison, cluster=cluster,
                                         price_per_gpu_hour=price_per_gpu_hour)
    plan: list[tuple[str, Callable[[], Figure]]] = [("What to train", lambda: front_page(front))] if front else []
    shown: set[str] = set()
    for fit, res, families in zip(fits, results, family_pages):
        plan += pages.fit_pages(fit, res, show_data=fit.attrs["data_hash"] not in shown, multi=len(fits) > 1)
        shown.add(fit.attrs["data_hash"])
        if families is not None:
            plan.append(("Families: frontiers and which family wins", lambda fam=families: families_page(fam)))
    if len(fits) > 1:
        plan += comparison_pages(fits, results, comparison, reason)
    plan += saved_pages(saved)
    for fit in fits:  # the sampler's diagnostics last: for the analyst, not the funder
        plan += appendix_pages(fit, multi=len(fits) > 1)
    return _write_pdf(plan, Path(path), fits)


@contextmanager
def _stable_pdf_numbers() -> Iterator[None]:
    """Round every number matplotlib writes to the PDF to 20 significant bits while saving.

    Constrained layout solves its constraints in an order that depends on memory addresses, so
    positions differ by ~1e-14 (relative) from one process to the next, and matplotlib writes ten
    decimals: two runs would differ by a byte. A binary grid of 2**-20 relative (under a
    thousandth of a point on the page) hides that: decimal-derived numbers never fall exactly
    between two grid points, so a 1e-14 wobble flips one only with probability ~1e-7.
    The original writer is restored afterwards.
    """
    from matplotlib.backends import backend_pdf

    original = backend_pdf.pdfRepr

    def rounded(obj: Any) -> bytes:
        if isinstance(obj, float | np.floating) and np.isfinite(obj) and obj != 0:
            mantissa, exponent = math.frexp(float(obj))
            obj = math.ldexp(round(mantissa * 2**20), exponent - 20)
        return original(obj)

    backend_pdf.pdfRepr = rounded
    try:
        yield
    finally:
        backend_pdf.pdfRepr = original


def _write_pdf(plan: list[tuple[str, Callable[[], Figure]]], path: Path, fits: Sequence[Fit]) -> Path:
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    from bayescale import __version__
    from bayescale.report.layout import decorate

    created = _created(fits)
    laws = ", ".join(dict.fromkeys(fit.law.name for fit in fits))
    metadata = {"Title": f"bayescale report: {laws}", "Subject": "Bayesian scaling-law fit",
                "Creator": f"bayescale {__version__}", "Producer": f"bayescale {__version__} (matplotlib)",
                "CreationDate": created, "ModDate": created,
                "Keywords": " ".join(f"fit:{fit.id}" for fit in fits)}
    with atomic_path(path, "report") as tmp:
        with matplotlib.rc_context(_RC), _stable_pdf_numbers(), PdfPages(tmp, metadata=metadata) as pdf:
            for number, (title, build) in enumerate(plan, 1):
                fig = build()
                decorate(fig, title, number, len(plan), created)
                pdf.savefig(fig)
    return path
