"""Compare fits of several laws to the same runs with PSIS-LOO (arviz-stats)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayescale.errors import BayescaleError
from bayescale.results.fitted import Fit

__all__ = ["CompareError", "Comparison", "compare_fits", "check_compatible", "common_runs", "common_runs_note",
           "warn_mixed_conventions"]

_WARNED: set[tuple[str, ...]] = set()
_COLUMNS = ["rank", "elpd_loo", "se", "elpd_diff", "dse", "weight", "p_loo", "bad_k"]


class CompareError(BayescaleError, ValueError):
    """The fits cannot be compared: different data, different loss units, or fewer than two."""


@dataclass(frozen=True)
class Comparison:
    """PSIS-LOO comparison of fits of the same runs.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per fit (label), best first: ``rank``, ``elpd_loo`` (expected log pointwise
        predictive density of the log losses), its standard error ``se``, ``elpd_diff`` and
        ``dse`` against the best fit, stacking ``weight``, effective parameters ``p_loo``, and
        ``bad_k``, the runs whose Pareto k exceeds the reliability threshold.
    loss_unit : str
    data_hash : str
    warnings : tuple of str
        Pareto-k and convergence warnings, in words.
    per_family : pandas.DataFrame or None
        When the runs have families: the elpd_loo of each family's runs (rows) under each fit
        (columns), e.g. to see where pooling helps and where a family is better left separate.
    """

    table: pd.DataFrame
    loss_unit: str
    data_hash: str
    warnings: tuple[str, ...] = ()
    per_family: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        """JSON-able: ``{"fits": {label: {...}}, "warnings": [...], ...}``."""
        fits = {label: {k: (int(v) if k in ("rank", "bad_k") else float(v)) for k, v in row.items()}
                for label, row in self.table.iterrows()}
        out = {"fits": fits, "loss_unit": self.loss_unit, "data_hash": self.data_hash,
               "warnings": list(self.warnings)}
        if self.per_family is not None:
            out["per_family"] = {family: {k: float(v) for k, v in row.items()}
                                 for family, row in self.per_family.iterrows()}
        return out

    def _repr_html_(self) -> str:
        from bayescale.results.html import frame_html

        return frame_html(self.table, f"PSIS-LOO comparison (elpd of log loss; higher is better; {self.loss_unit})")

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        text = self.table.to_string(formatters={
            col: (lambda v: f"{v:.3f}") if col == "weight" else (lambda v: f"{v:.1f}")
            for col in ("elpd_loo", "se", "elpd_diff", "dse", "weight", "p_loo")})
        lines = [f"PSIS-LOO comparison (elpd of log loss; higher is better; loss unit {self.loss_unit})", text]
        if self.per_family is not None:
            lines += ["elpd_loo of each family's runs:", self.per_family.to_string(float_format=lambda v: f"{v:.1f}")]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _name(fit: Any) -> str:
    """A fit's law name; ``isoflop`` for an isoFLOP analysis."""
    law = getattr(fit, "law", None)
    return law.name if law is not None else "isoflop"


def _labels(fits: Sequence[Fit]) -> list[str]:
    names = [_name(fit) for fit in fits]
    return [name if names.count(name) == 1 else f"{name}[{fit.id}]" for name, fit in zip(names, fits)]


def compare_fits(fits: Sequence[Fit], labels: Sequence[str] | None = None) -> Comparison:
    """Rank fits by PSIS-LOO, with standard errors, differences and stacking weights.

    Parameters
    ----------
    fits : sequence of Fit or IsoflopFit
        Two or more fits of the same runs (same data hash) in the same loss unit; an isoFLOP
        analysis is ranked by the density of its parabolas. Where it left budgets out, every fit
        is weighed on the runs they all explain (a note says so).
    labels : sequence of str, optional
        Row labels; by default the law names (made unique with the fit id).

    Raises
    ------
    CompareError
        If fewer than two fits are given, or they were fitted to different data or in
        different loss units.
    """
    from arviz_stats import compare

    unit = check_compatible(fits, "compare")
    labels = list(labels) if labels is not None else _labels(fits)
    notes: list[str] = []
    results = {}
    common = common_runs(fits)
    if common is not None:
        notes.append(common_runs_note(common))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, fit in zip(labels, fits):
            results[label] = fit.psis_loo if common is None else _loo_on(fit, common)
            if not fit.gates.passed:
                notes.append(f"{label} failed its convergence gates; its LOO is not to be trusted")
        # "none" returns raw numbers; None would round to rcParams' significant figures
        table = compare(results, round_to="none")
    bad = {label: int(np.sum(np.asarray(r.pareto_k) > r.good_k)) for label, r in results.items()}
    for label, count in bad.items():
        if count:
            notes.append(f"{label}: {count} run(s) with Pareto k > {results[label].good_k:.2f}; "
                         "PSIS-LOO is unreliable for them (influential runs)")
    table = table.rename(columns={"elpd": "elpd_loo", "p": "p_loo"})
    table["bad_k"] = pd.Series(bad)
    table["rank"] = table["rank"].astype(int) + (1 - int(table["rank"].min()))  # the best is rank 1
    per_family = None
    runs = fits[0].runs
    if "family" in runs.levels:
        codes = runs.codes("family") if common is None else runs.codes("family")[common]
        per_family = pd.DataFrame({label: [float(np.sum(np.asarray(r.elpd_i)[codes == k]))
                                           for k in range(len(runs.levels["family"]))]
                                   for label, r in results.items()}, index=pd.Index(runs.levels["family"], name="family"))
    return Comparison(table[_COLUMNS], unit, fits[0].attrs["data_hash"], tuple(notes), per_family)


def common_runs_note(common: np.ndarray) -> str:
    """What weighing on the runs of the mask ``common`` alone means, in words."""
    return (f"weighed on the {int(common.sum())} of {common.size} runs every model explains: an isoFLOP analysis "
            f"left out {int(common.size - common.sum())} in budgets that do not bracket their minimum")


def common_runs(fits: Sequence[Any]) -> np.ndarray | None:
    """The runs every fit explains (a mask), or None when that is every run.

    A fit of a law explains all its runs; an isoFLOP analysis not those of the budgets it left out.
    """
    from bayescale.decisions.isoflop import IsoflopFit
    from bayescale.decisions.isoflop_weigh import explained

    masks = [explained(fit) for fit in fits if isinstance(fit, IsoflopFit)]
    common = np.logical_and.reduce(masks) if masks else None
    return None if common is None or common.all() else common


def _loo_on(fit: Any, runs: np.ndarray) -> Any:
    """PSIS-LOO of ``fit`` on the runs of the mask ``runs`` only."""
    import xarray as xr
    from arviz_stats import loo

    from bayescale.decisions.isoflop import IsoflopFit
    from bayescale.decisions.isoflop_weigh import isoflop_loo

    if isinstance(fit, IsoflopFit):
        return isoflop_loo(fit, runs)
    tree = fit.loo_tree()
    subset = xr.DataTree.from_dict({"posterior": tree["posterior"].to_dataset(),
                                    "log_likelihood": tree["log_likelihood"].to_dataset().isel(run=np.flatnonzero(runs))})
    return loo(subset)


def warn_mixed_conventions(sources: Sequence[Any]) -> bool:
    """Warn (log) when fits or published constants count N differently; True if they do.

    Each source has ``runs.n_convention``; "unstated" agrees with anything. N* of a law fitted on
    non-embedding counts is smaller than one fitted on total counts of the same models, most for
    small models, so such answers differ by convention as well as by law.
    """
    stated = {getattr(s.runs, "n_convention", "unstated") for s in sources} - {"unstated"}
    if len(stated) > 1:
        key = tuple(sorted(str(getattr(s, "id", "")) for s in sources))
        if key in _WARNED:  # an ensemble checks its fits more than once
            return True
        _WARNED.add(key)
        logging.getLogger("bayescale").warning(
            "these answers count N differently (%s): N* and D* are not comparable across them; refit "
            "with one convention (fit --n-convention) or compare like with like", " and ".join(sorted(stated)))
        return True
    return False


def check_compatible(fits: Sequence[Fit], what: str = "compare") -> str:
    """Refuse fits that cannot be weighed against each other; return their common loss unit.

    A fit may also be an isoFLOP analysis (:class:`~bayescale.decisions.isoflop.IsoflopFit`) of
    the same table.

    Raises
    ------
    CompareError
        Fewer than two fits, the same fit twice, fits of different runs or loss units, an isoFLOP
        analysis saved without its runs.
    """
    from bayescale.decisions.isoflop import IsoflopFit
    from bayescale.decisions.isoflop_weigh import unweighable

    if len(fits) < 2:
        raise CompareError(f"{what} needs at least two fits of the same runs")
    for fit in fits:
        why = unweighable(fit) if isinstance(fit, IsoflopFit) else None
        if why:
            raise CompareError(f"the isoFLOP analysis {fit.id} cannot join {what}: {why}")
    ids = [fit.id for fit in fits]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise CompareError(f"the same fit is given twice (fit id {', '.join(repeated)}); give fits of different laws "
                           "or error models to the same runs")
    hashes = {fit.attrs["data_hash"] for fit in fits}
    if len(hashes) > 1:
        sources = "; ".join(f"{_name(fit)}: {fit.runs.n_runs} runs from {fit.attrs['data_source']} "
                            f"(data hash {fit.attrs['data_hash'].removeprefix('sha256:')[:12]})" for fit in fits)
        raise CompareError(f"the fits were made on different runs ({sources}); laws are weighed only on the same runs, "
                           "so fit every law to the same table with the same filters")
    warn_mixed_conventions(fits)
    units = {fit.runs.loss_unit for fit in fits}
    if len(units) > 1:
        raise CompareError(f"the fits use different loss units ({', '.join(sorted(units))}); refit in one unit")
    return units.pop()
