"""Does integrating over the extrapolation prior's (mu, omega), instead of plugging in their
maximum-likelihood values, change the leave-out scores? (A study; not what the package ships.)

The shipped prior of the law's rate of failure, log k ~ Normal(mu, omega), takes (mu, omega) at
their maximum marginal likelihood over about 20 ladders; a plug-in estimate of a hierarchical
scale from that few groups runs low, and leaving one ladder out that misses fast (Porian 11) takes
omega from 0.27 to 0.14. Here (mu, omega) get a posterior on a grid (flat in mu, uniform in omega
up to 3, the learner's bound), the components' weights stay at their maximum-likelihood values,
and a held-out ladder's log k is drawn from the posterior predictive: a mixture of Normals.

    .venv/bin/python bench/hyper_integrated.py [--leave-out source|ladder]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learn_extrapolation as le  # noqa: E402

MU = np.linspace(-2.0, 1.5, 71)
OMEGA = np.linspace(0.02, 1.6, 80)  # the likelihood is negligible beyond (checked: the posterior's mass there)
FLOOR = 0.005


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    peak = x.max(axis=axis, keepdims=True)
    return np.squeeze(peak, axis) + np.log(np.exp(x - peak).sum(axis=axis))


def log_k_predictive(train: pd.DataFrame, w: dict) -> np.ndarray:
    """The posterior predictive density of a new ladder's log k on ``le.LOG_K`` (normalised on the grid)."""
    mu, om = np.meshgrid(MU, OMEGA, indexing="ij")
    mu, om = mu.ravel(), om.ravel()
    density_k = stats.norm.pdf(le.LOG_K[None, :], mu[:, None], om[:, None])  # (grid, log k)
    total = np.zeros(mu.size)
    for _, ladder in train.groupby("ladder"):
        terms = le.ladder_terms(ladder, w)
        peak = terms.max()
        total += np.log(density_k @ np.exp(terms - peak) + 1e-300) + peak
    post = np.exp(total - total.max())
    post /= post.sum()
    edge = post.reshape(len(MU), len(OMEGA))
    print(f"  posterior mass at the grid's edges: mu {edge[[0, -1]].sum():.1e}, omega top {edge[:, -1].sum():.1e}; "
          f"omega mean {np.sum(post * om):.3f}", file=sys.stderr)
    keep = post > 1e-12 * post.max()
    density = (post[keep, None] * stats.norm.pdf(le.LOG_K[None, :], mu[keep, None], om[keep, None])).sum(axis=0)
    return density / density.sum()


def scores(test: pd.DataFrame, w: dict, weights: np.ndarray) -> list[dict]:
    """As ``le.ladder_scores``, with log k drawn from ``weights`` on ``le.LOG_K``."""
    nodes = weights > 1e-14
    r = test.y.to_numpy() - test.pred_median.to_numpy()
    s = test.pred_sd.to_numpy()
    g = le.marginal_distance(test, w)
    sd = np.sqrt(s[:, None] ** 2 + (np.exp(le.LOG_K[nodes])[None, :] * g[:, None]) ** 2)
    p = weights[nodes] / weights[nodes].sum()
    lo, hi = le.mixture_quantiles(sd, weights=p)
    lpd = np.log((stats.norm.pdf(r[:, None] / sd) / sd * p).sum(axis=1))
    inside = (r >= lo) & (r <= hi)
    score = (hi - lo) + 40 * (np.maximum(lo - r, 0) + np.maximum(r - hi, 0))
    rows = []
    for ladder, idx in test.groupby("ladder").groups.items():
        pos = test.index.get_indexer(idx)
        terms = le.ladder_terms(test.loc[idx], w)
        joint = _logsumexp(terms[nodes] + np.log(p), axis=0)
        rows.append({"ladder": ladder, "runs": len(pos), "coverage": inside[pos].mean(), "width": (hi - lo)[pos].mean(),
                     "interval_score": score[pos].mean(), "lpd": lpd[pos].mean(), "joint_lpd": joint / len(pos)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leave-out", choices=("source", "ladder"), default="source")
    args = parser.parse_args()
    le.RELATIVE = True
    frame = le.with_floor(le.held_out_rows("normal"), FLOOR)
    unit = args.leave_out
    plug, hyper = [], []
    for name in frame[unit].unique():
        train, test = frame[frame[unit] != name], frame[frame[unit] == name].copy()
        prior = le.learn(train, ("compute", "compute_ratio_shift"))
        plug += le.ladder_scores(test, prior)
        hyper += scores(test, prior["weights"], log_k_predictive(train, prior["weights"]))
        print(f"{name}: plug-in omega {prior['omega']:.3f}, coverage {plug[-1]['coverage']:.3f}; integrated "
              f"{hyper[-1]['coverage']:.3f}", file=sys.stderr, flush=True)
    for label, rows in (("plug-in (mu, omega) (shipped)", plug), ("(mu, omega) integrated", hyper)):
        table = pd.DataFrame(rows).set_index("ladder")
        print(f"\n{label}, leave one {unit} out")
        print(le.pooled_scores(table).to_string(float_format=lambda v: f"{v:.3f}"))
        print("ladders below 0.75:", ", ".join(f"{k} {v:.2f}" for k, v in table.coverage.items() if v < 0.75) or "none")
        print("per ladder coverage:", ", ".join(f"{k} {v:.2f}" for k, v in table.coverage.sort_values().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
