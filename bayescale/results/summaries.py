"""What a fit prints of itself: the posterior summary and predictions at given runs, as small
result objects with a readable ``__str__`` (numbers to the figures their intervals support).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayescale.data.runs import UNITS
from bayescale.inference.gates import Gates
from bayescale.results.optimum import interval
from bayescale.texts import loss_interval_text

__all__ = ["Summary", "Prediction", "readable_table"]


@dataclass(frozen=True)
class Summary:
    """Posterior medians and equal-tailed intervals, with R-hat and bulk ESS, per parameter."""

    table: pd.DataFrame
    physical: pd.DataFrame
    gates: Gates
    prob: float
    units: dict[str, str] = field(default_factory=dict)
    variables: tuple[str, ...] = ("N", "D")

    @property
    def _normalized(self) -> str:
        """'N/N_ref, D/D_ref': how the law's variables are scaled in the posterior table."""
        return ", ".join(f"{v}/{v}_ref" for v in self.variables)

    @property
    def _physical(self) -> str:
        """'N in parameters, D in tokens': the units of the physical table."""
        return ", ".join(f"{v} in {UNITS[v]}" for v in self.variables)

    def to_dict(self) -> dict[str, Any]:
        """``{"parameters": {name: {...}}, "physical": {...}, "gates": {...}, "units": {...}}`` for JSON."""
        return {
            "prob": self.prob,
            "parameters": {k: {c: float(v) for c, v in row.items()} for k, row in self.table.iterrows()},
            "physical": {k: {c: float(v) for c, v in row.items()} for k, row in self.physical.iterrows()},
            "gates": self.gates.to_dict(),
            "units": dict(self.units),
        }

    def _repr_html_(self) -> str:
        from html import escape

        from bayescale.results.html import frame_html

        pct = f"{100 * self.prob:g}%"
        parts = [frame_html(self.table, f"posterior (normalized units; median and {pct} interval)")]
        if len(self.physical):
            parts.append(frame_html(self.physical, f"physical units ({self._physical})"))
        return "".join(parts) + f"<p>{escape(str(self.gates))}</p>"

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        pct = f"{100 * self.prob:g}%"
        lines = [f"posterior (normalized units: {self._normalized}; median and {pct} interval)"]
        shown = readable_table(self.table)
        if self.units:  # a shaped parameter's rows (E[a], E[b]) take their parameter's unit
            shown["unit"] = [self.units.get(str(name).split("[")[0], "") for name in shown.index]
        lines.append(shown.to_string())
        if len(self.physical):
            lines.append(f"\nphysical units ({self._physical})")
            lines.append(readable_table(self.physical).to_string())
        lines.append("")
        lines.append(str(self.gates))
        return "\n".join(lines)


def _figures(lower: float, upper: float) -> int:
    """Significant figures that show an interval's width, and no more (2 to 6)."""
    width = abs(upper - lower)
    scale = max(abs(lower), abs(upper))
    if not (np.isfinite(width) and width > 0 and scale > 0):
        return 3
    return int(np.clip(np.floor(np.log10(scale)) - np.floor(np.log10(width)) + 2, 2, 6))


def _fixed(value: float, digits: int) -> str:
    """``digits`` significant figures, in plain notation between 1e-3 and 1e5."""
    if not np.isfinite(value) or value == 0 or not 1e-3 <= abs(value) < 1e5:
        return f"{value:.{digits}g}"
    return f"{value:.{max(digits - 1 - int(np.floor(np.log10(abs(value)))), 0)}f}"


def readable_table(table: pd.DataFrame) -> pd.DataFrame:
    """Medians and bounds to the figures their interval supports; R-hat to 3 decimals; ESS whole."""
    out = pd.DataFrame(index=table.index)
    for name, row in table.iterrows():
        digits = _figures(row["lower"], row["upper"])
        for col in ("median", "lower", "upper"):
            out.loc[name, col] = _fixed(row[col], digits)
    if "r_hat" in table:
        out["r_hat"] = [f"{v:.3f}" for v in table["r_hat"]]
        out["ess_bulk"] = [f"{v:.0f}" for v in table["ess_bulk"]]
    return out


@dataclass(frozen=True)
class Prediction:
    """Loss predicted at given (N, D): the law's mean and the posterior predictive, per point."""

    inputs: pd.DataFrame
    mean: np.ndarray
    predictive: np.ndarray
    prob: float
    loss_unit: str

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per point: inputs, ``loss`` (law's value) and ``predictive`` (with noise)."""
        out = []
        for i, row in enumerate(self.inputs.to_dict("records")):
            record = {k: v if isinstance(v, str) else float(v) for k, v in row.items()}
            record["prob"] = self.prob
            for name, values in (("loss", self.mean), ("predictive", self.predictive)):
                med, lo, hi = interval(values[:, i], self.prob)
                record[name] = {"median": float(med), "lower": float(lo), "upper": float(hi)}
            out.append(record)
        return out

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        pct = f"{100 * self.prob:g}%"
        lines = [f"predicted loss ({self.loss_unit}; median and {pct} interval)"]
        for r in self.to_records():
            where = ", ".join(f"{k}={r[k]}" if isinstance(r[k], str) else f"{k}={r[k]:.3g}" for k in self.inputs.columns)
            m, p = r["loss"], r["predictive"]
            lines.append(f"  {where}: law {loss_interval_text(m)}; new run {loss_interval_text(p)}")
        return "\n".join(lines)
