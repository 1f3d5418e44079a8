"""Does the N* interval hold where a held-out isoFLOP curve bottoms out? The 15 Porian sweeps.

For each sweep: hold out the top budget, fit the Chinchilla law on the rest with default settings
(``bayescale.fit``: on these sweeps N* comes from the law refitted near each budget's optimum,
``Fit.allocation``), and compare its 95% interval of N* at the held-out budget with that budget's
vertex: the minimum of a parabola of log loss in log N fitted to the budget's own runs (least
squares). The vertex is itself uncertain; its standard error in log N comes from the parabola's
coefficient covariance (delta method). Reported per sweep: the interval, the vertex and its error,
whether the interval holds the vertex, and z, the distance between the vertex and the posterior
median of log N* in units of their combined spread (posterior sd of log N* and the vertex's error):
|z| ≤ 1.96 is the 95% check that allows for the vertex's own error. The same for
``N_opt_predictive`` (printed by ``optimum`` by default): each draw's N* on the law plus its miss
beyond the runs.

    .venv/bin/python bench/bench_vertex.py [0,1,2] [--hold 2]   # every sweep, or the ones listed; 15 fits, ~2 min

``--hold 2`` holds out the top two budgets and scores the top one, 4× beyond the fitted compute.
``--isoflop`` also fits the isoFLOP model to the same runs and scores its own N* (its power law,
and that line scattered by its tau for the predictive) and the PSIS-LOO stack of the two
(``bayescale optimum law.nc iso.nc``), and the stack with leave-future-out weights (``--weights
lfo``: both refitted below the top quarter of the fitted runs and scored at its isoFLOP minima;
the law alone where that quarter has none). Where the isoFLOP model must leave unbracketed budgets
out, both are fitted again without them for the stacks, which weigh models on the same runs only.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladders import DATA, PORIAN, porian_sweeps  # noqa: E402


def main() -> int:
    import bayescale as bs
    from bayescale.decisions.vertices import parabola_vertex

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="?", help="sweeps to run, e.g. 0,1,2 (default: all 15)")
    parser.add_argument("--hold", type=int, default=1,
                        help="hold out the top K budgets and score the top one (default 1: 2× beyond; 2: 4×)")
    parser.add_argument("--isoflop", action="store_true",
                        help="also score the isoFLOP model's N* and its PSIS-LOO stack with the law")
    args = parser.parse_args()
    if not PORIAN.exists():
        print(f"no shared data at {DATA}")
        return 0
    rows = []
    for config, runs in porian_sweeps(args.configs):
        start = time.perf_counter()
        budgets = np.unique(runs.C)
        top = budgets[-1]
        at_top = runs.C == top
        # every convex curve, its vertex inside the sizes run or not, as this bench has always counted
        found = parabola_vertex(np.log(runs.N[at_top]), np.log(runs.loss[at_top]), bounded=False)
        if found is None:
            print(f"config {config}: the top budget's curve is not convex; skipped", flush=True)
            continue
        held = runs.C >= budgets[-args.hold]
        train = replace(runs, frame=runs.frame[~held].reset_index(drop=True))
        fit = bs.fit(train, "chinchilla", settings=bs.SamplerSettings(progressbar=False))
        row = {"config": config, "budget": top, "times": top / train.C.max(), "vertex": np.exp(found[0]),
               "vertex_se": found[1], "gates": fit.gates.passed}
        found_opt = fit.optimum([top], with_miss=True)
        for key, n_opt in (("", found_opt.N_opt), ("miss_", found_opt.N_opt_predictive)):
            row |= _scored(key, n_opt, found)
        if args.isoflop:
            row |= _with_isoflop(train, fit, top, found)
        rows.append(row)
        lo, hi, z = np.log(row["lo"]), np.log(row["hi"]), row["z"]
        print(f"config {config:2d}: N* [{np.exp(lo):.3g}, {np.exp(hi):.3g}], vertex {np.exp(found[0]):.3g} "
              f"(± {found[1]:.2f} in log N), z {z:+.2f} ({time.perf_counter() - start:.0f} s)", flush=True)
    print("\n| config | budget (× largest fitted) | vertex N (se of log N) | 95% interval of N* | inside | z "
          "| with the miss | inside | z | gates |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['budget']:.2g} ({r['times']:.1f}×) | {r['vertex']:.3g} ({r['vertex_se']:.2f}) | "
              f"[{r['lo']:.3g}, {r['hi']:.3g}] | {'yes' if r['inside'] else 'no'} | {r['z']:+.2f} | "
              f"[{r['miss_lo']:.3g}, {r['miss_hi']:.3g}] | {'yes' if r['miss_inside'] else 'no'} | {r['miss_z']:+.2f} | "
              f"{'pass' if r['gates'] else 'FAIL'} |")
    extra = []
    if args.isoflop:
        print("\n| config | runs left out | isoFLOP weight | isoFLOP N* | inside | its predictive | inside | stacked predictive N* "
              "| inside | z | lfo weight | lfo stack's predictive N* | inside | z |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['config']} | {r['iso_dropped']} | {r['iso_weight']:.2f} | [{r['iso_lo']:.3g}, {r['iso_hi']:.3g}] | "
                  f"{'yes' if r['iso_inside'] else 'no'} | [{r['isomiss_lo']:.3g}, {r['isomiss_hi']:.3g}] | "
                  f"{'yes' if r['isomiss_inside'] else 'no'} | [{r['stackmiss_lo']:.3g}, {r['stackmiss_hi']:.3g}] | "
                  f"{'yes' if r['stackmiss_inside'] else 'no'} | {r['stackmiss_z']:+.2f} | {r['lfo_weight']:.2f} | "
                  f"[{r['lfomiss_lo']:.3g}, {r['lfomiss_hi']:.3g}] | {'yes' if r['lfomiss_inside'] else 'no'} | "
                  f"{r['lfomiss_z']:+.2f} |")
        extra = [("iso_", "the isoFLOP model's N*"), ("isomiss_", "the isoFLOP model's predictive N*"),
                 ("stack_", "the stack's N*"), ("stackmiss_", "the stack's predictive N*"),
                 ("lfomiss_", "the lfo stack's predictive N*")]
    for key, label in (("", "the law's N*"), ("miss_", "N* with the miss"), *extra):
        inside = sum(r[f"{key}inside"] for r in rows)
        within = sum(abs(r[f"{key}z"]) <= 1.96 for r in rows)
        width = np.median([r[f"{key}hi"] / r[f"{key}lo"] for r in rows])
        print(f"{label}: the interval holds the vertex on {inside} of {len(rows)} sweeps; |z| ≤ 1.96 (allowing for "
              f"the vertex's own error) on {within}; median width (upper/lower) {width:.2f}")
    return 0


def _scored(key: str, n_opt: np.ndarray, found: tuple[float, float]) -> dict:
    """Interval, inside and z of N* draws (first budget) against a vertex (log N, its se)."""
    from bayescale.decisions.vertices import check_vertex

    check = check_vertex(n_opt[:, 0], *found)
    return {f"{key}lo": np.exp(check["lower"]), f"{key}hi": np.exp(check["upper"]), f"{key}inside": check["inside"],
            f"{key}z": check["z"]}


def _with_isoflop(train, fit, top: float, found: tuple[float, float]) -> dict:
    """The isoFLOP model's own N* at ``top`` and its PSIS-LOO stack with the law's fit."""
    import bayescale as bs
    from bayescale.decisions.isoflop import DEFAULT_SETTINGS, fit_isoflop

    iso = fit_isoflop(train, settings=replace(DEFAULT_SETTINGS, progressbar=False), drop_unusable=True)
    dropped = int(np.sum(iso.budget_index < 0))
    if dropped:  # weigh on the same runs: both again without the unbracketed budgets
        usable = replace(train, frame=train.frame[iso.budget_index >= 0].reset_index(drop=True))
        iso = fit_isoflop(usable, settings=replace(DEFAULT_SETTINGS, progressbar=False))
        fit = bs.fit(usable, "chinchilla", settings=bs.SamplerSettings(progressbar=False))
    own = iso.optimum([top])
    stack = bs.ensemble([fit, iso], [top])
    out = {"iso_weight": stack.weights["isoflop"], "iso_dropped": dropped}
    try:  # weights from the minima of the top quarter of the fitted runs, each model refitted below them
        lfo = bs.ensemble([fit, iso], [top], weights="lfo")
        out["lfo_weight"] = lfo.weights["isoflop"]
    except bs.BayescaleError as err:  # no held-out curve inside the fitted runs: the law alone
        print(f"  lfo weights: {err}", flush=True)
        lfo, out["lfo_weight"] = None, float("nan")
    lfo_draws = lfo.optimum.N_opt_predictive if lfo is not None else fit.optimum([top]).N_opt_predictive
    for key, n_opt in (("iso_", own.N_opt), ("isomiss_", own.N_opt_predictive),
                       ("stack_", stack.optimum.N_opt), ("stackmiss_", stack.optimum.N_opt_predictive),
                       ("lfomiss_", lfo_draws)):
        out |= _scored(key, n_opt, found)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
