"""Compute-optimal allocation with uncertainty: N*, D*, L* and D*/N* for every posterior draw.

For a budget C (FLOPs), N* minimises L(N, D = C / 6N). Laws whose file gives ``[optimum] N``
use that closed form; any other law is minimised numerically over log N, for all draws and
budgets at once (a grid over twelve decades, then golden-section search in the best cell).

Data-constrained laws (those using U, the unique tokens) need the unique tokens available: the
search then runs over N with D = C / 6N and U fixed, so D may exceed U (the data are repeated
D/U times). Their closed forms, if a file gave one, would ignore U, so they are always numeric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayescale.errors import OptimumError
from bayescale.laws.flops import FLOPS_PER_PARAM_TOKEN, tokens_for_compute
from bayescale.laws.law import Law, Scales
from bayescale.results.edges import EDGE_KEYS, edge_notes, mark_open, open_ends
from bayescale.texts import interval_texts, times

__all__ = ["Optimum", "check_allocatable", "compute_optimum", "interval", "moved_by_miss"]

_QUANTITIES = ("N_opt", "D_opt", "L_opt", "tokens_per_param")
_GRID = 97
_GOLDEN_STEPS = 60


def moved_by_miss(record: Mapping[str, Any]) -> bool:
    """Whether a budget's record (:meth:`Optimum.to_records`) has a predictive N* that differs from
    the law's: beyond the runs, where the law's miss moves the optimum. Inside them the two agree,
    and the predictive lines are left out of printed tables (JSON keeps both)."""
    if "N_opt_predictive" not in record:
        return False
    law, moved = record["N_opt"], record["N_opt_predictive"]
    return not all(np.isclose(law[k], moved[k], rtol=1e-3) for k in ("median", "lower", "upper"))


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
    unique_tokens : float or None
        Unique tokens available, for data-constrained laws; then ``epochs`` = D*/U is reported too.
    L_opt_predictive : ndarray of shape ``(sample, budget)`` or None
        What a run trained at (N*, D*) would score: L* with the error model's run-to-run noise
        and, for error models that widen away from the data, the law's discrepancy there.
        Set by :meth:`bayescale.results.fitted.Fit.optimum`; ``L_opt`` is the law's value alone.
    n_convention : str
        How the fitted runs counted N (``"total"``, ``"non-embedding"`` or ``"unstated"``).
    basis : str
        Which fit it comes from, when not the fit of every run (see
        :attr:`bayescale.results.fitted.Fit.allocation`); empty otherwise.
    largest_run : float or None
        Compute of the largest fitted run (FLOPs), when known: each budget is then reported as a
        multiple of it (``times_largest_run``), the extrapolation the answer rests on.
    N_opt_predictive, D_opt_predictive : ndarray of shape ``(sample, budget)`` or None
        N* and D* of the surface each draw believes, the law plus that draw's miss beyond the fitted
        runs (error models with a miss, e.g. ``discrepancy``): beyond the runs they are wider than
        ``N_opt`` and ``D_opt``, the law's own. Set by :meth:`bayescale.results.fitted.Fit.optimum`.
    predictive_edge : ndarray of int8, shape ``(sample, budget)``, or None
        Where each draw's predictive optimum stops at the edge of the tokens-per-parameter shifts
        the shipped miss was learned on (:func:`bayescale.laws.extrapolation.at_learned_edge`):
        -1 on the few-tokens edge (large N), +1 on the many-tokens edge, -2 and +2 beyond them (the
        law's own optima there, where the tilt is flat), 0 between. Where an interval's end falls on an
        edge, it is the edge rather than a quantile, and the output says so (:func:`bayescale.results.edges.open_ends`).
    """

    compute: np.ndarray
    N_opt: np.ndarray
    D_opt: np.ndarray
    L_opt: np.ndarray
    tokens_per_param: np.ndarray
    method: str
    loss_unit: str = "nats/token"
    unique_tokens: float | None = None
    L_opt_predictive: np.ndarray | None = None
    n_convention: str = "unstated"
    basis: str = ""
    largest_run: float | None = None
    N_opt_predictive: np.ndarray | None = None
    D_opt_predictive: np.ndarray | None = None
    predictive_edge: np.ndarray | None = None

    @property
    def _n_unit(self) -> str:
        return "parameters" if self.n_convention == "unstated" else f"parameters ({self.n_convention})"

    @property
    def epochs(self) -> np.ndarray | None:
        """D*/U per draw and budget (passes over the unique data), or None without U."""
        return None if self.unique_tokens is None else self.D_opt / self.unique_tokens

    def _quantities(self) -> tuple[str, ...]:
        """The quantities reported, each predictive one after the law's; none that has no value at all
        (an isoFLOP analysis predicts no loss at a new budget)."""
        names: list[str] = []
        for name in _QUANTITIES:
            if np.isnan(getattr(self, name)).all():
                continue
            names.append(name)
            if name in ("N_opt", "D_opt") and getattr(self, f"{name}_predictive") is not None:
                names.append(f"{name}_predictive")
        return (tuple(names) + (("L_opt_predictive",) if self.L_opt_predictive is not None else ())
                + (("epochs",) if self.unique_tokens is not None else ()))

    def to_records(self, prob: float = 0.95) -> list[dict]:
        """One dict per budget: ``compute``, ``prob`` and median/lower/upper of each quantity.

        With unique tokens, also ``unique_tokens`` and ``epochs`` (D*/U). ``units`` gives the
        unit of every quantity.
        """
        units = {"compute": "FLOPs", "N_opt": self._n_unit, "N_opt_predictive": self._n_unit, "D_opt": "tokens",
                 "D_opt_predictive": "tokens", "L_opt": self.loss_unit,
                 "L_opt_predictive": self.loss_unit, "tokens_per_param": "tokens/parameter",
                 "unique_tokens": "tokens", "epochs": "passes over the unique tokens"}
        records, names = [], self._quantities()
        for j, budget in enumerate(self.compute):
            record: dict = {"compute": float(budget), "prob": prob}
            if self.unique_tokens is not None:
                record["unique_tokens"] = float(self.unique_tokens)
            if self.basis:
                record["basis"] = self.basis
            if self.largest_run:
                record["times_largest_run"] = float(budget / self.largest_run)
            for name in names:
                med, lo, hi = interval(getattr(self, name)[:, j], prob)
                record[name] = {"median": float(med), "lower": float(lo), "upper": float(hi)}
            if self.predictive_edge is not None and self.N_opt_predictive is not None:
                edge = self.predictive_edge[:, j]
                record["predictive_at_learned_edge"] = {"few_tokens_per_param": float(np.mean(edge == -1)),
                                                        "many_tokens_per_param": float(np.mean(edge == 1))}
                record["predictive_beyond_learned_edge"] = {"few_tokens_per_param": float(np.mean(edge == -2)),
                                                            "many_tokens_per_param": float(np.mean(edge == 2))}
            record["units"] = {k: v for k, v in units.items() if k in record}
            records.append(record)
        return records

    def format(self, prob: float = 0.95) -> str:
        """A table of medians and intervals, one block per budget."""
        pct = f"{100 * prob:g}%"
        law = " (the law)" if self.N_opt_predictive is not None else ""
        moved = "(the law and its miss beyond the runs)"
        if self.method.startswith("isoFLOP"):  # the analysis's line, and where a new sweep would bottom out
            law, moved = " (the power law)", "(a sweep's minimum there: the line and its scatter)"
        units = {"N_opt": self._n_unit + law, "D_opt": "tokens" + law, "L_opt": f"{self.loss_unit} (the law)",
                 "N_opt_predictive": f"{self._n_unit} {moved}",
                 "D_opt_predictive": f"tokens {moved}",
                 "L_opt_predictive": f"{self.loss_unit} (a run trained " + ("at N_opt, D_opt)" if law else "there)"),
                 "tokens_per_param": "tokens/param", "epochs": "passes over the unique tokens"}
        lines = [f"compute-optimal allocation ({self.method}; median and {pct} interval)"]
        if self.basis:
            lines.append(self.basis)
        if self.unique_tokens is not None:
            lines.append(f"with U = {self.unique_tokens:.3g} unique tokens (data repeated when D > U)")
        names = self._quantities()
        for record in self.to_records(prob):
            lines.append(f"C = {record['compute']:.3g} FLOPs" + _extrapolation_text(record.get("times_largest_run")))
            ends = open_ends(record)
            for name in names:
                if name in ("N_opt_predictive", "D_opt_predictive") and not moved_by_miss(record):
                    continue
                med, lo, hi = interval_texts(name, record[name])  # the figures each interval supports
                lo, hi = mark_open(name, lo, hi, ends)
                lines.append(f"  {name:<17}{med:>11}   [{lo}, {hi}]  {units[name]}")
            if moved_by_miss(record):
                lines += edge_notes(record)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from bayescale.results.html import records_html

        records = []
        for record in self.to_records():
            ends = open_ends(record)  # shown as "≤"/"≥" on the intervals, not as shares
            shown = {k: v for k, v in record.items() if k not in ("basis", *EDGE_KEYS)}
            for name, (low, high) in ends.items():
                shown[name] = {**shown[name], "lower_open": low, "upper_open": high}
            records.append(shown)
        caption = f"compute-optimal allocation ({self.method}; median [95% interval])"
        return records_html(records, caption + (f", {self.basis}" if self.basis else ""))

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        return self.format()


#: Beyond this multiple of the largest run's compute a budget's answer gets a warning line.
FAR_BEYOND = 1e6


def _extrapolation_text(multiple: float | None) -> str:
    """`` (1,300× the largest run's compute)`` after a budget, and a warning line when it is :data:`FAR_BEYOND`."""
    if multiple is None:
        return ""
    text = f" ({times(multiple)} the largest run's compute)"
    if multiple > FAR_BEYOND:
        text += ("\n  note: over a million times the largest run: the law is carried far beyond anything the runs "
                 "test, and these intervals say what it implies there, not what is known")
    return text


def check_allocatable(law: Law, unique_tokens: float | None = None) -> None:
    """Raise :class:`OptimumError` unless ``law`` has an optimum at a budget given these unique tokens:
    it trades model size against tokens (uses N and D), and ``unique_tokens`` is given exactly when
    the law uses U."""
    if not law.trades_size_for_tokens:
        raise OptimumError(
            f"law {law.name!r} has no trade-off between model size and tokens (it uses "
            f"{', '.join(law.variables)}), so it has no compute-optimal allocation; for its loss at a budget "
            "use fit.predict(C=...) (bayescale predict FIT.nc --c 1e24), or fit a law in N and D"
        )
    if "U" in law.variables:
        if unique_tokens is None:
            raise OptimumError(
                f"law {law.name!r} depends on the unique tokens available: pass --unique-tokens U "
                f"(unique_tokens=... in Python), e.g. --unique-tokens 2.5e10"
            )
        u = float(unique_tokens)
        if not (np.isfinite(u) and u > 0):
            raise OptimumError(f"the unique tokens (unique_tokens=, --unique-tokens) must be a positive number of tokens, got {unique_tokens!r}")
    elif unique_tokens is not None:
        raise OptimumError(
            f"law {law.name!r} does not use unique tokens, so --unique-tokens has no effect; leave it "
            f"out, or fit a data-constrained law (e.g. --law data_constrained)"
        )


def compute_optimum(
    law: Law,
    draws: Mapping[str, np.ndarray],
    scales: Scales,
    budgets: Sequence[float] | np.ndarray,
    method: str = "auto",
    loss_unit: str = "nats/token",
    unique_tokens: float | None = None,
    log_miss: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
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
        ``"auto"`` uses the law's closed form when it has one (never for laws with U).
    loss_unit : str
        Unit of the losses, carried into the result.
    unique_tokens : float, optional
        Unique tokens available. Required by laws that use U (data-constrained laws): N is
        searched with D = C / 6N and U fixed, so the data may be repeated. An error for others.
    log_miss : callable, optional
        ``log_miss(N, D, C)``: each draw's miss of the law on log loss, shape ``(sample, budget)``
        (:meth:`bayescale.laws.noise.ErrorModel.miss`). N* is then the minimum of the surface each
        draw believes, ``L · exp(miss)``, found numerically; ``L_opt`` is the law's value there.

    Raises
    ------
    OptimumError
        If the law has no trade-off between N and D, a budget is not positive, a law with U
        gets no ``unique_tokens`` (or a law without U gets some), or ``method="closed"`` is
        asked of a law without a usable closed form.
    """
    if method not in ("auto", "closed", "numeric"):
        raise OptimumError(f"unknown method {method!r}: use 'auto', 'closed' or 'numeric'")
    budgets = np.atleast_1d(np.asarray(budgets, dtype=float))
    if budgets.size == 0:
        raise OptimumError("give at least one compute budget in FLOPs, e.g. fit.optimum([1e21, 5.76e23]) "
                           "(--compute 1e21 5.76e23 on the command line)")
    if not np.all(np.isfinite(budgets)) or np.any(budgets <= 0):
        raise OptimumError(f"compute budgets must be positive, finite numbers of FLOPs; got {budgets.tolist()} "
                           "(e.g. fit.optimum([1e21, 5.76e23]), --compute 1e21 5.76e23 on the command line)")
    check_allocatable(law, unique_tokens)
    uses_u = "U" in law.variables
    extra: dict[str, float] = {"U": float(unique_tokens)} if uses_u else {}
    params = {k: np.asarray(draws[k], dtype=float).reshape(-1, 1) for k in law.parameters}
    if method == "closed" and "N" not in law.optimum:
        raise OptimumError(f"law {law.name!r} has no closed-form optimum; use method='numeric'")
    if method == "closed" and uses_u:
        raise OptimumError(f"law {law.name!r} uses unique tokens U, which its closed form ignores; "
                           f"use method='numeric'")
    if log_miss is not None:
        n_opt = _numeric_argmin(law, params, scales, budgets, extra, log_miss)
        used = "numeric, each draw's surface: the law and its miss beyond the runs"
    elif method in ("auto", "closed") and "N" in law.optimum and not uses_u:
        physical = law.physical_parameters(params, scales)
        n_opt = np.broadcast_to(law.optimum["N"].evaluate({**physical, "C": budgets}, _np()), (len(params[law.parameters[0]]), budgets.size))
        used = "closed form"
    else:
        n_opt = _numeric_argmin(law, params, scales, budgets, extra)
        used = "numeric"
    d_opt = tokens_for_compute(budgets, n_opt)
    l_opt = law.loss(params, scales, N=n_opt, D=d_opt, C=np.broadcast_to(budgets, n_opt.shape), **extra)
    return Optimum(budgets, n_opt, d_opt, np.asarray(l_opt), d_opt / n_opt, used, loss_unit,
                   extra.get("U"))


def _np():
    from bayescale.laws.expr import numpy_backend

    return numpy_backend()


def _numeric_argmin(law: Law, params: dict[str, np.ndarray], scales: Scales, budgets: np.ndarray,
                    extra: Mapping[str, float] | None = None,
                    log_miss: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """argmin over log N of L(N, C / 6N), times ``exp(log_miss(N, D, C))`` when given, vectorised
    over draws (rows) and budgets (columns).

    ``extra`` holds fixed variables other than N, D and C (the unique tokens U).
    """
    extra = dict(extra or {})
    half = np.log(budgets / FLOPS_PER_PARAM_TOKEN) / 2.0  # log N where N = D
    offsets = np.linspace(-6.0 * np.log(10), 6.0 * np.log(10), _GRID)  # N/D from 1e-12 to 1e12

    def loss_at(log_n: np.ndarray) -> np.ndarray:
        n = np.exp(log_n)
        d = tokens_for_compute(budgets, n)
        with np.errstate(all="ignore"):
            value = law.loss(params, scales, N=n, D=d, C=budgets, **extra)
            if log_miss is not None:
                value = value * np.exp(log_miss(n, d, np.broadcast_to(budgets, np.shape(n))))
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
