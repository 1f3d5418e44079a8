"""A law's published point values used as a fit, so that plans and optima reproduce papers.

:class:`PublishedLaw` answers what planning asks of a :class:`~bayescale.results.fitted.Fit`
(``law``, ``draws``, ``scales``, ``optimum``, ``context``, ``runs.loss_unit``) with one "draw":
the constants, in physical units (N in parameters, D in tokens), and no noise. Every interval it
yields is a point (median = lower = upper): a published constant carries no uncertainty here,
which is exactly why a fit of your own runs is the better basis for a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bayescale.data.conventions import LOSS_UNITS
from bayescale.data.runs import check_n_convention
from bayescale.errors import BayescaleError
from bayescale.laws.law import Law, Scales
from bayescale.laws.law_file import load_law

__all__ = ["PublishedLaw", "parse_params"]


def parse_params(text: str) -> dict[str, float]:
    """``"E=1.69,A=406.4"`` → ``{"E": 1.69, "A": 406.4}`` (parsed, never evaluated)."""
    out = {}
    for item in str(text).split(","):
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not name.strip() or not np.isfinite(number):
            raise BayescaleError(f"--params takes NAME=NUMBER pairs separated by commas, e.g. "
                                 f"E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28; got {item!r}")
        out[name.strip()] = number
    return out


@dataclass(frozen=True)
class _Units:
    loss_unit: str
    n_convention: str = "unstated"


@dataclass(frozen=True)
class PublishedLaw:
    """Point values of a law's parameters (physical units) standing in for a fit.

    Parameters
    ----------
    law : Law or str
    params : mapping
        A value for every parameter of the law.
    loss_unit : str
        The unit the paper's losses are in.
    n_convention : {"unstated", "total", "non-embedding"}
        How the paper counted N (Hoffmann et al.: total; Kaplan et al.: non-embedding).
    """

    law: Law
    params: Mapping[str, float]
    loss_unit: str = "nats/token"
    n_convention: str = "unstated"

    def __post_init__(self) -> None:
        law = self.law if isinstance(self.law, Law) else load_law(self.law)
        missing = [p for p in law.parameters if p not in self.params]
        unknown = [p for p in self.params if p not in law.parameters]
        if missing or unknown:
            raise BayescaleError(f"--params (params= in Python) for law {law.name!r} must give exactly {', '.join(law.parameters)}"
                                 + (f"; missing {', '.join(missing)}" if missing else "")
                                 + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        if self.loss_unit not in LOSS_UNITS:
            raise BayescaleError(f"unknown loss unit {self.loss_unit!r} for the published law (--loss-unit, loss_unit= "
                                 f"in Python); a law's losses are in one of {', '.join(LOSS_UNITS)}.")
        object.__setattr__(self, "law", law)
        check_n_convention(self.n_convention)

    @property
    def scales(self) -> Scales:
        """Unit reference scales: the constants are in physical units."""
        return Scales()

    @property
    def runs(self) -> _Units:
        return _Units(self.loss_unit, self.n_convention)

    @property
    def id(self) -> str:
        return "published:" + ",".join(f"{k}={v:g}" for k, v in self.params.items())

    def draws(self, **levels: Any) -> dict[str, np.ndarray]:
        """One draw: the constants, and zero noise."""
        out = {k: np.array([float(v)]) for k, v in self.params.items()}
        return out | {k: np.array([0.0]) for k in self.law.noise_parameters}

    def context(self, **points: Any) -> None:
        """No runs, so no distance from them: predictions are the law's values."""
        return None

    def optimum(self, budgets: Any, method: str = "auto", unique_tokens: float | None = None, seed: int = 0,
                with_miss: bool | None = None):
        """The law's compute-optimal allocation at ``budgets``; ``L_opt_predictive`` equals ``L_opt``.
        Published constants come without runs, so without a miss beyond them: ``with_miss=True`` is an error."""
        from bayescale.errors import OptimumError
        from bayescale.results.optimum import compute_optimum

        if with_miss:
            raise OptimumError("published constants have no runs, so no miss beyond them; leave out with_miss")

        found = compute_optimum(self.law, self.draws(), self.scales, budgets, method, self.loss_unit,
                                unique_tokens=unique_tokens)
        return replace(found, L_opt_predictive=found.L_opt, n_convention=self.n_convention,
                       basis=f"from the published constants of {self.law.name} (a point: no uncertainty, so each "
                             "interval is that point; a fit of your own runs gives intervals)")
