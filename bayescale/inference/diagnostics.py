"""Rank-normalized split R-hat and bulk ESS (Vehtari et al. 2021, arXiv:1903.08008) in NumPy.

These are the estimators of arviz-stats (``rhat(method="rank")``, ``ess(method="bulk")``),
written out here because importing arviz-stats pulls in ``scipy.stats`` and costs about 0.9 s,
a fifth of a whole small fit. ``tests/test_diagnostics.py`` checks that both give the same numbers.
The normal scores of the ranks come from the standard library's normal quantile function (Wichura's
AS 241, within 2e-15 of SciPy's ``ndtri`` here), as ``scipy.special`` alone takes 50 ms to import.
"""

from __future__ import annotations

import functools
import statistics

import numpy as np

__all__ = ["rhat", "ess_bulk"]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) of a flat array, ties sharing the mean of their ranks."""
    sorter = np.argsort(values, kind="mergesort")
    inverse = np.empty(sorter.size, dtype=np.intp)
    inverse[sorter] = np.arange(sorter.size)
    ordered = values[sorter]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    dense = first.cumsum()[inverse]
    bounds = np.r_[np.nonzero(first)[0], first.size]
    return 0.5 * (bounds[dense] + bounds[dense - 1] + 1)


@functools.lru_cache(maxsize=8)
def _normal_scores(size: int) -> np.ndarray:
    """Normal quantiles of ``(r - 3/8) / (size + 1/4)`` for every rank ``r`` a sample of ``size`` values
    can have (1, 1.5, 2, ..., ``size``: average ranks of ties end in .5), the ``2r - 2``-th element."""
    quantile = statistics.NormalDist().inv_cdf
    fractions = (np.arange(2, 2 * size + 1) / 2 - 0.375) / (size + 0.25)
    scores = np.array([quantile(f) for f in fractions.tolist()])
    scores.flags.writeable = False
    return scores


def _z_scale(draws: np.ndarray) -> np.ndarray:
    ranks = _ranks(draws.ravel())
    return _normal_scores(ranks.size)[(2 * ranks).astype(np.intp) - 2].reshape(draws.shape)


def _split(draws: np.ndarray) -> np.ndarray:
    half = draws.shape[1] // 2
    return np.vstack((draws[:, :half], draws[:, -half:]))


def _rhat_basic(draws: np.ndarray) -> float:
    n = draws.shape[1]
    between = n * np.var(draws.mean(axis=1), ddof=1)
    within = np.mean(np.var(draws, axis=1, ddof=1))
    return float(np.sqrt((between / within + n - 1) / n))


def rhat(draws: np.ndarray) -> float:
    """Rank-normalized split R-hat of a ``(chain, draw)`` array: the larger of bulk and tail."""
    split = _split(np.asarray(draws, dtype=float))
    folded = np.abs(split - np.median(split))
    return max(_rhat_basic(_z_scale(split)), _rhat_basic(_z_scale(folded)))


def _autocov(draws: np.ndarray) -> np.ndarray:
    n = draws.shape[1]
    centered = draws - draws.mean(axis=1, keepdims=True)
    size = 2 ** int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(centered, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=1)[:, :n] / n


def _ess(draws: np.ndarray) -> float:
    n_chain, n_draw = draws.shape
    if np.ptp(draws) < np.finfo(float).resolution:
        return float(draws.size)
    acov = _autocov(draws)
    mean_var = np.mean(acov[:, 0]) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(draws.mean(axis=1), ddof=1)
    rho = np.zeros(n_draw)
    rho[0] = even = 1.0
    rho[1] = odd = 1.0 - (mean_var - np.mean(acov[:, 1])) / var_plus
    t = 1
    while t < n_draw - 3 and even + odd > 0.0:  # Geyer's initial positive sequence
        even = 1.0 - (mean_var - np.mean(acov[:, t + 1])) / var_plus
        odd = 1.0 - (mean_var - np.mean(acov[:, t + 2])) / var_plus
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho[max_t + 1] = even
    t = 1
    while t <= max_t - 2:  # Geyer's initial monotone sequence
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = n_chain * n_draw
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])
    return float(total / max(tau, 1.0 / np.log10(total)))


def ess_bulk(draws: np.ndarray) -> float:
    """Bulk effective sample size of a ``(chain, draw)`` array."""
    return _ess(_z_scale(_split(np.asarray(draws, dtype=float))))
