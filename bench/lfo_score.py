"""Score leave-future-out predictions of real ladders (from ``lfo_collect.py``): per ladder and pooled.

    .venv/bin/python bench/lfo_score.py [bench/results/lfo_runs.csv]

For each error model: held-out runs, 95% coverage, mean interval width (log loss), interval score
(Gneiting and Raftery 2007, on log loss), elpd per held-out run (normal approximation of the
predictive) and median relative error of the predicted median loss. Pooled figures weight every
run equally; "sources" is the smallest per-source coverage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT = Path(__file__).resolve().parent / "results" / "lfo_runs.csv"
Z95 = 1.959963984540054


def interval_score(y, lo, hi, alpha=0.05):
    """Width plus 2/alpha times the miss (lower is better), on the scale of y."""
    return (hi - lo) + 2 / alpha * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))


def scores(frame: pd.DataFrame) -> dict:
    y, lo, hi = frame.y.to_numpy(), frame.lo95.to_numpy(), frame.hi95.to_numpy()
    sd = np.maximum(frame.pred_sd.to_numpy(), 1e-9)
    z = (y - frame.pred_median.to_numpy()) / sd
    return {
        "runs": len(frame),
        "coverage": float(np.mean((y >= lo) & (y <= hi))),
        "width": float(np.mean(hi - lo)),
        "interval_score": float(np.mean(interval_score(y, lo, hi))),
        "elpd_per_run": float(np.mean(-0.5 * z**2 - np.log(sd) - 0.5 * np.log(2 * np.pi))),
        "median_rel_error": float(np.median(np.abs(np.exp(frame.pred_median) - np.exp(y)) / np.exp(y))),
    }


def table(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for noise, part in frame.groupby("noise", sort=False):
        pooled = scores(part)
        per = part.groupby("ladder").apply(lambda g: scores(g)["coverage"], include_groups=False)
        per_source = part.groupby("source").apply(lambda g: scores(g)["coverage"], include_groups=False)
        rows.append({"noise": noise, **pooled, "worst_ladder": per.min(), "worst_source": per_source.min()})
    return pd.DataFrame(rows).set_index("noise")


def main(path: str) -> int:
    frame = pd.read_csv(path)
    pd.set_option("display.width", 200)
    print(table(frame).to_string(float_format=lambda v: f"{v:.3g}"))
    print()
    cover = frame.assign(inside=(frame.y >= frame.lo95) & (frame.y <= frame.hi95),
                         resid=frame.y - frame.pred_median)
    per = cover.groupby(["ladder", "noise"], sort=False).agg(
        runs=("y", "size"), coverage=("inside", "mean"), resid_mean=("resid", "mean"),
        resid_rms=("resid", lambda r: float(np.sqrt(np.mean(r**2)))), pred_sd=("pred_sd", "median"),
        sigma=("sigma", "first"), d_compute=("d_compute", "max"), d_ratio=("d_ratio", "max"))
    print(per.unstack("noise").to_string(float_format=lambda v: f"{v:.3g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT)))
