"""Loss units: which conversions are defined, and doing them.

Nats and bits per token differ by a factor ln 2. Per-character and per-byte losses need the
tokenizer's characters (or bytes) per token, which a runs table does not hold, so a conversion
between a per-token and a per-character or per-byte unit is refused.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from bayescale.data.conventions import LOSS_UNITS
from bayescale.data.runs import Runs
from bayescale.errors import BayescaleError

__all__ = ["UnitError", "convert_loss", "convert_runs", "LOSS_UNITS"]

#: Factor that turns a loss in the unit into nats per the same denominator.
_TO_NATS = {"nats/token": 1.0, "bits/token": math.log(2.0), "bits/char": math.log(2.0), "bits/byte": math.log(2.0)}
_DENOMINATOR = {unit: unit.split("/")[1] for unit in LOSS_UNITS}


class UnitError(BayescaleError, ValueError):
    """A loss unit is unknown, or a conversion between two units is not defined."""


def convert_loss(values: np.ndarray | float, from_unit: str, to_unit: str) -> np.ndarray:
    """Convert losses between units that share a denominator (token, char or byte).

    Raises
    ------
    UnitError
        For an unknown unit, or a per-token ↔ per-character/byte conversion (it needs the
        tokenizer's characters per token, which bayescale does not know).
    """
    for unit in (from_unit, to_unit):
        if unit not in _TO_NATS:
            raise UnitError(f"unknown loss unit {unit!r}; known units are {', '.join(LOSS_UNITS)}")
    if _DENOMINATOR[from_unit] != _DENOMINATOR[to_unit]:
        raise UnitError(
            f"cannot convert {from_unit} to {to_unit}: that needs the number of "
            f"{_DENOMINATOR[to_unit]}s per {_DENOMINATOR[from_unit]}, which depends on the tokenizer and corpus"
        )
    return np.asarray(values, dtype=float) * (_TO_NATS[from_unit] / _TO_NATS[to_unit])


def convert_runs(runs: Runs, to_unit: str) -> Runs:
    """Return the runs with their losses converted to ``to_unit`` (same runs, same order)."""
    if to_unit == runs.loss_unit:
        return runs
    frame = runs.frame.copy()
    frame["loss"] = convert_loss(frame["loss"].to_numpy(), runs.loss_unit, to_unit)
    return replace(runs, frame=frame, loss_unit=to_unit)
