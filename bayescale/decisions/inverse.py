"""Inverse questions, answered per posterior draw.

- :func:`compute_for_loss`: the compute needed to reach a target loss when every budget is
  spent at its compute-optimal allocation (L*(C) = target).
- :func:`tokens_for_loss`: the training tokens implied by an observed loss at a known model
  size (L(N, D) = observed), as in "More compute is what you need" (Guo 2024), which estimates
  models' undisclosed training data this way.

Both solve a monotone equation on a log grid for all draws at once and interpolate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayescale.errors import BayescaleError
from bayescale.laws.flops import tokens_for_compute, training_flops
from bayescale.results.fitted import Fit, allocation_source
from bayescale.texts import interval_texts

__all__ = ["InverseResult", "compute_for_loss", "tokens_for_loss"]

_C_GRID = np.geomspace(1e12, 1e36, 145)  # 6 points per decade
_D_GRID = np.geomspace(1e3, 1e18, 301)  # 20 points per decade


@dataclass(frozen=True)
class InverseResult:
    """Per-draw answers to an inverse question.

    Attributes
    ----------
    question : str
        What was asked, in words.
    targets : ndarray of shape ``(target,)``
        The target or observed losses.
    values : dict of str to ndarray of shape ``(sample, target)``
        The answers per draw, e.g. ``{"C": …, "N_opt": …, "D_opt": …}`` or ``{"D": …}``; NaN where a
        draw cannot reach the loss (below its floor, or outside 1e12–1e36 FLOPs / 1e3–1e18 tokens).
        Summaries count those draws as needing unbounded compute or data, so an interval bound
        that falls among them is reported as unreachable (``None`` in JSON).
    units : dict of str to str
    """

    question: str
    targets: np.ndarray
    values: dict[str, np.ndarray]
    units: dict[str, str]

    def unreachable(self) -> np.ndarray:
        """Fraction of draws with no answer, per target."""
        first = next(iter(self.values.values()))
        return np.mean(~np.isfinite(first), axis=0)

    def to_dict(self, prob: float = 0.95) -> list[dict]:
        """One dict per target: the loss, the unreachable fraction and median/lower/upper of each answer."""
        out = []
        for j, target in enumerate(self.targets):
            record: dict = {"loss": float(target), "prob": prob, "unreachable": float(self.unreachable()[j])}
            for name, values in self.values.items():
                # a draw that never reaches the loss needs unbounded compute or data: count it as +inf
                column = np.where(np.isnan(values[:, j]), np.inf, values[:, j])
                tail = (1.0 - prob) / 2.0
                q = np.quantile(column, [0.5, tail, 1.0 - tail], method="inverted_cdf")
                record[name] = {k: (float(v) if np.isfinite(v) else None)
                                for k, v in zip(("median", "lower", "upper"), q)}
            if "tokens_per_param" in record:  # the key's name before one vocabulary; kept for scripts
                record["D_per_N"] = record["tokens_per_param"]
            record["units"] = dict(self.units)
            out.append(record)
        return out

    def format(self, prob: float = 0.95) -> str:
        """A readable table."""
        lines = [f"{self.question} (median and {100 * prob:g}% interval)"]
        for record in self.to_dict(prob):
            lines.append(f"loss {record['loss']:g}:")
            width = max(len(name) for name in self.units) + 2
            for name, unit in self.units.items():
                med, lo, hi = interval_texts(name, record[name], open_end="unreachable")
                lines.append(f"  {name:<{width}}{med:>11}   [{lo}, {hi}]  {unit}")
            if record["unreachable"] > 0:
                lines.append(f"  {100 * record['unreachable']:.1f}% of posterior draws never reach this loss")
        return "\n".join(lines)

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        return self.format()


def _crossing(grid: np.ndarray, curves: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Where each decreasing curve (one per row) first falls to its row's target.

    Interpolates linearly in log grid; NaN where the curve never reaches the target on the grid.
    """
    log_grid = np.log(grid)
    below = curves <= targets[:, None]
    first = np.argmax(below, axis=1)
    rows = np.nonzero(below.any(axis=1) & (first > 0))[0]
    i = first[rows]
    y0, y1 = curves[rows, i - 1], curves[rows, i]
    frac = (y0 - targets[rows]) / (y0 - y1)
    out = np.full(curves.shape[0], np.nan)
    out[rows] = np.exp(log_grid[i - 1] + frac * (log_grid[i] - log_grid[i - 1]))
    return out


def _check_targets(targets) -> np.ndarray:
    targets = np.atleast_1d(np.asarray(targets, dtype=float))
    if targets.size == 0 or np.any(~np.isfinite(targets)) or np.any(targets <= 0):
        raise BayescaleError("losses must be positive numbers in the fit's loss unit")
    return targets


class UnreachableLossError(BayescaleError, ValueError):
    """Most posterior draws of the law never reach the target loss (it lies below the law's floor)."""


def _ungrouped(fit: Fit):
    if fit.law.dims:
        raise BayescaleError(f"inverse questions are not yet answered for laws with per-{fit.law.dims[0]} parameters "
                             f"({fit.law.name!r}); use optimum and predict with --{fit.law.dims[0]}")
    return fit.law


def compute_for_loss(fit: Fit, target_losses, unique_tokens: float | None = None, seed: int = 0) -> InverseResult:
    """Compute (FLOPs) needed to reach each target loss at the compute-optimal allocation.

    For a law in C alone (no N/D trade-off) it is the compute at which the law reaches the loss.

    Parameters
    ----------
    fit : Fit
    target_losses : float or sequence of float
        In the fit's loss unit.
    unique_tokens : float, optional
        Unique tokens available, for data-constrained laws.
    seed : int
        Seeds the draws of ``C_run``: the compute at which one run, trained at the optimum,
        would reach the loss (the error model's noise and discrepancy, one deviate per draw).

    Raises
    ------
    UnreachableLossError
        If more than half the posterior draws never reach a target (it is below their floor);
        when fewer do, the answer says which fraction cannot (:meth:`InverseResult.unreachable`).
    OptimumError
        If the law has no compute-optimal allocation and is not a law in C alone.
    """
    targets = _check_targets(target_losses)
    law = _ungrouped(fit)
    if law.variables == ("C",):
        draws = law.with_run_axis(fit.draws())
        with np.errstate(all="ignore"):
            curves = np.asarray(law.loss(draws, fit.scales, C=_C_GRID))
        curves = np.where(np.isfinite(curves), curves, np.inf)
        compute = np.stack([_crossing(_C_GRID, curves, np.full(curves.shape[0], t)) for t in targets], axis=1)
        _refuse_unreachable(targets, compute, curves)
        return InverseResult(f"compute to reach a loss ({fit.runs.loss_unit}); the law has no N/D trade-off",
                             targets, {"C": compute}, {"C": "FLOPs"})
    basis = "" if getattr(fit, "allocation", None) is None else "; N*, D* from the law refitted to the runs near each budget's optimum"
    fit = allocation_source(fit)  # its draws and optimum below come from one posterior
    optimum = fit.optimum(_C_GRID, unique_tokens=unique_tokens, with_miss=False)
    curves = np.where(np.isfinite(optimum.L_opt), optimum.L_opt, np.inf)
    compute = np.stack([_crossing(_C_GRID, curves, np.full(curves.shape[0], t)) for t in targets], axis=1)
    _refuse_unreachable(targets, compute, curves)
    # what one run trained at the optimum would need: its noise, and beyond the runs the law's discrepancy
    noise = {k: np.asarray(v, dtype=float).reshape(-1, 1) for k, v in fit.draws().items() if k in law.noise_parameters}
    context = fit.context(N=optimum.N_opt, D=optimum.D_opt, C=np.broadcast_to(_C_GRID, optimum.N_opt.shape))
    with np.errstate(all="ignore"):
        runs_curves = np.exp(law.error_model.curve_draws(np.log(curves), noise, np.random.default_rng(seed), context))
    runs_curves = np.where(np.isfinite(runs_curves), runs_curves, np.inf)
    compute_run = np.stack([_crossing(_C_GRID, runs_curves, np.full(curves.shape[0], t)) for t in targets], axis=1)
    # N*(C) is smooth in log C: interpolate each draw's N* at its own answer
    log_n = np.log(optimum.N_opt)
    n_opt = np.full_like(compute, np.nan)
    for j in range(targets.size):
        for s in np.nonzero(np.isfinite(compute[:, j]))[0]:
            n_opt[s, j] = np.exp(np.interp(np.log(compute[s, j]), np.log(_C_GRID), log_n[s]))
    d_opt = tokens_for_compute(compute, n_opt)
    unit = fit.runs.loss_unit
    return InverseResult(
        f"compute to reach a loss ({unit}) at the compute-optimal allocation{basis}",
        targets,
        {"C": compute, "N_opt": n_opt, "D_opt": d_opt, "C_run": compute_run},
        {"C": "FLOPs (the law)", "N_opt": "parameters", "D_opt": "tokens", "C_run": "FLOPs (a run trained there)"},
    )


def _refuse_unreachable(targets: np.ndarray, compute: np.ndarray, curves: np.ndarray) -> None:
    share = np.mean(~np.isfinite(compute), axis=0)
    worst = int(np.argmax(share))
    if share[worst] > 0.5:
        floor = np.median(np.min(curves, axis=1))
        raise UnreachableLossError(
            f"a loss of {targets[worst]:g} is out of reach for {100 * share[worst]:.0f}% of the posterior draws: "
            f"the fitted law flattens out near {floor:.4g} (its median floor, at up to 1e36 FLOPs). "
            "Ask for a loss above the floor."
        )


def tokens_for_loss(fit: Fit, observed_loss: float, n_params: float, seed: int = 0,
                    unique_tokens: float | None = None) -> InverseResult:
    """Training tokens implied by an observed loss of a model with ``n_params`` parameters.

    Each posterior draw solves L(N, D) · exp(ε) = observed for D, with ε one (seeded) draw of the
    error model's deviation of a single run (:meth:`~bayescale.laws.noise.ErrorModel.curve_draws`:
    run-to-run noise, and beyond the fitted runs the law's discrepancy), so the interval carries
    the law's uncertainty and that of one observed loss. Laws with unique tokens U assume no
    repetition (U = D).

    Raises
    ------
    UnreachableLossError
        If most posterior draws never come down to ``observed_loss`` at ``n_params``, whatever
        the tokens (a loss in another unit, a wrong size, or a run that beat the law).
    """
    targets = _check_targets(observed_loss)
    if not n_params > 0:
        raise BayescaleError("--n (n_params= in Python) must be a positive number of parameters")
    law = _ungrouped(fit)
    if "D" not in law.variables and "C" not in law.variables:
        raise BayescaleError(f"law {law.name!r} does not depend on tokens or compute; it cannot imply a token count")
    draws = law.with_run_axis(fit.draws())
    variables = {"N": np.full(_D_GRID.shape, float(n_params)), "D": _D_GRID, "C": training_flops(n_params, _D_GRID),
                 "U": _D_GRID if unique_tokens is None else np.full(_D_GRID.shape, float(unique_tokens))}
    with np.errstate(all="ignore"):
        curves = np.asarray(law.loss(draws, fit.scales, **{k: variables[k] for k in law.variables}))
    curves = np.where(np.isfinite(curves), curves, np.inf)
    noise = {k: draws[k] for k in law.noise_parameters}
    context = fit.context(N=variables["N"], D=_D_GRID, C=variables["C"])
    with np.errstate(all="ignore"):  # one run's deviate per draw, along the token grid
        curves = np.exp(law.error_model.curve_draws(np.log(curves), noise, np.random.default_rng(seed), context))
    curves = np.where(np.isfinite(curves), curves, np.inf)
    tokens = np.stack([_crossing(_D_GRID, curves, np.full(curves.shape[0], t)) for t in targets], axis=1)
    share = np.mean(~np.isfinite(tokens), axis=0)
    worst = int(np.argmax(share))
    if share[worst] > 0.5:
        raise UnreachableLossError(
            f"a loss of {targets[worst]:g} at N = {n_params:.3g} is out of reach for {100 * share[worst]:.0f}% of "
            f"the posterior draws: with unlimited tokens, a model of that size is predicted to end near "
            f"{np.median(np.min(curves, axis=1)):.4g} (median, one run's scatter included). Check the loss's unit "
            "and --n, or whether this run beat the law"
        )
    unit = fit.runs.loss_unit
    return InverseResult(
        f"training tokens implied by an observed loss ({unit}) at N = {n_params:.3g}",
        targets,
        {"D": tokens, "tokens_per_param": tokens / n_params},
        {"D": "tokens", "tokens_per_param": "tokens/param"},
    )

