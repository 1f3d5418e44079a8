"""The floor under sigma integrated out instead of chosen: a study (the package ships one floor).

The shipped miss scales with sqrt(sigma² + c²), c = 0.005 chosen on the leave-one-source-out
scores it is then judged by (``choose_sigma_floor.py``; chosen nested, the choice is unstable).
Here c is not chosen: for each fold, the prior is learned at every c of a grid, and the
predictive is the mixture over c weighted by each c's marginal likelihood on the training ladders
(a uniform prior over the grid), so no score of the held-out ladders enters. Printed: 95%
coverage, width, interval score, log density per run (marginal and joint) and the worst ladder,
pooled over the held-out runs, for the mixture and for the shipped c, under the chosen protocol.

    .venv/bin/python bench/floor_averaged.py [--leave-out source|ladder]   # 4 min (source), 17 (ladder)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learn_extrapolation as le  # noqa: E402

FEATURES = ("compute", "compute_ratio_shift")
GRID = (0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03)
SHIPPED = 0.005


def mixture_scores(test: pd.DataFrame, priors: dict[float, dict], weights: dict[float, float]) -> list[dict]:
    """Per ladder of ``test``: coverage, width, interval score, lpd and joint lpd under the mixture
    over floors c (weights) of each c's learned prior."""
    r = test.y.to_numpy() - test.pred_median.to_numpy()
    s = test.pred_sd.to_numpy()
    sds, mix = [], []
    for c, prior in priors.items():
        part = le.with_floor(test, c)
        sds.append(le.mixture_sd(s, le.marginal_distance(part, prior["weights"]), prior))
        mix.append(weights[c] * le.Z_WEIGHT)
    out = le.mixture_predictive(r, np.concatenate(sds, axis=1), np.concatenate(mix))
    out["joint"] = {}
    for ladder, idx in test.groupby("ladder").groups.items():
        terms = [np.log(weights[c]) + le.ladder_loglik(le.with_floor(test.loc[idx], c), p["weights"], p["mu"], p["omega"])
                 for c, p in priors.items() if weights[c] > 0]
        out["joint"][ladder] = float(np.logaddexp.reduce(terms))
    return le.ladder_rows(test, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leave-out", choices=("source", "ladder"), default="source")
    args = parser.parse_args()
    le.FORM, le.RELATIVE = "coherent", True
    frame = le.held_out_rows("normal")
    unit = args.leave_out
    mixed, shipped, chosen = [], [], []
    for left in sorted(frame[unit].unique()):
        train, test = frame[frame[unit] != left], frame[frame[unit] == left]
        priors = {c: le.learn(le.with_floor(train, c), FEATURES) for c in GRID}
        ll = np.array([priors[c]["log_likelihood"] for c in GRID])
        w = np.exp(ll - ll.max())
        weights = dict(zip(GRID, w / w.sum()))
        mixed += mixture_scores(test, priors, weights)
        shipped += le.ladder_scores(le.with_floor(test, SHIPPED), priors[SHIPPED])
        chosen.append({"left_out": left, **{f"{c:g}": round(weights[c], 3) for c in GRID}})
        print(f"without {left}: weights " + ", ".join(f"{c:g} {weights[c]:.2f}" for c in GRID), flush=True)
    for label, rows in (("floor integrated out", mixed), (f"floor {SHIPPED:g} (shipped)", shipped)):
        table = pd.DataFrame(rows)
        p = le.pooled_scores(table)
        worst = table.ladder.iloc[int(np.argmin(table.coverage.to_numpy()))]
        print(f"{label:<22} coverage {p['coverage']:.3f}  width {p['width']:.3f}  interval score "
              f"{p['interval_score']:.3f}  lpd {p['lpd']:.3f}  joint {p['joint_lpd']:.3f}  worst {p['worst_ladder']:.2f} "
              f"({worst}); below 0.75: {int((table.coverage < 0.75).sum())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
