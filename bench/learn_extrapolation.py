"""Learn how fast laws miss when they extrapolate, from leave-future-out on many real ladders.

Reads ``bench/results/lfo_runs.csv`` (``lfo_collect.py``; the rows of one error model, by default
``grouped``) and fits, for each held-out run i of ladder l,

    r_i = y_i - median_i ~ Normal(0, s_i² + (k_l g_i)²),   log k_l ~ Normal(mu, omega)

where s_i is the predictive spread of the fitted model, g_i = d_compute + w·d_ratio (decades beyond
the fitted runs) and k_l the ladder's own rate of failure. k_l is integrated out by Gauss–Hermite
quadrature; (mu, omega, w) maximise the summed marginal likelihood of the ladders, each ladder
weighing the same.

Every figure is leave-one-source-out: the prior scored on a source's ladders was learned from the
other sources only. The prior learned from all sources is written to
``bayescale/laws/extrapolation_prior.json`` with ``--write``.

    .venv/bin/python bench/learn_extrapolation.py [--noise grouped] [--write]
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "bench" / "results" / "lfo_runs.csv"
PRIOR = ROOT / "bayescale" / "laws" / "extrapolation_prior.json"
NODES, WEIGHTS = np.polynomial.hermite.hermgauss(24)


def distance(frame: pd.DataFrame, w: float) -> np.ndarray:
    return frame.d_compute.to_numpy() + w * frame.d_ratio.to_numpy()


def ladder_loglik(r, s, g, mu, omega):
    """log of ∫ Π_i Normal(r_i; 0, s_i² + k² g_i²) LogNormal(k; mu, omega) dk."""
    log_k = mu + np.sqrt(2.0) * omega * NODES[:, None]
    var = s[None, :] ** 2 + np.exp(2 * log_k) * g[None, :] ** 2
    terms = np.sum(-0.5 * r[None, :] ** 2 / var - 0.5 * np.log(2 * np.pi * var), axis=1)
    peak = terms.max()
    return peak + np.log(np.sum(WEIGHTS * np.exp(terms - peak)) / np.sqrt(np.pi))


def learn(frame: pd.DataFrame) -> dict:
    groups = [(g.y.to_numpy() - g.pred_median.to_numpy(), g.pred_sd.to_numpy(), g) for _, g in frame.groupby("ladder")]

    def loss(theta):
        mu, log_omega, log_w = theta
        w = np.exp(log_w)
        return -sum(ladder_loglik(r, s, distance(g, w), mu, np.exp(log_omega)) for r, s, g in groups)

    best = optimize.minimize(loss, x0=[np.log(0.02), np.log(0.7), 0.0], method="Nelder-Mead",
                             options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 4000})
    mu, log_omega, log_w = best.x
    return {"mu": float(mu), "omega": float(np.exp(log_omega)), "w_ratio": float(np.exp(log_w)),
            "ladders": int(len(groups)), "runs": int(len(frame))}


def predictive(frame: pd.DataFrame, prior: dict | None, draws: int = 4000, seed: int = 0) -> dict:
    """95% interval of each run under the fitted model's predictive plus the learned discrepancy."""
    r = frame.y.to_numpy() - frame.pred_median.to_numpy()
    s = frame.pred_sd.to_numpy()
    if prior is None:
        lo, hi = frame.lo95.to_numpy() - frame.pred_median.to_numpy(), frame.hi95.to_numpy() - frame.pred_median.to_numpy()
        sd = s
    else:
        rng = np.random.default_rng(seed)
        k = np.exp(prior["mu"] + prior["omega"] * rng.standard_normal(draws))
        g = distance(frame, prior["w_ratio"])
        sample = s[None, :] * rng.standard_normal((draws, len(r))) + k[:, None] * g[None, :] * rng.standard_normal((draws, len(r)))
        lo, hi = np.quantile(sample, [0.025, 0.975], axis=0)
        sd = sample.std(axis=0)
    inside = (r >= lo) & (r <= hi)
    score = (hi - lo) + 40 * (np.maximum(lo - r, 0) + np.maximum(r - hi, 0))
    lpd = stats.norm.logpdf(r, 0, sd)
    return {"inside": inside, "width": hi - lo, "score": score, "lpd": lpd}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", default="grouped")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    frame = pd.read_csv(RUNS)
    frame = frame[frame.noise == args.noise].reset_index(drop=True)
    rows = []
    for source in sorted(frame.source.unique()):
        train, test = frame[frame.source != source], frame[frame.source == source]
        prior = learn(train)
        for label, p in (("fitted model", None), ("+ discrepancy (LOSO)", prior)):
            out = predictive(test, p)
            for ladder, idx in test.groupby("ladder").groups.items():
                pos = test.index.get_indexer(idx)
                rows.append({"source": source, "ladder": ladder, "model": label, "runs": len(pos),
                             "coverage": out["inside"][pos].mean(), "width": out["width"][pos].mean(),
                             "interval_score": out["score"][pos].mean(), "lpd": out["lpd"][pos].mean(),
                             **({"mu": p["mu"], "omega": p["omega"], "w_ratio": p["w_ratio"]} if p else {})})
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    per = table.pivot_table(index=["source", "ladder", "runs"], columns="model", values=["coverage", "interval_score"])
    print(per.to_string(float_format=lambda v: f"{v:.3g}"))
    pooled = table.assign(n=table.runs).groupby("model").apply(
        lambda t: pd.Series({"runs": t.n.sum(), "coverage": np.average(t.coverage, weights=t.n),
                             "width": np.average(t.width, weights=t.n),
                             "interval_score": np.average(t.interval_score, weights=t.n),
                             "lpd": np.average(t.lpd, weights=t.n), "worst_ladder": t.coverage.min()}),
        include_groups=False)
    print("\npooled over held-out runs (leave-one-source-out):")
    print(pooled.to_string(float_format=lambda v: f"{v:.3g}"))
    print("\npriors learned without each source:")
    print(table.dropna(subset=["mu"]).groupby("source")[["mu", "omega", "w_ratio"]].first().to_string(float_format=lambda v: f"{v:.3g}"))
    if args.write:
        prior = learn(frame)
        prior.update({
            "form": "delta ~ Normal(0, (k * (d_compute + w_ratio * d_ratio))^2), log k ~ Normal(mu, omega)",
            "error_model": args.noise,
            "learned_from": sorted(frame.ladder.unique()),
            "sources": sorted(frame.source.unique()),
            "method": "leave-future-out (top 25% of compute held out) on each ladder; marginal likelihood, k per ladder "
                      "integrated out; bench/learn_extrapolation.py",
            "date": datetime.date.today().isoformat(),
            "schema": 1,
        })
        PRIOR.write_text(json.dumps(prior, indent=2) + "\n")
        print(f"\nwrote {PRIOR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
