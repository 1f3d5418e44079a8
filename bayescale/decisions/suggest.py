"""Which runs to do next: the candidates that shrink the N* interval most per FLOP.

The quantity is q = log N* at the target budget, one value per posterior draw. A new run at
x = (N, D) would observe y = log L(x) = mu(x) + e, with mu(x) the law's log loss (per draw) and e
the deviation the refit's likelihood assumes for a fitted run (the error model's noise: for the
default error model sigma, not the discrepancy beyond the fitted runs, since the done run is then
one of them). Treating (q, mu(x_1), …, mu(x_M)) as jointly Gaussian with the draws' covariance, a run
at x_j leaves, whatever it scores (the linear-Gaussian preposterior),

    Var(q | y_j) = Var(q) - Cov(q, mu_j)² / (Var(mu_j) + s_j²),   s_j² = Var(e_j),

and the covariance of the remaining candidates is conditioned the same way (a rank-one update),
so a greedy batch does not pay twice for the same information. Why this rather than the
importance-reweighted expected information gain: it needs no simulated outcomes and no weights
(which degenerate when one run is very informative), it is exact when the posterior is Gaussian
(log N* of a well-identified law nearly is), and it costs one covariance of the draws. Its
predictions are checked against refits in ``bench/bench_suggest.py``.

Each step picks, among the candidates the remaining budget affords and whose run would shrink the
interval by at least ``min_gain`` of today's width, the one with the largest shrink per FLOP
(6·N·D). The batch stops when none is left (``stopped``) or after ``k`` runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from bayescale.errors import BayescaleError
from bayescale.laws.flops import training_flops
from bayescale.results.fitted import allocation_source
from bayescale.results.optimum import interval

__all__ = ["Suggestion", "SuggestError", "suggest", "candidate_grid", "read_candidates"]

class SuggestError(BayescaleError, ValueError):
    """The suggestion cannot be made: a law without an N/D trade-off, bad candidates or budget."""


@dataclass(frozen=True)
class Suggestion:
    """A ranked batch of runs to do next.

    Attributes
    ----------
    runs : list of dict
        In the order chosen: ``N``, ``D``, ``compute`` (6ND, FLOPs), ``tokens_per_param``,
        ``width_after`` (expected width of the N* interval once this run and those before it are
        done, in natural log of N*) and ``shrink`` (the fraction of today's width this run removes).
    width_now : float
        Today's width of the N* interval, natural log of N* (Gaussian approximation, as ``width_after``).
    interval_now : tuple of float
        Today's N* interval (lower, upper), parameters, from the draws' quantiles.
    batch_value : float
        Fraction of today's width the whole batch is expected to remove.
    stopped : bool
        True when the batch ended because no affordable candidate shrinks the interval by at
        least ``min_gain`` of today's width.
    target_compute, budget, spent, min_gain, prob : float
    candidates : int
        Candidates considered (after dropping those the budget cannot afford).
    method : str
    laws : list of str
        The laws (fits) the draws come from, with their weights when several.
    """

    runs: list[dict]
    width_now: float
    interval_now: tuple[float, float]
    batch_value: float
    stopped: bool
    target_compute: float
    budget: float
    spent: float
    min_gain: float
    prob: float
    candidates: int
    method: str = "linear-Gaussian preposterior variance of log N*, greedy per FLOP with conditioning"
    laws: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the keys of ``bayescale suggest --json``)."""
        return {"kind": "bayescale suggestion", "schema": 1, "runs": self.runs, "batch_value": self.batch_value,
                "stopped": self.stopped, "width_now": self.width_now,
                "N_opt_now": {"lower": self.interval_now[0], "upper": self.interval_now[1]},
                "target_compute": self.target_compute, "budget": self.budget, "spent": self.spent,
                "min_gain": self.min_gain, "prob": self.prob, "candidates": self.candidates,
                "method": self.method, "laws": self.laws}

    def save(self, path: Any) -> Any:
        """Write :meth:`to_dict` as JSON, atomically (for ``bayescale report FIT.nc --with SUG.json``)."""
        from bayescale.files import write_json

        return write_json(path, self.to_dict(), "suggestion file")

    def _repr_html_(self) -> str:
        from html import escape

        from bayescale.results.html import records_html

        return records_html(self.runs, f"runs to do next for N* at {self.target_compute:.3g} FLOPs") + \
            f"<p>{escape(str(self).splitlines()[-1])}</p>"

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        pct = f"{100 * self.prob:g}%"
        lo, hi = self.interval_now
        lines = [f"Runs to do next for N* at {self.target_compute:.3g} FLOPs, within {self.budget:.3g} FLOPs "
                 f"({self.candidates} affordable candidates; {', '.join(self.laws)})",
                 f"today: N* {pct} interval [{lo:.3g}, {hi:.3g}], ×{np.exp(self.width_now):.2f} from end to end"]
        if self.runs:
            lines.append(f"  {'#':>2} {'N':>9} {'D':>9} {'D/N':>7} {'compute':>9} {'shrinks by':>10} "
                         f"{'interval after':>14}")
            for i, r in enumerate(self.runs, 1):
                lines.append(f"  {i:>2} {r['N']:>9.3g} {r['D']:>9.3g} {r['tokens_per_param']:>7.3g} "
                             f"{r['compute']:>9.3g} {100 * r['shrink']:>9.1f}% "
                             f"{'×' + format(np.exp(r['width_after']), '.2f'):>14}")
            lines.append(f"the batch: {self.spent:.3g} FLOPs, expected to narrow the interval by "
                         f"{100 * self.batch_value:.1f}%")
        if self.stopped:
            lines.append(f"stopped: no affordable run narrows the N* interval by {100 * self.min_gain:g}% of "
                         f"today's width or more" + ("; more small runs are not worth it here" if not self.runs
                                                     else ""))
        return "\n".join(lines)


def candidate_grid(runs: Any, budget: float, sizes: int = 15, ratios: int = 13) -> np.ndarray:
    """Candidate (N, D) pairs, shape ``(M, 2)``: a log grid around and beyond the runs.

    N spans the smallest model to four times the largest; tokens per parameter span 1 to 1000
    (and the runs' own range, if wider). Candidates cheaper than the runs' median compute are
    dropped (they probe the law's lower edge, where it is least trusted, rather than the way
    to the target), and so are those dearer than ``budget``.
    """
    ratio = runs.D / runs.N
    log_n = np.linspace(np.log(runs.N.min()), np.log(runs.N.max() * 4), sizes)
    log_r = np.linspace(min(0.0, np.log(ratio.min())), max(np.log(1000.0), np.log(ratio.max())), ratios)
    n, r = np.meshgrid(np.exp(log_n), np.exp(log_r), indexing="ij")
    pairs = np.column_stack([n.ravel(), (n * r).ravel()])
    cost = training_flops(pairs[:, 0], pairs[:, 1])
    return pairs[(cost <= budget) & (cost >= np.median(runs.C))]


def read_candidates(path: str) -> np.ndarray:
    """Read candidate runs from a CSV/TSV/Parquet file with columns ``N`` and ``D``.

    Raises
    ------
    SuggestError
        If the file cannot be read, lacks the columns, or has rows that are not positive,
        finite numbers (named by row).
    """
    import pandas as pd

    from bayescale.data.tables import read_frame
    from bayescale.errors import RunsError

    try:
        frame = read_frame(path, "candidates")
    except RunsError as error:
        raise SuggestError(f"candidates file: {error}") from None
    missing = [c for c in ("N", "D") if c not in frame.columns]
    if missing:
        raise SuggestError(f"candidates file {path} has no column {' or '.join(missing)}; it needs columns N and D "
                           f"(parameters and tokens), one candidate run per row; it has {list(frame.columns)}")
    values = frame[["N", "D"]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.all(np.isfinite(values) & (values > 0), axis=1)
    if bad.any():
        rows = [str(i + 2) for i in np.flatnonzero(bad)[:5]]
        raise SuggestError(f"candidates file {path}: N and D must be positive numbers; line(s) "
                           f"{', '.join(rows)}{' …' if bad.sum() > 5 else ''} are not. Fix or remove them.")
    if values.shape[0] == 0:
        raise SuggestError(f"candidates file {path} has no rows; add candidate runs (N, D)")
    return values


def _draws_for(fit: Any, target: float, candidates: np.ndarray, unique_tokens: float | None, n: int,
               rng: np.random.Generator, **levels: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` resampled draws of log N* at ``target``, the law's log loss and a new run's log loss at the candidates."""
    fit = allocation_source(fit)  # its draws and optimum below come from one posterior
    law = fit.law
    optimum = fit.optimum([target], unique_tokens=unique_tokens, with_miss=False, **levels)  # OptimumError: e.g. U not given
    q = np.log(optimum.N_opt[:, 0])
    draws = fit.draws(**levels)
    params = {k: np.asarray(draws[k], dtype=float).reshape(-1, 1) for k in law.all_parameters if k in draws}
    N, D = candidates[:, 0][None, :], candidates[:, 1][None, :]
    columns = {"N": N, "D": D, "C": training_flops(N, D)}
    if "U" in law.variables:
        columns["U"] = np.full_like(N, optimum.unique_tokens)
    mu = np.log(np.asarray(law.loss(params, fit.scales, **{k: columns[k] for k in law.variables})))
    noise = {k: params[k] for k in law.noise_parameters}
    # no context: the deviation a refit's likelihood assumes for a fitted run (once a run is done, the
    # fitted runs reach it, so the discrepancy beyond them does not apply to it)
    y = law.error_model.draw(mu, noise, np.random.default_rng(rng.integers(2**32)), None)
    ok = np.isfinite(q) & np.all(np.isfinite(mu), axis=1) & np.all(np.isfinite(y), axis=1)
    if ok.sum() < 10:
        raise SuggestError("too few posterior draws give a finite N* and finite losses at the candidates; "
                           "check the fit (bayescale summary FIT.nc) and the target compute")
    pick = rng.choice(np.flatnonzero(ok), size=n, replace=True)
    return q[pick], mu[pick], y[pick]


def suggest(
    fits: Any,
    target_compute: float,
    budget: float,
    *,
    candidates: np.ndarray | None = None,
    k: int = 5,
    min_gain: float = 0.05,
    weights: Sequence[float] | None = None,
    unique_tokens: float | None = None,
    prob: float = 0.95,
    seed: int = 0,
    **levels: str,
) -> Suggestion:
    """Rank runs (N, D) by how much they are expected to shrink the N* interval per FLOP.

    Parameters
    ----------
    fits : Fit or sequence of Fit
        One fit, or several laws' fits of the same runs (an ensemble: their draws are mixed in
        proportion to ``weights``, so a run that tells the laws apart is worth more).
    target_compute : float
        The budget (FLOPs) whose N* matters.
    budget : float
        FLOPs available for the new runs, counted as 6ND each.
    candidates : ndarray of shape ``(M, 2)``, optional
        Candidate (N, D); by default :func:`candidate_grid`.
    k : int
        At most this many runs.
    min_gain : float
        Stop when no affordable run shrinks the interval by this fraction of today's width.
    weights : sequence of float, optional
        Weights of several fits; by default their PSIS-LOO stacking weights
        (:func:`bayescale.decisions.ensemble.loo_weights`).
    unique_tokens : float, optional
        For data-constrained laws: the unique tokens available.
    prob : float
        Interval probability of the widths reported.
    seed : int
        Seeds the resampling of draws and the error model's draws.
    **levels
        The group of a law with per-group parameters.

    Raises
    ------
    SuggestError
        If a law has no N/D trade-off, the budget affords no candidate, or an argument is out of range.
    """
    fits = list(fits) if isinstance(fits, (list, tuple)) else [fits]
    if not (np.isfinite(target_compute) and target_compute > 0):
        raise SuggestError(f"the target compute must be a positive number of FLOPs, e.g. 1e24; got {target_compute!r}")
    if not (np.isfinite(budget) and budget > 0):
        raise SuggestError(f"the budget must be a positive number of FLOPs, e.g. 1e20; got {budget!r}")
    if int(k) < 1:
        raise SuggestError(f"k (the number of runs to suggest) must be at least 1; got {k!r}")
    if not 0 <= min_gain < 1:
        raise SuggestError(f"min_gain is a fraction of today's interval width in [0, 1); got {min_gain!r}")
    if not 0 < prob < 1:
        raise SuggestError(f"prob must lie strictly between 0 and 1, e.g. 0.95; got {prob!r}")
    for f in fits:
        if not {"N", "D"} <= set(f.law.variables):
            raise SuggestError(f"law {f.law.name!r} has no trade-off between model size and tokens (it uses "
                               f"{', '.join(f.law.variables)}), so it has no N* to narrow; suggest needs a law in N "
                               f"and D (e.g. chinchilla)")
    pool = candidate_grid(fits[0].runs, budget) if candidates is None else np.asarray(candidates, dtype=float)
    if pool.ndim != 2 or pool.shape[1] != 2:
        raise SuggestError("candidates must be an array of (N, D) pairs, shape (M, 2)")
    if pool.shape[0] == 0:
        raise SuggestError(f"the budget of {budget:.3g} FLOPs affords no run of the default grid, whose runs cost at "
                           f"least the median compute of your runs ({np.median(fits[0].runs.C):.3g} FLOPs); raise "
                           "--budget or give --candidates")
    cost = training_flops(pool[:, 0], pool[:, 1])
    if not np.any(cost <= budget):
        raise SuggestError(f"the budget of {budget:.3g} FLOPs affords no candidate: the cheapest costs "
                           f"{cost.min():.3g} FLOPs (6ND). Raise --budget or add cheaper candidates.")
    pool, cost = pool[cost <= budget], cost[cost <= budget]
    if len(fits) > 1:
        from bayescale.decisions.comparison import check_compatible
        from bayescale.decisions.ensemble import loo_weights

        check_compatible(fits, "a suggestion over several laws")
        if weights is None:
            weights = loo_weights(fits)
    w = np.ones(1) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(fits),) or np.any(w < 0) or w.sum() <= 0:
        raise SuggestError(f"weights must be {len(fits)} non-negative numbers, one per fit")
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(4000, w / w.sum())
    parts = [_draws_for(f, target_compute, pool, unique_tokens, c, rng, **levels)
             for f, c in zip(fits, counts) if c > 0]
    q, mu, y = (np.concatenate(p) for p in zip(*parts))
    joint = np.cov(np.column_stack([q, mu]), rowvar=False)
    noise = np.maximum(np.var(y - mu, axis=0), 1e-12)
    _, lo, hi = interval(np.exp(q), prob)
    z = NormalDist().inv_cdf((1 + prob) / 2)
    width = lambda var: 2 * z * np.sqrt(max(var, 0.0))  # noqa: E731
    width_now = width(joint[0, 0])
    chosen, left, stopped = [], float(budget), False
    for _ in range(int(k)):
        cov_q, var_mu = joint[0, 1:], np.diag(joint)[1:]
        after = joint[0, 0] - cov_q ** 2 / (var_mu + noise)
        shrink = (width(joint[0, 0]) - np.array([width(v) for v in after])) / width_now if width_now > 0 \
            else np.zeros_like(after)
        usable = (cost <= left) & (shrink >= max(min_gain, 1e-12))
        if not usable.any():
            stopped = True
            break
        j = int(np.argmax(np.where(usable, shrink / cost, -np.inf)))
        gain = joint[:, 1 + j] / (joint[1 + j, 1 + j] + noise[j])
        joint = joint - np.outer(gain, joint[1 + j, :])
        left -= cost[j]
        chosen.append({"N": float(pool[j, 0]), "D": float(pool[j, 1]), "compute": float(cost[j]),
                       "tokens_per_param": float(pool[j, 1] / pool[j, 0]),
                       "width_after": float(width(joint[0, 0])), "shrink": float(shrink[j])})
    after_all = chosen[-1]["width_after"] if chosen else width_now
    labels = [fits[0].law.name]
    if len(fits) > 1:
        from bayescale.decisions.comparison import _labels

        labels = [f"{name} ({wi / w.sum():.2f})" for name, wi in zip(_labels(fits), w)]
    return Suggestion(chosen, float(width_now), (float(lo), float(hi)),
                      float(1 - after_all / width_now) if width_now > 0 else 0.0, stopped, float(target_compute),
                      float(budget), float(budget - left), float(min_gain), float(prob), int(pool.shape[0]),
                      laws=labels)
