"""Allocations beyond the compute-optimal one, per posterior draw.

- :func:`inference_optimum`: the (N, D) that reaches a target loss with the fewest lifetime FLOPs,
  training 6·N·D plus inference 2·N·T for T tokens served (Sardana and Frankle 2023,
  arXiv:2401.00448). With T = 0 it is the compute-optimal allocation at that loss.
- :func:`capped_optimum`: the best allocation of a budget when the training tokens may not
  exceed a cap (the data run out): along an isoFLOP curve the loss is unimodal in log N, so the
  capped optimum is either the free one or D = cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bayescale.laws.flops import FLOPS_PER_PARAM_TOKEN, tokens_for_compute
from bayescale.laws.law import Law, Scales

__all__ = ["InferenceOptimum", "inference_optimum", "capped_optimum", "INFERENCE_FLOPS_PER_PARAM_TOKEN"]

#: FLOPs per parameter per token served (a forward pass).
INFERENCE_FLOPS_PER_PARAM_TOKEN = 2.0
_LOG_D = (np.log(1e3), np.log(1e18))


@dataclass(frozen=True)
class InferenceOptimum:
    """Per draw: N, D, training and inference FLOPs of the cheapest model that reaches the loss."""

    N: np.ndarray
    D: np.ndarray
    compute_training: np.ndarray
    compute_inference: np.ndarray

    @property
    def compute_total(self) -> np.ndarray:
        return self.compute_training + self.compute_inference


def _tokens_for_loss(law: Law, params: Mapping[str, np.ndarray], scales: Scales, n: np.ndarray,
                     target: float, steps: int = 60) -> np.ndarray:
    """D with L(N, D) = target for each draw (rows) and N (columns), by bisection in log D; NaN if never."""
    lo = np.full(n.shape, _LOG_D[0])
    hi = np.full(n.shape, _LOG_D[1])

    def loss(log_d):
        with np.errstate(all="ignore"):
            value = law.loss(params, scales, N=n, D=np.exp(log_d), C=FLOPS_PER_PARAM_TOKEN * n * np.exp(log_d))
        return np.where(np.isfinite(value), value, np.inf)

    reachable = loss(hi) <= target
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        above = loss(mid) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.where(reachable, np.exp(hi), np.nan)


def inference_optimum(law: Law, draws: Mapping[str, np.ndarray], scales: Scales, target_loss: float,
                      inference_tokens: float, grid: int = 161) -> InferenceOptimum:
    """Cheapest lifetime allocation reaching ``target_loss``, per draw (laws in N and D, without U).

    N is searched on a log grid over eight decades around the size where training and inference
    FLOPs balance, D(N) solves L(N, D) = target by bisection, and the grid point with the fewest
    lifetime FLOPs is refined by a parabola through its neighbours in log N.
    """
    params = {k: np.asarray(draws[k], dtype=float).reshape(-1, 1) for k in law.parameters}
    samples = next(iter(params.values())).shape[0]
    log_n = np.linspace(np.log(1e5), np.log(1e14), grid)
    n = np.broadcast_to(np.exp(log_n), (samples, grid))
    d = _tokens_for_loss(law, params, scales, n, target_loss)
    total = FLOPS_PER_PARAM_TOKEN * n * d + INFERENCE_FLOPS_PER_PARAM_TOKEN * n * inference_tokens
    total = np.where(np.isfinite(total), total, np.inf)
    best = np.clip(np.argmin(total, axis=1), 1, grid - 2)
    rows = np.arange(samples)
    y0, y1, y2 = (np.log(total[rows, best + k]) for k in (-1, 0, 1))
    curvature = y0 - 2 * y1 + y2
    with np.errstate(all="ignore"):
        shift = np.where(np.isfinite(curvature) & (curvature > 0), 0.5 * (y0 - y2) / curvature, 0.0)
    step = log_n[1] - log_n[0]
    n_best = np.exp(log_n[best] + np.clip(shift, -1, 1) * step)
    d_best = _tokens_for_loss(law, params, scales, n_best[:, None], target_loss)[:, 0]
    unreachable = ~np.isfinite(total[rows, best])
    n_best, d_best = np.where(unreachable, np.nan, n_best), np.where(unreachable, np.nan, d_best)
    return InferenceOptimum(n_best, d_best, FLOPS_PER_PARAM_TOKEN * n_best * d_best,
                            INFERENCE_FLOPS_PER_PARAM_TOKEN * n_best * inference_tokens)


def capped_optimum(law: Law, draws: Mapping[str, np.ndarray], scales: Scales, budget: float, n_free: np.ndarray,
                   max_tokens: float) -> dict[str, np.ndarray]:
    """The best allocation of ``budget`` with D ≤ ``max_tokens``, given each draw's free optimum ``n_free``.

    Returns ``N``, ``D``, ``L`` and ``binds`` (whether the cap moved the draw's optimum).
    """
    params = {k: np.asarray(draws[k], dtype=float) for k in law.parameters}
    d_free = tokens_for_compute(budget, n_free)
    binds = d_free > max_tokens
    d = np.where(binds, max_tokens, d_free)
    n = np.where(binds, budget / (FLOPS_PER_PARAM_TOKEN * max_tokens), n_free)
    loss = np.asarray(law.loss(params, scales, N=n, D=d, C=np.full(n.shape, budget)))
    return {"N": n, "D": d, "L": loss, "binds": binds}
