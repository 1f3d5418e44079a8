"""Learn how fast laws miss when they extrapolate, from leave-future-out on many real ladders.

Reads ``bench/results/lfo_runs.csv`` (``lfo_collect.py``; the rows of one error model, by default
``grouped``) and fits, for the held-out runs i of ladder l, one of two forms of the law's miss:

- ``--form coherent`` (shipped since 2026-12-07, third session): the miss is one smooth function
  per ladder, a random level and a random tilt,

      r_i = y_i - median_i = s_i ε_i + k_l sigma_l Σ_c a_lc w_c d_ci,   a_lc ~ Normal(0, 1),

  so the ladder's residuals are jointly Normal with covariance diag(s²) + k_l² sigma_l² U Uᵀ
  (U_ic = w_c d_ci; components e.g. ``compute`` for the level and ``compute_ratio_shift``, signed,
  for the tilt along the isoFLOP curves);
- ``--form independent`` (the form shipped before): r_i ~ Normal(0, s_i² + (k_l g_i)²) independently,
  g_i = Σ_f w_f d_fi (times sigma with ``--relative``).

In both, log k_l ~ Normal(mu, omega), s_i is the predictive spread of the fitted model, d the
decades beyond the fitted runs and k_l the ladder's own rate of failure. k_l is integrated out on a fine grid of
log k (a ladder of 30–100 runs pins its own k sharply, so Gauss–Hermite nodes spaced by the prior
miss the peak: 24 nodes gave omega 1.67 where the integral gives 0.74); (mu, omega, w) maximise the
summed marginal likelihood of the ladders, each ladder weighing the same.

Every figure is leave-one-source-out: the prior scored on a source's ladders was learned from the
other sources only (``--leave-out ladder``: each ladder's from the other ladders). The prior learned from all sources is written to
``bayescale/laws/extrapolation_prior.json`` with ``--write``.

    .venv/bin/python bench/learn_extrapolation.py [--noise grouped] [--leave-out ladder] [--write]
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
LOG_K = np.linspace(-16.0, 6.0, 3001)  # the grid over log k: e^-16 to e^6 per decade, steps of 0.007


FEATURES = ("compute", "ratio", "size", "tokens", "ratio_offset", "compute_ratio_offset", "ratio_shift",
            "compute_ratio_shift")


RELATIVE = False
FORM = "coherent"
BALANCE = "ladder"
Z = np.linspace(-8.0, 8.0, 1601)  # nodes of log k in prior standard deviations, for exact predictive quantiles
Z_WEIGHT = stats.norm.pdf(Z) / stats.norm.pdf(Z).sum()


def distance(frame: pd.DataFrame, w) -> np.ndarray:
    """g = sum of the decades beyond the fitted runs, each feature with its weight (times the
    fitted noise scale sigma when RELATIVE: laws that fit worse fail faster outside)."""
    g = sum(w[f] * frame[f"d_{f}"].to_numpy() for f in w)
    return g * frame.sigma.to_numpy() if RELATIVE else g


def marginal_distance(frame: pd.DataFrame, w) -> np.ndarray:
    """The spread of the miss at each run per unit of k: g (independent), or the root of the
    components' sum of squares (coherent; both times sigma where relative)."""
    if FORM == "independent":
        return distance(frame, w)
    g = np.sqrt(sum((w[f] * frame[f"d_{f}"].to_numpy()) ** 2 for f in w))
    return g * frame.sigma.to_numpy()


def with_all_distances(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the distances an older collection lacks (the split is deterministic, so recompute it)."""
    import sys

    if all(f"d_{f}" in frame and frame[f"d_{f}"].notna().all() for f in FEATURES):
        return frame
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ladders import ladders
    from lfo_collect import HOLDOUT_TOP

    from bayescale.decisions.backtesting import split_by_compute
    from bayescale.laws.extrapolation import distances

    parts = []
    for ladder in ladders():
        train, held, _ = split_by_compute(ladder.read(), HOLDOUT_TOP)
        far = distances(train, N=held.N, D=held.D, C=held.C)
        for noise in frame.noise.unique():
            part = frame[(frame.ladder == ladder.name) & (frame.noise == noise)].copy()
            assert np.allclose(part.N.to_numpy(), held.N)
            for f in FEATURES:
                part[f"d_{f}"] = far[f]
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def grid_loglik(r, s, g):
    """log Π_i Normal(r_i; 0, s_i² + k² g_i²) at each point of the grid of log k."""
    var = s[None, :] ** 2 + np.exp(2 * LOG_K[:, None]) * g[None, :] ** 2
    return np.sum(-0.5 * r[None, :] ** 2 / var - 0.5 * np.log(2 * np.pi * var), axis=1)


def grid_loglik_coherent(r, s, U):
    """log MvNormal(r; 0, diag(s²) + k² U Uᵀ) at each point of the grid of log k (Woodbury:
    only m × m matrices, m the number of components)."""
    s2 = s**2
    A, b = U.T @ (U / s2[:, None]), U.T @ (r / s2)
    base = -0.5 * np.sum(r**2 / s2) - 0.5 * np.sum(np.log(2 * np.pi * s2))
    M = np.eye(len(b))[None] * np.exp(-2 * LOG_K)[:, None, None] + A[None]
    _, log_det = np.linalg.slogdet(M)
    quad = np.einsum("i,gi->g", b, np.linalg.solve(M, np.broadcast_to(b, (len(LOG_K), len(b)))[..., None])[..., 0])
    return base + 0.5 * quad - 0.5 * log_det - len(b) * LOG_K


def ladder_terms(frame: pd.DataFrame, w) -> np.ndarray:
    """The ladder's log likelihood at each point of the grid of log k, in the chosen form."""
    r, s = frame.y.to_numpy() - frame.pred_median.to_numpy(), frame.pred_sd.to_numpy()
    if FORM == "independent":
        return grid_loglik(r, s, distance(frame, w))
    U = np.stack([w[f] * frame[f"d_{f}"].to_numpy() * frame.sigma.to_numpy() for f in w], axis=1)
    return grid_loglik_coherent(r, s, U)


def ladder_loglik(frame: pd.DataFrame, w, mu, omega):
    """log of ∫ p(the ladder's residuals | k) LogNormal(k; mu, omega) dk, on the grid of log k."""
    terms = ladder_terms(frame, w) + stats.norm.logpdf(LOG_K, mu, omega)
    peak = terms.max()
    return peak + np.log(np.sum(np.exp(terms - peak)) * (LOG_K[1] - LOG_K[0]))


def learn(frame: pd.DataFrame, features: tuple[str, ...]) -> dict:
    """Maximum marginal likelihood of (mu, omega, weights); the first feature's weight is 1."""
    groups = [g for _, g in frame.groupby("ladder")]
    # BALANCE "source": each source counts once, its ladders sharing its weight (Porian's 15 setups one code base)
    per_source = frame.groupby("source").ladder.nunique()
    shares = [1.0 / per_source[g.source.iloc[0]] if BALANCE == "source" else 1.0 for g in groups]

    def weights(theta):
        return {features[0]: 1.0} | {f: float(np.exp(t)) for f, t in zip(features[1:], theta[2:])}

    def loss(theta):
        mu, log_omega = theta[:2]
        w = weights(theta)
        return -sum(share * ladder_loglik(g, w, mu, np.exp(log_omega)) for share, g in zip(shares, groups))

    # omega ≤ 3: k within e^±6 at 95%; each further feature's log weight within ±4
    bounds = [(-9.0, 2.0), (np.log(0.05), np.log(3.0))] + [(-4.0, 4.0)] * (len(features) - 1)
    starts = [[mu, np.log(om)] + [0.0] * (len(features) - 1) for mu in (-5.0, -3.0, -1.0) for om in (0.3, 1.0)]
    best = min((optimize.minimize(loss, x0=x0, method="L-BFGS-B", bounds=bounds) for x0 in starts),
               key=lambda res: res.fun)
    return {"mu": float(best.x[0]), "omega": float(np.exp(best.x[1])), "weights": weights(best.x),
            "ladders": int(len(groups)), "runs": int(len(frame)), "log_likelihood": float(-best.fun)}


def spreads(s: np.ndarray, g: np.ndarray, log_k: np.ndarray) -> np.ndarray:
    """sqrt(s² + k² g²) per run (rows) at each k = e^log_k (columns)."""
    return np.sqrt(s[:, None] ** 2 + (np.exp(log_k)[None, :] * g[:, None]) ** 2)


def mixture_sd(s: np.ndarray, g: np.ndarray, prior: dict) -> np.ndarray:
    """sqrt(s² + k² g²) per run (rows) at each node of log k ~ Normal(mu, omega) (columns, weights Z_WEIGHT)."""
    return spreads(s, g, prior["mu"] + prior["omega"] * Z)


def mixture_quantiles(sd: np.ndarray, probs=(0.025, 0.975), weights: np.ndarray | None = None) -> list[np.ndarray]:
    """Exact quantiles of the Normal mixture of :func:`mixture_sd` (columns of ``sd`` weighted by
    ``weights``, by default the prior's nodes), by bisection (Monte-Carlo quantiles of this
    heavy-tailed mixture moved a ladder's coverage by up to 0.1)."""
    weights = Z_WEIGHT if weights is None else weights
    out = []
    for q in probs:
        lo, hi = np.full(len(sd), -50.0), np.full(len(sd), 50.0)
        for _ in range(70):
            mid = 0.5 * (lo + hi)
            below = (stats.norm.cdf(mid[:, None] / sd) * weights).sum(axis=1) < q
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        out.append(0.5 * (lo + hi))
    return out


def predictive(frame: pd.DataFrame, prior: dict | None) -> dict:
    """95% interval and log density of each run under the fitted model's predictive (Normal
    approximation) plus the learned discrepancy, marginally (exact, no Monte Carlo); and the joint
    log density of each ladder's held-out runs (what the coherent form's shared miss changes)."""
    r = frame.y.to_numpy() - frame.pred_median.to_numpy()
    s = frame.pred_sd.to_numpy()
    if prior is None:
        lo, hi = frame.lo95.to_numpy() - frame.pred_median.to_numpy(), frame.hi95.to_numpy() - frame.pred_median.to_numpy()
        out = interval_scores(r, lo, hi) | {"lpd": stats.norm.logpdf(r, 0, s)}
        joint = {name: float(out["lpd"][frame.index.get_indexer(idx)].sum())
                 for name, idx in frame.groupby("ladder").groups.items()}
    else:
        out = mixture_predictive(r, mixture_sd(s, marginal_distance(frame, prior["weights"]), prior))
        joint = {name: float(ladder_loglik(part, prior["weights"], prior["mu"], prior["omega"]))
                 for name, part in frame.groupby("ladder")}
    return out | {"joint": joint}


def interval_scores(r: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict:
    """Whether each residual lies in its 95% interval [lo, hi], the width, and the interval score
    (width plus 2/0.05 = 40 per unit outside)."""
    return {"inside": (r >= lo) & (r <= hi), "width": hi - lo,
            "score": (hi - lo) + 40 * (np.maximum(lo - r, 0) + np.maximum(r - hi, 0))}


def mixture_predictive(r: np.ndarray, sd: np.ndarray, weights: np.ndarray | None = None) -> dict:
    """:func:`interval_scores` of the 95% interval of the Normal mixture with spreads ``sd`` (runs ×
    nodes) and node ``weights`` (by default the prior's, Z_WEIGHT), and each residual's log density under it."""
    weights = Z_WEIGHT if weights is None else weights
    lo, hi = mixture_quantiles(sd, weights=weights)
    return interval_scores(r, lo, hi) | {"lpd": np.log((stats.norm.pdf(r[:, None] / sd) / sd * weights).sum(axis=1))}


def held_out_rows(noise: str = "normal") -> pd.DataFrame:
    """The held-out runs of ``results/lfo_runs.csv`` fitted with the error model ``noise``, with every distance."""
    frame = with_all_distances(pd.read_csv(RUNS))
    return frame[frame.noise == noise].reset_index(drop=True)


def with_floor(frame: pd.DataFrame, floor: float) -> pd.DataFrame:
    """The rows with sigma replaced by the scale the rate k multiplies, sqrt(sigma² + floor²)."""
    return frame.assign(sigma=np.sqrt(frame.sigma**2 + floor**2))


def ladder_scores(test: pd.DataFrame, prior: dict | None) -> list[dict]:
    """Per ladder of ``test``: held-out runs, 95% coverage, mean width, interval score, log density
    per run and joint log density per run under :func:`predictive` (``prior`` None: the fitted model)."""
    return ladder_rows(test, predictive(test, prior))


def ladder_rows(test: pd.DataFrame, out: dict) -> list[dict]:
    """Per ladder of ``test``, the means of :func:`predictive`'s (or :func:`mixture_predictive`'s)
    run-wise figures ``out`` and its joint log density per run (``out["joint"]``, by ladder)."""
    rows = []
    for ladder, idx in test.groupby("ladder").groups.items():
        pos = test.index.get_indexer(idx)
        rows.append({"ladder": ladder, "runs": len(pos), "coverage": out["inside"][pos].mean(),
                     "width": out["width"][pos].mean(), "interval_score": out["score"][pos].mean(),
                     "lpd": out["lpd"][pos].mean(), "joint_lpd": out["joint"][ladder] / len(pos)})
    return rows


def pooled_scores(table: pd.DataFrame) -> pd.Series:
    """:func:`ladder_scores` rows pooled over held-out runs (each run weighing the same), and the
    worst ladder's coverage."""
    n = table.runs
    return pd.Series({"runs": n.sum(), **{k: np.average(table[k], weights=n) for k in
                                          ("coverage", "width", "interval_score", "lpd", "joint_lpd")},
                      "worst_ladder": table.coverage.min()})


COHERENT = ("delta(N, D) = k * sqrt(sigma^2 + sigma_floor^2) * sum_f a_f * weights[f] * d_f(N, D), a_f ~ Normal(0, 1) "
            "per draw (one smooth miss per draw: a level and a tilt), log k ~ Normal(mu, omega)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", default="grouped")
    parser.add_argument("--form", choices=("coherent", "independent"), default="coherent")
    parser.add_argument("--features", default="compute,compute_ratio_shift",
                        help="distances, comma-separated: the components (coherent) or the terms of g (independent)")
    parser.add_argument("--relative", action="store_true", help="scale the discrepancy by the fitted sigma")
    parser.add_argument("--sigma-floor", type=float, default=0.0, metavar="C",
                        help="scale by sqrt(sigma² + C²) instead of sigma (C on log loss; the coherent form)")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--leave-out", choices=("source", "ladder"), default="source",
                        help="score each source's ladders with a prior learned without that source (the default), or "
                             "each ladder with one learned without that ladder only: weaker where a source's ladders "
                             "share a recipe (Porian's setups 1, 5 and 11 differ only in N counting, loss split or data)")
    parser.add_argument("--balance", choices=("ladder", "source"), default="ladder",
                        help="weigh every ladder alike in the likelihood (the default), or every source alike")
    args = parser.parse_args()
    if args.write and args.leave_out != "source":
        raise SystemExit("--write records the leave-one-source-out scores: run it without --leave-out ladder")
    global RELATIVE, FORM, BALANCE
    RELATIVE, FORM, BALANCE = args.relative, args.form, args.balance
    features = tuple(args.features.split(","))
    frame = with_floor(held_out_rows(args.noise), args.sigma_floor)
    rows = []
    unit = args.leave_out
    for left_out in sorted(frame[unit].unique()):
        train, test = frame[frame[unit] != left_out], frame[frame[unit] == left_out]
        source = test.source.iloc[0]
        prior = learn(train, features)
        for label, p in (("fitted model", None), (f"+ discrepancy (leave one {unit} out)", prior)):
            rows += [{"source": source, "model": label, **row,
                      **({"mu": p["mu"], "omega": p["omega"], **p["weights"]} if p else {})}
                     for row in ladder_scores(test, p)]
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    per = table.pivot_table(index=["source", "ladder", "runs"], columns="model", values=["coverage", "interval_score"])
    print(per.to_string(float_format=lambda v: f"{v:.3g}"))
    pooled = table.groupby("model").apply(pooled_scores, include_groups=False)
    print(f"\npooled over held-out runs (leave one {unit} out):")
    print(pooled.to_string(float_format=lambda v: f"{v:.3g}"))
    loso = {model: {k: round(float(v), 4) for k, v in row.items()} for model, row in pooled.iterrows()}
    print(f"\npriors learned without each {unit}:")
    print(table.dropna(subset=["mu"]).groupby(unit)[["mu", "omega", *features]].first().to_string(float_format=lambda v: f"{v:.3g}"))
    if args.write:
        prior = learn(frame, features)
        prior.update({
            "form": FORM,
            "equation": COHERENT if FORM == "coherent" else
            "delta ~ Normal(0, (k * [sigma if relative] * sum_f weights[f] * d_f)^2), log k ~ Normal(mu, omega)",
            "relative": RELATIVE or FORM == "coherent",
            "sigma_floor": args.sigma_floor,
            "leave_one_source_out": loso,
            "error_model": args.noise,
            "learned_from": sorted(frame.ladder.unique()),
            # the shifts of D/N the tilt was learned on; bayescale holds shifts within them
            "ratio_shift_range": [float(np.floor(100 * frame.d_ratio_shift.min()) / 100),
                                  float(np.ceil(100 * frame.d_ratio_shift.max()) / 100)],
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
