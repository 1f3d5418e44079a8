"""Compute wasted by each way of choosing N at a held-out isoFLOP budget, on the 15 Porian sweeps.

For each sweep: hold out the top budget, fit the Chinchilla law on the rest, and choose N at the
held-out budget by (a) the plug-in median N* of the law fitted to every run
(``allocation_refit=False``), (b) the size minimising that posterior's expected loss, (c) the
expected-loss N of the default fit (``bayescale.fit`` / ``bayescale fit``, ``N_recommended``):
on these sweeps it refits the law to the runs within 10% of their budget's lowest loss and
answers from that (the same as ``fit --near-optimum 0.1``), (c') the stacked ensemble
(PSIS-LOO weights) of that fit and the Kaplan-with-floor law fitted to the same runs, its
expected-loss N (``recommend_stacked``, what page 1 of a two-law report recommends), (d) the isoFLOP model's
power law N*(C) = G·C^a fitted to the lower budgets (Approach 2), (e) 20 tokens per parameter. Score: the held-out
budget's own curve (a parabola of log loss in log N, least squares) gives each choice's loss
penalty over the curve's vertex; the slope s of the optimal log loss against log compute between
the two top budgets (their parabolas' minima) turns it into wasted compute, 1 − exp(−penalty/|s|).

    .venv/bin/python bench/bench_waste.py [0,1,2]   # every sweep, or the ones listed; about 60 fits
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladders import DATA, PORIAN, porian_sweeps  # noqa: E402

NEAR = 0.1  # fit --near-optimum: runs within 10% of their budget's lowest loss


def parabola(log_n: np.ndarray, log_loss: np.ndarray) -> np.ndarray:
    coef = np.polyfit(log_n, log_loss, 2)
    return coef if coef[0] > 0 else None


def _isoflop_n(train, top: float) -> float:
    """Median N* at ``top`` on the isoFLOP model's power law (Approach 2), fitted to the lower budgets."""
    from bayescale.decisions.isoflop import DEFAULT_SETTINGS, IsoflopError, fit_isoflop
    try:
        iso = fit_isoflop(train, drop_unusable=True, settings=replace(DEFAULT_SETTINGS, progressbar=False))
    except IsoflopError as error:
        print(f"  isoFLOP model refused: {error}", flush=True)
        return float("nan")
    return float(np.median(iso.at([top])[0][:, 0]))


def main() -> int:
    import bayescale as bs
    from bayescale.planning.decision import recommend, recommend_stacked

    if not PORIAN.exists():
        print(f"no shared data at {DATA}")
        return 0
    rows = []
    for config, runs in porian_sweeps(sys.argv[1] if len(sys.argv) > 1 else None):
        start = time.perf_counter()
        budgets = np.unique(runs.C)
        top, prev = budgets[-1], budgets[-2]
        curves = {}
        for b in (top, prev):
            sel = runs.C == b
            curves[b] = parabola(np.log(runs.N[sel]), np.log(runs.loss[sel]))
        if curves[top] is None or curves[prev] is None:
            print(f"config {config}: a top budget's curve is not convex; skipped", flush=True)
            continue
        vertex = {b: -c[1] / (2 * c[0]) for b, c in curves.items()}
        minimum = {b: np.polyval(curves[b], vertex[b]) for b in curves}
        slope = (minimum[top] - minimum[prev]) / (np.log(top) - np.log(prev))
        train = replace(runs, frame=runs.frame[runs.C < top].reset_index(drop=True))
        default = bs.fit(train, "chinchilla", settings=bs.SamplerSettings(progressbar=False))
        near = default.allocation
        if near is None:
            print(f"config {config}: the default fit made no allocation refit", flush=True)
            continue
        fit = bs.Fit(default.tree.copy())  # the fit of every run, without its allocation refit
        del fit.tree["allocation"]
        selected = bs.near_optimum(train, NEAR)
        near_kf = bs.fit(selected, "kaplan_floor", settings=bs.SamplerSettings(progressbar=False),
                         allocation_refit=False)
        mixture = bs.ensemble([near, near_kf], [top])
        weights = list(mixture.weights.values())
        choices = {"plug-in median N*": float(np.nanmedian(fit.optimum([top]).N_opt[:, 0])),
                   "expected-loss N": recommend(fit, top)["N_recommended"],
                   "default fit, expected-loss N": recommend(default, top)["N_recommended"],
                   "near-optimum ensemble, expected-loss N": recommend_stacked([near, near_kf], weights, top)["N_recommended"],
                   "isoFLOP N*": _isoflop_n(train, top),
                   "20 tokens/param": float(np.sqrt(top / (6 * 20)))}
        row = {"config": config, "vertex N": float(np.exp(vertex[top])), "kaplan_floor weight": weights[1],
               "gates": default.gates.passed and near.gates.passed and near_kf.gates.passed,
               "kept": f"{near.runs.n_runs}/{train.n_runs}"}
        for name, n in choices.items():
            penalty = np.polyval(curves[top], np.log(n)) - minimum[top]
            row[name] = float(1 - np.exp(-penalty / abs(slope))) if slope < 0 else float("nan")
        rows.append(row)
        print(f"config {config:2d}: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                                   for k, v in row.items() if k != "config")
              + f" ({time.perf_counter() - start:.0f} s)", flush=True)
    names = ["plug-in median N*", "expected-loss N", "default fit, expected-loss N",
             "near-optimum ensemble, expected-loss N", "isoFLOP N*", "20 tokens/param"]
    print("\n| config | vertex N | " + " | ".join(names) + " | runs near the optima | kaplan_floor weight | gates |")
    print("|---|---|" + "---|" * len(names) + "---|---|---|")
    for row in rows:
        print(f"| {row['config']} | {row['vertex N']:.3g} | " + " | ".join(f"{100 * row[n]:.1f}%" for n in names)
              + f" | {row['kept']} | {row['kaplan_floor weight']:.2f} | {'pass' if row['gates'] else 'FAIL'} |")
    means = {n: np.nanmean([r[n] for r in rows]) for n in names}
    print("| mean | | " + " | ".join(f"{100 * means[n]:.1f}%" for n in names) + " | | | |")
    medians = {n: np.nanmedian([r[n] for r in rows]) for n in names}
    print("| median | | " + " | ".join(f"{100 * medians[n]:.1f}%" for n in names) + " | | | |")
    for name in names[:-1]:
        beats = sum(r[name] <= r["20 tokens/param"] for r in rows)
        print(f"{name} wastes no more than the 20-tokens rule on {beats} of {len(rows)} sweeps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
