"""Does a table's own leave-future-out tell how fast the law will miss beyond it, with the shipped
coherent miss? (A study; the package does not use it.)

``table_rate_score.py`` asked this of the independent form. Here each ladder's miss is the shipped
coherent one (a level and a tilt per ladder, floor 0.005 under sigma). Its inner held-out runs (its
fitted runs' own top quarter of compute, scored by a fit of the rest: ``results/lfo_inner_runs.csv``)
and its outer held-out runs (``results/lfo_runs.csv``) each get a rate k, with

    (log k_in, log k_out) ~ Normal((mu, mu), omega² [[1, rho], [rho, 1]]),

so that rho = 0 ignores the table's own inner runs (the package) and rho near 1 lets them set the
rate. The script prints the log likelihood of the outer runs given the inner ones, summed over the
21 ladders, for a range of rho (mu, omega and the tilt's weight learned on the outer runs), and the
outer runs' 95% coverage, width and interval score, leave one source out (``--ladders``: one ladder
out), with rho learned without it and with rho fixed.

    .venv/bin/python bench/table_rate_coherent.py            # about a minute; no fits
    .venv/bin/python bench/table_rate_coherent.py --ladders  # each fold leaves one ladder out (a few minutes)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learn_extrapolation as le  # noqa: E402

FEATURES = ("compute", "compute_ratio_shift")
FLOOR = 0.005
STEP = 10  # every 10th point of learn_extrapolation's grid of log k: 301 points, 0.073 apart
GRID = le.LOG_K[::STEP]
RHOS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def inner_rows() -> pd.DataFrame:
    """The inner held-out runs with every distance, measured from the inner fitted runs."""
    from ladders import ladders
    from lfo_collect import HOLDOUT_TOP

    from bayescale.decisions.backtesting import split_by_compute
    from bayescale.laws.extrapolation import distances

    frame = pd.read_csv(le.RUNS.with_name("lfo_inner_runs.csv"))
    frame = frame[frame.noise == "normal"]
    parts = []
    for ladder in ladders():
        train, _, _ = split_by_compute(ladder.read(), HOLDOUT_TOP)
        inner_train, inner_held, _ = split_by_compute(train, HOLDOUT_TOP)
        part = frame[frame.ladder == ladder.name].copy()
        if part.empty:
            continue
        assert np.allclose(part.N.to_numpy(), inner_held.N)
        far = distances(inner_train, N=inner_held.N, D=inner_held.D, C=inner_held.C)
        for f in le.FEATURES:
            part[f"d_{f}"] = far[f]
        parts.append(part)
    return le.with_floor(pd.concat(parts, ignore_index=True), FLOOR)


def terms(frame: pd.DataFrame, w: dict) -> np.ndarray:
    return le.ladder_terms(frame, w)[::STEP]


def conditional_loglik(t_in: np.ndarray, t_out: np.ndarray, mu: float, omega: float, rho: float) -> float:
    """log p(outer | inner) with the rates' joint Normal prior, on the grid."""
    a, b = np.meshgrid(GRID, GRID, indexing="ij")  # a: log k_out, b: log k_in
    if rho == 0.0:
        prior = stats.norm.logpdf(a, mu, omega) + stats.norm.logpdf(b, mu, omega)
    else:
        prior = stats.multivariate_normal([mu, mu], omega**2 * np.array([[1, rho], [rho, 1]])).logpdf(np.dstack([a, b]))
    joint = t_out[:, None] + t_in[None, :] + prior
    inner = t_in + stats.norm.logpdf(GRID, mu, omega)
    return float(logsumexp(joint) - logsumexp(inner))


def out_rate_weights(t_in: np.ndarray, mu: float, omega: float, rho: float) -> np.ndarray:
    """p(log k_out | inner runs) on the grid, normalised."""
    cond_mu = mu + rho * (GRID - mu)  # E[log k_out | log k_in] at each log k_in
    cond_sd = omega * np.sqrt(max(1.0 - rho**2, 1e-6))
    post_in = t_in + stats.norm.logpdf(GRID, mu, omega)
    post_in = np.exp(post_in - post_in.max())
    post_in /= post_in.sum()
    dens = (post_in[None, :] * stats.norm.pdf(GRID[:, None], cond_mu[None, :], cond_sd)).sum(axis=1)
    return dens / dens.sum()


def scores(outer: pd.DataFrame, weights: np.ndarray, w: dict) -> tuple[np.ndarray, np.ndarray]:
    """95% intervals of the outer runs under the mixture over log k_out with ``weights``: inside, width, score."""
    keep = weights > 1e-12
    sd = le.spreads(outer.pred_sd.to_numpy(), le.marginal_distance(outer, w), GRID[keep])
    lo, hi = le.mixture_quantiles(sd, weights=weights[keep] / weights[keep].sum())
    out = le.interval_scores(outer.y.to_numpy() - outer.pred_median.to_numpy(), lo, hi)
    return out["inside"], np.stack([out["width"], out["score"]], axis=1)


def main() -> int:
    le.FORM = "coherent"
    outer = le.with_floor(le.held_out_rows("normal"), FLOOR)
    inner = inner_rows()
    names = sorted(set(outer.ladder) & set(inner.ladder))
    prior = le.learn(outer, FEATURES)
    w = prior["weights"]
    t = {n: (terms(inner[inner.ladder == n], w), terms(outer[outer.ladder == n], w)) for n in names}
    print(f"{len(names)} ladders; prior learned on the outer runs: mu {prior['mu']:.2f}, omega {prior['omega']:.2f}")
    print("rho   log p(outer | inner), summed over ladders")
    for rho in RHOS:
        total = sum(conditional_loglik(ti, to, prior["mu"], prior["omega"], rho) for ti, to in t.values())
        print(f"{rho:4.2f}  {total:9.1f}")
    rows = []
    unit = "ladder" if "--ladders" in sys.argv[1:] else "source"  # what each fold leaves out
    for left_out in sorted(outer[unit].unique()):
        train = outer[outer[unit] != left_out]
        p = le.learn(train, FEATURES)
        wt = p["weights"]
        train_names = sorted(set(train.ladder) & set(inner.ladder))
        tt = {n: (terms(inner[inner.ladder == n], wt), terms(train[train.ladder == n], wt)) for n in train_names}
        def minus_loglik(rho: float, p: dict = p, tt: dict = tt) -> float:
            return -sum(conditional_loglik(ti, to, p["mu"], p["omega"], rho) for ti, to in tt.values())

        fit = optimize.minimize_scalar(minus_loglik, bounds=(0.0, 0.95), method="bounded", options={"xatol": 0.02})
        for ladder in sorted(outer[outer[unit] == left_out].ladder.unique()):
            part = outer[outer.ladder == ladder].reset_index(drop=True)
            t_in = terms(inner[inner.ladder == ladder], wt)
            for label, rho in (("rho 0 (the package)", 0.0), (f"rho learned without the {unit}", float(fit.x)),
                               ("rho 0.9", 0.9)):
                inside, ws = scores(part, out_rate_weights(t_in, p["mu"], p["omega"], rho), wt)
                rows.append({"ladder": ladder, "rule": label, "rho": rho, "runs": len(part), "coverage": inside.mean(),
                             "width": ws[:, 0].mean(), "interval_score": ws[:, 1].mean()})
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(f"\nleave one {unit} out, outer runs:")
    for rule, part in table.groupby("rule", sort=False):
        n = part.runs
        print(f"{rule:<32} coverage {np.average(part.coverage, weights=n):.3f}  width {np.average(part.width, weights=n):.3f}  "
              f"interval score {np.average(part.interval_score, weights=n):.3f}  worst ladder "
              f"{part.coverage.min():.2f} ({part.ladder[part.coverage.idxmin()]}); rho {part.rho.min():.2f}–{part.rho.max():.2f}")
    print(table.pivot_table(index="ladder", columns="rule", values="coverage", sort=False).to_string(float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
