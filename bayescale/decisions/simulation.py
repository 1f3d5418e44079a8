"""Simulate run tables from a known law: the example data and the recovery tests use this."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bayescale.laws.flops import tokens_for_compute
from bayescale.laws.law import Law, Scales

__all__ = ["simulate_isoflop"]


def simulate_isoflop(
    law: Law,
    params: Mapping[str, float],
    budgets: Sequence[float],
    sizes_per_budget: int = 9,
    spread: float = 10.0,
    noise: float = 0.01,
    seed: int = 0,
) -> pd.DataFrame:
    """Draw an isoFLOP-style sweep from a law with log-normal noise.

    For each budget C, ``sizes_per_budget`` model sizes are spaced evenly in log N over
    ``[N*/spread, N*·spread]`` around the law's compute-optimal size N*, with D = C/(6N).

    Parameters
    ----------
    law : Law
        A law with variables N and D (and optionally C).
    params : mapping
        Parameter values in physical units (N in parameters, D in tokens): the law is
        evaluated with every reference scale equal to 1.
    budgets : sequence of float
        Compute budgets in FLOPs.
    sizes_per_budget : int
        Runs per budget.
    spread : float
        Factor above and below N* that the sizes cover.
    noise : float
        Standard deviation of the Normal noise on log loss.
    seed : int
        Seed of the noise.

    Returns
    -------
    pandas.DataFrame
        Columns ``N, D, C, loss``.
    """
    from bayescale.results.optimum import compute_optimum

    budgets = np.asarray(budgets, dtype=float)
    draws = {k: np.array([float(v)]) for k, v in params.items()}
    n_opt = compute_optimum(law, draws, Scales(), budgets, method="numeric").N_opt[0]
    offsets = np.linspace(-np.log(spread), np.log(spread), sizes_per_budget)
    n = np.exp(np.log(n_opt)[:, None] + offsets[None, :]).ravel()
    c = np.repeat(budgets, sizes_per_budget)
    d = tokens_for_compute(c, n)
    mean = law.loss(dict(params), Scales(), N=n, D=d, C=c)
    rng = np.random.default_rng(seed)
    loss = mean * np.exp(noise * rng.standard_normal(n.size))
    frame = pd.DataFrame({"N": n, "D": d, "C": c, "loss": loss})
    return frame
