"""How far below 95% one ladder's coverage falls by chance when its misses are coherent.

The shipped discrepancy makes a ladder's held-out runs miss together (a level and a tilt per
ladder, ``learn_extrapolation.py --form coherent``). Then a ladder's coverage is not 95% give or
take binomial noise: in a ladder whose miss is drawn in the prior's tail, most runs lie outside at
once, while the pooled coverage over many ladders stays at 95%. This script asks how often a
ladder's coverage falls below a threshold (0.75, the issue's "no table below") when the ladder's
residuals really come from the model the prior describes, with the ladder's own held-out design
(its runs' predictive spreads, distances and sigma):

    r = s ε + k sqrt(sigma² + floor²) Σ_f a_f w_f d_f,   ε, a ~ Normal(0, 1),   log k ~ Normal(mu, omega)

and compares the count of ladders below the threshold with the count observed on the real
ladders. Each ladder is scored with the prior learned without it (``--leave-out ladder``) or
without its source (``source``), as ``learn_extrapolation.py`` scores it, and simulated from that
same prior: under the model the printed interval is calibrated, so what is left is the spread of
one ladder's coverage.

    .venv/bin/python bench/ladder_coverage_spread.py [--leave-out ladder|source] [--simulations 400]

About three minutes on 2 cores (21 priors learned, then 400 simulated residual sets per ladder).
It also prints the pooled coverage of central intervals at other levels and the histogram of the
held-out runs' PIT values under the same priors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learn_extrapolation as learned  # noqa: E402

FEATURES = ("compute", "compute_ratio_shift")


def simulated_coverage(frame: pd.DataFrame, prior: dict, simulations: int, rng: np.random.Generator) -> np.ndarray:
    """Coverage of the ladder's marginal 95% intervals over ``simulations`` residual sets drawn
    from the coherent model with ``prior``."""
    w = prior["weights"]
    s = frame.pred_sd.to_numpy()
    lo, hi = learned.mixture_quantiles(learned.mixture_sd(s, learned.marginal_distance(frame, w), prior))
    U = np.stack([w[f] * frame[f"d_{f}"].to_numpy() * frame.sigma.to_numpy() for f in w], axis=1)
    k = np.exp(rng.normal(prior["mu"], prior["omega"], simulations))
    a = rng.standard_normal((simulations, U.shape[1]))
    r = s[None, :] * rng.standard_normal((simulations, len(s))) + k[:, None] * (a @ U.T)
    return ((r >= lo) & (r <= hi)).mean(axis=1)


def pit(frame: pd.DataFrame, prior: dict) -> np.ndarray:
    """Each held-out run's probability integral transform under the predictive mixture (the
    quantile at which its loss falls): uniform if the intervals are calibrated at every level."""
    from scipy import stats

    r = frame.y.to_numpy() - frame.pred_median.to_numpy()
    sd = learned.mixture_sd(frame.pred_sd.to_numpy(), learned.marginal_distance(frame, prior["weights"]), prior)
    return (stats.norm.cdf(r[:, None] / sd) * learned.Z_WEIGHT).sum(axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leave-out", choices=("ladder", "source"), default="ladder")
    parser.add_argument("--simulations", type=int, default=400)
    parser.add_argument("--threshold", type=float, default=0.75)
    parser.add_argument("--sigma-floor", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    learned.FORM = "coherent"
    frame = learned.with_floor(learned.held_out_rows("normal"), args.sigma_floor)
    rng = np.random.default_rng(args.seed)
    rows, below, full, pits = [], [], [], []
    for left_out in sorted(frame[args.leave_out].unique()):
        train = frame[frame[args.leave_out] != left_out]
        prior = learned.learn(train, FEATURES)
        for ladder, test in frame[frame[args.leave_out] == left_out].groupby("ladder"):
            test = test.reset_index(drop=True)
            observed = float(learned.predictive(test, prior)["inside"].mean())
            pits.append(pit(test, prior))
            simulated = simulated_coverage(test, prior, args.simulations, rng)
            below.append(simulated < args.threshold)
            full.append(simulated == 1.0)
            rows.append({"ladder": ladder, "runs": len(test), "observed": observed,
                         "simulated median": float(np.median(simulated)),
                         "simulated 5%": float(np.quantile(simulated, 0.05)),
                         f"P(< {args.threshold:g})": float(np.mean(simulated < args.threshold)),
                         "P(≤ observed)": float(np.mean(simulated <= observed + 1e-12))})
    table = pd.DataFrame(rows).sort_values("observed")
    pd.set_option("display.width", 200)
    print(f"each ladder scored and simulated with the prior learned without its {args.leave_out} "
          f"(sigma floor {args.sigma_floor:g}; {args.simulations} simulations a ladder)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    counts = np.sum(below, axis=0)  # ladders below the threshold in each simulated world
    observed_count = int((table.observed < args.threshold).sum())
    print(f"\nladders below {args.threshold:g}: observed {observed_count} of {len(table)}; "
          f"simulated mean {counts.mean():.2f}, P(none) {np.mean(counts == 0):.2f}, "
          f"P(at least {max(observed_count, 1)}) {np.mean(counts >= max(observed_count, 1)):.2f}, "
          f"90% range {np.quantile(counts, 0.05):.0f}–{np.quantile(counts, 0.95):.0f}")
    every = np.sum(full, axis=0)  # ladders holding every held-out run, per simulated world
    print(f"ladders holding every held-out run: observed {int((table.observed == 1.0).sum())} of {len(table)}; "
          f"simulated mean {every.mean():.2f}, 90% range {np.quantile(every, 0.05):.0f}–{np.quantile(every, 0.95):.0f}, "
          f"P(at least the observed) {np.mean(every >= (table.observed == 1.0).sum()):.3f}")
    print(f"pooled coverage: observed {np.average(table.observed, weights=table.runs):.3f}")
    values = np.concatenate(pits)
    levels = (0.5, 0.8, 0.9, 0.95, 0.99)
    held = [np.mean((values > (1 - q) / 2) & (values < (1 + q) / 2)) for q in levels]
    print("pooled coverage of central intervals: " + ", ".join(f"{q:g} -> {h:.3f}" for q, h in zip(levels, held)))
    print(f"PIT of the held-out runs in tenths (expected {len(values) / 10:.0f} each): "
          f"{np.histogram(values, bins=10, range=(0, 1))[0].tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
