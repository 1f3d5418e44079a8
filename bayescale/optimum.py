"""Compute-optimal allocation with uncertainty: N*, D*, L* and D*/N* for every posterior draw.

For a budget C (FLOPs), N* minimises L(N, D = C / 6N). Laws whose file gives ``[optimum] N``
use that closed form; any other law is minimised numerically over log N, for all draws and
budgets at once (a grid over twelve decades, then golden-section search in the best cell).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bayescale.errors import OptimumError
from bayescale.law import Law, Scales

__all__ = ["Optimum", "compute_optimum", "interval"]

_QUANTITIES = ("N_opt", "D_opt", "L_opt", "tokens_per_param")
_GRID = 97
_GOLDEN_STEPS = 60


def interval(values: np.ndarray, prob: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and equal-tailed interval of ``values`` along ``axis`` (NaNs ignored)."""
    tail = (1.0 - prob) / 2.0
    q = np.nanquantile(values, [0.5, tail, 1.0 - tail], axis=axis)
    return q[0], q[1], q[2]


@dataclass(frozen=True)
class Optimum:
    """Per-draw compute-optimal allocations.

    Attributes
    ----------
    compute : ndarray of shape ``(budget,)``
        Budgets in FLOPs.
    N_opt, D_opt, L_opt, tokens_per_param : ndarray of shape ``(sample, budget)``
        One value per posterior draw and budget (parameters, tokens, loss, tokens/parameter).
    method : str
        ``"closed form"`` or ``"numeric"``.
    loss_unit : str
    """

    compute: np.ndarray
    N_opt: np.ndarray
    D_opt: np.ndarray
    L_opt: np.ndarray
    tokens_per_param: np.ndarray
    method: str
    loss_unit: str = "nats/token"

    def to_records(self, prob: float = 0.95) -> list[dict]:
        """One dict per budget: ``compute``, ``prob`` and median/lower/upper of each quantity."""
        records = []
        for j, budget in enumerate(self.compute):
            record: dict = {"compute": float(budget), "prob": prob}
            for name in _QUANTITIES:
                med, lo, hi = interval(getattr(self, name)[:, j], prob)
                record[name] = {"median": float(med), "lower": float(lo), "upper": float(hi)}
            records.append(record)
        return records

    def format(self, prob: float = 0.95) -> str:
        """A table of medians and intervals, one block per budget."""
        pct = f"{100 * prob:g}%"
        units = {"N_opt": "parameters", "D_opt": "tokens", "L_opt": self.loss_unit, "tokens_per_param": "tokens/param"}
        lines = [f"compute-optimal allocation ({self.method}; median and {pct} interval)"]
        for record in self.to_records(prob):
            lines.append(f"C = {record['compute']:.3g} FLOPs")
            for name in _QUANTITIES:
                r = record[name]
                fmt = ".4g" if name == "L_opt" else ".3g"
                lines.append(
                    f"  {name:<17}{r['median']:>11{fmt}}   [{r['lower']:{fmt}}, {r['upper']:{fmt}}]  {units[name]}"
                )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def compute_optimum(
    law: Law,
    draws: Mapping[str, np.ndarray],
    scales: Scales,
    budgets: Sequence[float] | np.ndarray,
    method: str = "auto",
    loss_unit: str = "nats/token",
) -> Optimum:
    """Compute N*, D*, L* and D*/N* for each draw and budget.

    Parameters
    ----------
    law : Law
    draws : mapping
        Parameter name -> 1-D array of posterior draws (normalized units).
    scales : Scales
        Reference scales of the fit.
    budgets : sequence of float
        Compute budgets in FLOPs.
    method : {"auto", "closed", "numeric"}
        ``"auto"`` uses the law's closed form when it has one.

    Raises
    ------
    OptimumError
        If the law has no trade-off between N and D, or a budget is not positive.
    """
    if method not in ("auto", "closed", "numeric"):
        raise OptimumError(f"unknown method {method!r}: use 'auto', 'closed' or 'numeric'")
    budgets = np.atleast_1d(np.asarray(budgets, dtype=float))
    if budgets.size == 0 or not np.all(np.isfinite(budgets)) or np.any(budgets <= 0):
        raise OptimumError("compute budgets must be positive numbers of FLOPs, e.g. --compute 1e21 5.76e23")
    if not {"N", "D"} <= set(law.variables) or "U" in law.variables:
        raise OptimumError(
            f"law {law.name!r} has no trade-off between model size and tokens (it uses "
            f"{', '.join(law.variables)}), so it has no compute-optimal allocation"
        )
    params = {k: np.asarray(draws[k], dtype=float).reshape(-1, 1) for k in law.parameters}
    if method == "closed" and "N" not in law.optimum:
        raise OptimumError(f"law {law.name!r} has no closed-form optimum; use method='numeric'")
    if method in ("auto", "closed") and "N" in law.optimum:
        physical = law.physical_parameters(params, scales)
        n_opt = np.broadcast_to(law.optimum["N"].evaluate({**physical, "C": budgets}, _np()), (len(params[law.parameters[0]]), budgets.size))
        used = "closed form"
    else:
        n_opt = _numeric_argmin(law, params, scales, budgets)
        used = "numeric"
    d_opt = budgets / (6.0 * n_opt)
    l_opt = law.loss(params, scales, N=n_opt, D=d_opt, C=np.broadcast_to(budgets, n_opt.shape))
    return Optimum(budgets, n_opt, d_opt, np.asarray(l_opt), d_opt / n_opt, used, loss_unit)


def _np():
    from bayescale.expr import numpy_backend

    return numpy_backend()


def _numeric_argmin(law: Law, params: dict[str, np.ndarray], scales: Scales, budgets: np.ndarray) -> np.ndarray:
    """argmin over log N of L(N, C / 6N), vectorised over draws (rows) and budgets (columns)."""
    half = np.log(budgets / 6.0) / 2.0  # log N where N = D
    offsets = np.linspace(-6.0 * np.log(10), 6.0 * np.log(10), _GRID)  # N/D from 1e-12 to 1e12

    def loss_at(log_n: np.ndarray) -> np.ndarray:
        n = np.exp(log_n)
        with np.errstate(all="ignore"):
            value = law.loss(params, scales, N=n, D=budgets / (6.0 * n), C=budgets)
        return np.where(np.isfinite(value), value, np.inf)

    grid = half[None, :, None] + offsets[None, None, :]  # (1, budget, grid)
    with np.errstate(all="ignore"):
        values = np.stack([loss_at(grid[..., i]) for i in range(_GRID)], axis=-1)
    best = np.argmin(values, axis=-1)
    edge = (best == 0) | (best == _GRID - 1)
    step = offsets[1] - offsets[0]
    lo = half[None, :] + offsets[np.clip(best - 1, 0, _GRID - 1)]
    hi = lo + 2 * step
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    x1, x2 = b - ratio * (b - a), a + ratio * (b - a)
    f1, f2 = loss_at(x1), loss_at(x2)
    for _ in range(_GOLDEN_STEPS):
        left = f1 < f2
        b = np.where(left, x2, b)
        a = np.where(left, a, x1)
        x2n = np.where(left, x1, a + ratio * (b - a))
        x1n = np.where(left, b - ratio * (b - a), x2)
        x1, x2 = x1n, x2n
        f1, f2 = loss_at(x1), loss_at(x2)
    n_opt = np.exp((a + b) / 2.0)
    return np.where(edge, np.nan, n_opt)
