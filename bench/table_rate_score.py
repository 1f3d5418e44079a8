"""Does a table's own leave-future-out tell how fast the law will miss beyond it? (A study; the
package does not use it, for the reasons this script prints.)

Each ladder has two sets of held-out runs: its top quarter of compute scored by a fit of the rest
(``results/lfo_runs.csv``, independent noise) and, inside those fitted runs, their own top quarter
scored by a fit of the rest (``results/lfo_inner_runs.csv``, ``lfo_collect.py --inner``): what a
user's fit could compute about itself. The rates k_in and k_out of the discrepancy term
(``learn_extrapolation.py``: sd k · sigma · decades of compute) get the shipped prior,
log k ~ Normal(mu, omega), each, and correlation rho:

    log k_out | log k_in ~ Normal(mu + rho (log k_in − mu), omega · sqrt(1 − rho²))

rho = 0 ignores the table's own runs (the package today), rho = 1 takes k_out = k_in. The script
prints (1) the marginal likelihood of the outer runs given the inner ones, over all ladders, for a
range of rho; (2) leave-one-source-out scores of the held-out runs: the prior and rho learned
without the scored source, with rho fixed at 1 for comparison.

    .venv/bin/python bench/table_rate_score.py      # seconds; no fits
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learn_extrapolation as le  # noqa: E402

INNER = le.RUNS.with_name("lfo_inner_runs.csv")
WEIGHTS = {"compute": 1.0}
RHOS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


def _residuals(frame: pd.DataFrame):
    return frame.y.to_numpy() - frame.pred_median.to_numpy(), frame.pred_sd.to_numpy(), le.distance(frame, WEIGHTS)


def _loglik(frame: pd.DataFrame) -> np.ndarray:
    """log Π_i Normal(r_i; 0, s_i² + (k g_i)²) on the grid of log k."""
    return le.grid_loglik(*_residuals(frame))


def _outer_rate(inner_loglik: np.ndarray, mu: float, omega: float, rho: float) -> np.ndarray:
    """Probabilities of log k_out on the grid, given the inner runs."""
    grid = le.LOG_K
    p_in = inner_loglik + stats.norm.logpdf(grid, mu, omega)
    p_in = np.exp(p_in - p_in.max())
    p_in /= p_in.sum()
    if rho >= 0.999:
        return p_in
    kernel = stats.norm.pdf(grid[None, :], mu + rho * (grid[:, None] - mu), omega * np.sqrt(1 - rho ** 2))
    p = p_in @ (kernel / kernel.sum(axis=1, keepdims=True))
    return p / p.sum()


def _evidence(names, outer_ll, inner_ll, mu, omega, rho) -> float:
    total = 0.0
    for name in names:
        terms = outer_ll[name] + np.log(_outer_rate(inner_ll[name], mu, omega, rho) + 1e-300)
        total += terms.max() + np.log(np.sum(np.exp(terms - terms.max())))
    return total


def main() -> int:
    if not INNER.exists():
        print(f"no {INNER.name}: run bench/lfo_collect.py --inner first")
        return 1
    le.RELATIVE = True
    outer = le.held_out_rows("normal")
    inner = pd.read_csv(INNER)
    inner = inner[inner.noise == "normal"]
    names = [n for n in outer.ladder.unique() if (inner.ladder == n).any()]
    outer_ll = {n: _loglik(outer[outer.ladder == n]) for n in names}
    inner_ll = {n: _loglik(inner[inner.ladder == n]) for n in names}
    prior = le.learn(outer[outer.ladder.isin(names)], tuple(WEIGHTS))
    print(f"{len(names)} ladders; prior from every ladder: log k ~ Normal({prior['mu']:.2f}, {prior['omega']:.2f})")
    print("\n| rho | log marginal likelihood of the outer runs given the inner ones |\n|---|---|")
    for rho in RHOS:
        print(f"| {rho} | {_evidence(names, outer_ll, inner_ll, prior['mu'], prior['omega'], rho):.1f} |")
    rows = []
    for source in sorted(outer.source.unique()):
        train = [n for n in names if outer.loc[outer.ladder == n, "source"].iloc[0] != source]
        p = le.learn(outer[outer.ladder.isin(train)], tuple(WEIGHTS))
        fitted = max(RHOS, key=lambda rho: _evidence(train, outer_ll, inner_ll, p["mu"], p["omega"], rho))
        for name in [n for n in names if n not in train]:
            r, s, g = _residuals(outer[outer.ladder == name])
            for label, rho in (("shared prior (rho = 0)", 0.0), ("rho learned without the source", fitted),
                               ("rho = 1", 1.0)):
                rng = np.random.default_rng(0)
                k = np.exp(rng.choice(le.LOG_K, 4000, p=_outer_rate(inner_ll[name], p["mu"], p["omega"], rho)))[:, None]
                draws = s * rng.standard_normal((4000, r.size)) + k * g * rng.standard_normal((4000, r.size))
                lo, hi = np.quantile(draws, [0.025, 0.975], axis=0)
                rows.append({"source": source, "ladder": name, "runs": r.size, "model": label, "rho": rho,
                             "coverage": np.mean((r >= lo) & (r <= hi)), "width": np.mean(hi - lo),
                             "score": np.mean((hi - lo) + 40 * (np.maximum(lo - r, 0) + np.maximum(r - hi, 0)))})
    table = pd.DataFrame(rows)
    print("\nleave-one-source-out, 95% coverage per ladder:")
    print(table.pivot_table(index=["source", "ladder", "runs"], columns="model", values="coverage")
          .to_string(float_format=lambda v: f"{v:.2f}"))
    print("\nrho learned without each source:", table[table.model.str.startswith("rho learned")]
          .groupby("source").rho.first().to_dict())
    print("\n| rate | 95% coverage | mean width | interval score | worst ladder |\n|---|---|---|---|---|")
    for model, part in table.groupby("model", sort=False):
        print(f"| {model} | {np.average(part.coverage, weights=part.runs):.3f} | "
              f"{np.average(part.width, weights=part.runs):.3f} | {np.average(part.score, weights=part.runs):.3f} | "
              f"{part.coverage.min():.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
