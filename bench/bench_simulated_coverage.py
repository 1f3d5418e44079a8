"""Simulated coverage of the default intervals, well-specified and misspecified.

    .venv/bin/python bench/bench_simulated_coverage.py [--simulations 100] [--workers 2]

1. well-specified: ``bayescale.calibrate`` of a Chinchilla fit of ``data/example_runs.csv``
   (63 runs, 7 budgets 1e17–1e20 FLOPs): K tables drawn from the fit's posterior predictive,
   each refitted below the top quarter of compute; coverage of the parameters, of N* at 10× and
   100× the largest run, and of the held-out runs' predictive intervals.
2. misspecified: K isoFLOP ladders (7 budgets 1e17–1e20, 9 sizes each, 1% noise) drawn from
   Kaplan's law with a floor, fitted with the Chinchilla law below the top quarter of compute;
   coverage of the true N* at 10× and 100× the largest budget and of the held-out runs.
3. misspecified: the same ladders from Chinchilla with a 1.5% offset per model size.

Sizes: K refits per part (about 4 s each on 2 cores; 100 per part ≈ 4 minutes with 2 workers).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BUDGETS = np.logspace(17, 20, 7)
CHINCHILLA = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}
FLOOR = {"E": 1.7, "Nc": 4e8, "Dc": 1.3e10, "alpha_N": 0.34, "alpha_D": 0.28}


def _ladder_task(task: tuple) -> dict:
    """One misspecified ladder: simulate, fit Chinchilla below the top compute, score."""
    import bayescale as bs
    from bayescale.decisions.backtesting import score_holdout, split_by_compute
    from bayescale.decisions.simulation import simulate_isoflop
    from bayescale.laws.law import Scales
    from bayescale.results.optimum import compute_optimum, interval

    kind, seed = task
    truth_law = bs.load_law("kaplan_floor" if kind == "kaplan_floor" else "chinchilla")
    params = FLOOR if kind == "kaplan_floor" else CHINCHILLA
    frame = simulate_isoflop(truth_law, params, BUDGETS, noise=0.01, seed=seed)
    if kind == "size_offsets":
        rng = np.random.default_rng(seed + 7)
        sizes, codes = np.unique(frame["N"], return_inverse=True)
        frame["loss"] = frame["loss"] * np.exp(0.015 * rng.standard_normal(sizes.size)[codes])
    path = Path(f"/tmp/bayescale-sim-{kind}-{seed}.csv")
    frame.to_csv(path, index=False)
    runs = bs.read_runs(path)
    path.unlink()
    train, held, _ = split_by_compute(runs, 0.25)
    fit = bs.fit(train, "chinchilla", settings=bs.SamplerSettings(seed=seed, progressbar=False))
    targets = np.array([10.0, 100.0]) * BUDGETS[-1]
    true_n = compute_optimum(truth_law, {k: np.atleast_1d(v) for k, v in params.items()}, Scales(), targets,
                             method="numeric").N_opt[0]  # physical parameters: every reference scale 1
    _, lo, hi = interval(fit.optimum(targets).N_opt, 0.95)
    return {"converged": fit.gates.passed, "N_opt": float(np.mean((true_n >= lo) & (true_n <= hi))),
            "holdout": score_holdout(fit, held, 0.95)["coverage"]}


def _summary(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f} ± {v.std(ddof=1) / np.sqrt(v.size):.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parts", default="well,kaplan_floor,size_offsets")
    args = parser.parse_args()
    import bayescale as bs
    from bayescale.inference.workers import run_tasks

    parts = args.parts.split(",")
    print("| case | simulations | refits converged | N* coverage | held-out run coverage | parameters (min–max) | s |")
    print("|---|---|---|---|---|---|---|")
    if "well" in parts:
        start = time.perf_counter()
        fit = bs.fit(bs.read_runs(ROOT / "data" / "example_runs.csv"), "chinchilla",
                     settings=bs.SamplerSettings(progressbar=False))
        cal = bs.calibrate(fit, args.simulations, workers=args.workers, bins=1)
        sim = cal.simulated
        params = [v["coverage"] for v in sim["parameters"].values()]
        print(f"| well-specified (posterior draws of a Chinchilla fit) | {sim['simulations']} | {sim['converged_refits']} | "
              f"{sim['N_opt']['coverage']:.3f} ± {sim['N_opt']['mc_se']:.3f} | "
              f"{sim['holdout_loss']['coverage']:.3f} ± {sim['holdout_loss']['mc_se']:.3f} | "
              f"{min(params):.2f}–{max(params):.2f} | {time.perf_counter() - start:.0f} |", flush=True)
    for kind in ("kaplan_floor", "size_offsets"):
        if kind not in parts:
            continue
        start = time.perf_counter()
        out = run_tasks(_ladder_task, [(kind, 1000 + i) for i in range(args.simulations)], workers=args.workers)
        label = {"kaplan_floor": "misspecified: Kaplan-with-floor truth, Chinchilla fit",
                 "size_offsets": "misspecified: Chinchilla + 1.5% offset per size"}[kind]
        print(f"| {label} | {len(out)} | {sum(o['converged'] for o in out)} | {_summary([o['N_opt'] for o in out])} | "
              f"{_summary([o['holdout'] for o in out])} | – | {time.perf_counter() - start:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
