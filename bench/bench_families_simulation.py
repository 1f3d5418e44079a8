"""Pooling for a family of few runs, by simulation: K tables, each fitted pooled and separate.

    .venv/bin/python bench/bench_families_simulation.py [--simulations 12] [--workers 2]

Each table holds three families of 12 runs (budgets 1e18, 1e19, 1e20 FLOPs, 4 sizes each) and one
of 5 runs (3 sizes at 1e19, 2 at 1e20), from the Chinchilla law with every family's constants
drawn around Hoffmann et al. 2022's Approach-3 values (exponents ± 0.01, E ± 3%, A and B ± 10%),
with 1% noise on the loss. Each table is fitted twice with the default sampler settings and
independent noise: every parameter pooled (the default for 4 families), and with the exponents
separate (the 5-run family then has its own exponents, pinned by its runs and the prior only).
For the 5-run family it prints, per exponent, the mean absolute error of the posterior median,
how often the 95% interval holds the truth (± its Monte-Carlo standard error) and the median
interval width, pooled against separate.

Sizes: two fits per table, 1–5 minutes each on one core (the E–B–beta ridge of curves that span
two decades of tokens needs several attempts); 12 tables ≈ 30 minutes with 2 workers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CENTRE = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}
FAMILIES = {"big_a": (1e18, 1e19, 1e20), "big_b": (1e18, 1e19, 1e20), "big_c": (1e18, 1e19, 1e20), "few": (1e19, 1e20)}


def _truths(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """Each family's constants, drawn around the centre."""
    return {family: {"E": CENTRE["E"] * (1 + 0.03 * rng.standard_normal()),
                     "A": CENTRE["A"] * np.exp(0.1 * rng.standard_normal()),
                     "B": CENTRE["B"] * np.exp(0.1 * rng.standard_normal()),
                     "alpha": CENTRE["alpha"] + 0.01 * rng.standard_normal(),
                     "beta": CENTRE["beta"] + 0.01 * rng.standard_normal()} for family in FAMILIES}


def _frame(truths: dict, rng: np.random.Generator):
    import pandas as pd

    rows = []
    for family, budgets in FAMILIES.items():
        t = truths[family]
        for c in budgets:
            sizes = 4 if family != "few" else (3 if c == 1e19 else 2)
            for n in np.sqrt(c / 120.0) * np.geomspace(0.3, 3.0, sizes):
                d = c / (6 * n)
                loss = t["E"] + t["A"] / n ** t["alpha"] + t["B"] / d ** t["beta"]
                rows.append({"family": family, "N": n, "D": d, "loss": loss * np.exp(0.01 * rng.standard_normal())})
    return pd.DataFrame(rows)


def _task(seed: int) -> dict:
    """One table: its truths, and the few-run family's exponents, pooled and separate."""
    import bayescale as bs
    from bayescale.data.reading import runs_from_frame

    rng = np.random.default_rng(seed)
    truths = _truths(rng)
    runs = runs_from_frame(_frame(truths, rng), family_col="family")
    settings = bs.SamplerSettings(seed=seed, progressbar=False)
    out: dict = {"seed": seed, "truth": {p: truths["few"][p] for p in ("alpha", "beta")}}
    for name, extra in (("pooled", {}), ("separate", {"separate": ["alpha", "beta"]})):
        start = time.perf_counter()
        fit = bs.fit(runs, "chinchilla", noise="normal", settings=settings, **extra)
        draws = fit.draws(family="few")
        out[name] = {"converged": bool(fit.gates.passed), "seconds": time.perf_counter() - start,
                     **{p: np.quantile(draws[p], [0.025, 0.5, 0.975]).tolist() for p in ("alpha", "beta")}}
    return out


def _mean_se(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.2f} ± {v.std(ddof=1) / np.sqrt(v.size):.2f}" if v.size > 1 else f"{v.mean():.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=500)
    args = parser.parse_args()
    from bayescale.inference.workers import run_tasks

    start = time.perf_counter()
    out = run_tasks(_task, [args.seed + i for i in range(args.simulations)], workers=args.workers)
    print(f"{len(out)} tables, {time.perf_counter() - start:.0f} s; converged: pooled "
          f"{sum(o['pooled']['converged'] for o in out)}, separate {sum(o['separate']['converged'] for o in out)}; "
          f"seconds per fit (median): pooled {np.median([o['pooled']['seconds'] for o in out]):.0f}, "
          f"separate {np.median([o['separate']['seconds'] for o in out]):.0f}\n")
    print("| exponent of the 5-run family | fit | mean abs. error of the median | 95% coverage | median width | pooled closer |")
    print("|---|---|---|---|---|---|")
    for p in ("alpha", "beta"):
        truth = np.array([o["truth"][p] for o in out])
        errors = {}
        for name in ("pooled", "separate"):
            q = np.array([o[name][p] for o in out])
            errors[name] = np.abs(q[:, 1] - truth)
            inside = (q[:, 0] <= truth) & (truth <= q[:, 2])
            closer = f"{np.mean(errors['pooled'] < errors['separate']):.2f}" if name == "separate" else ""
            print(f"| {p} | {name} | {errors[name].mean():.3f} | {_mean_se(inside)} | "
                  f"{np.median(q[:, 2] - q[:, 0]):.3f} | {closer} |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
