"""Proof by simulation that following ``bayescale suggest`` narrows N* faster per FLOP than an isoFLOP grid.

    .venv/bin/python bench/bench_suggest.py [--seeds 8] [--rounds 2]

Truth: the Chinchilla law with Hoffmann et al.'s constants, 1% noise on log loss. Each seed
starts from a small ladder (3 budgets 1e17–1e18 FLOPs, 4 sizes each, spaced over ×8 around the
true N*) and its fit, then runs R rounds in two arms, each round spending about ``--round-flops``:

- suggest: the batch of ``bayescale.suggest`` (k = 5, min-gain 0) for N* at 1e23 FLOPs;
- isoFLOP: 5 runs at one budget (the round's FLOPs / 5), sizes spaced over e^±1.5 about the
  current median N* there (a standard next rung of the ladder).

After each round the new runs are simulated from the truth and the law is refitted (NUTS) on all
runs so far. Printed per round and arm: FLOPs spent, the mean width of the 95% interval of
log N* at 1e23, the width the suggestion predicted, and how often the interval holds the true N*.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

TRUTH = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}
TARGET = 1e23


def _loss(n: np.ndarray, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    law = TRUTH["E"] + TRUTH["A"] * n ** -TRUTH["alpha"] + TRUTH["B"] * d ** -TRUTH["beta"]
    return law * np.exp(0.01 * rng.standard_normal(np.shape(n)))


def _true_n_star(c: float) -> float:
    a, b = TRUTH["alpha"], TRUTH["beta"]
    g = (a * TRUTH["A"] / (b * TRUTH["B"])) ** (1 / (a + b))
    return g * (c / 6) ** (b / (a + b))


def _frame(n: np.ndarray, d: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({"N": n, "D": d, "loss": _loss(n, d, rng)})


def _fit(frame: pd.DataFrame, seed: int):
    import bayescale as bs

    runs = bs.runs_from_frame(frame)
    return bs.fit(runs, "chinchilla", settings=bs.SamplerSettings(seed=seed, progressbar=False))


def _width_and_hit(fit) -> tuple[float, bool]:
    q = np.log(fit.optimum([TARGET]).N_opt[:, 0])
    lo, hi = np.quantile(q, [0.025, 0.975])
    truth = np.log(_true_n_star(TARGET))
    return float(hi - lo), bool(lo <= truth <= hi)


def run_seed(seed: int, rounds: int, round_flops: float) -> list[dict]:
    import bayescale as bs

    rng = np.random.default_rng(seed)
    budgets = np.array([1e17, 3e17, 1e18])
    n = np.concatenate([_true_n_star(c) * np.exp(np.linspace(-np.log(8), np.log(8), 4)) for c in budgets])
    d = np.repeat(budgets, 4) / (6 * n)
    start = _frame(n, d, rng)
    first = _fit(start, seed)
    width, hit = _width_and_hit(first)
    rows = [{"seed": seed, "round": 0, "arm": arm, "spent": 0.0, "width": width, "hit": hit, "predicted": width,
             "converged": first.gates.passed} for arm in ("suggest", "isoflop")]
    for arm in ("suggest", "isoflop"):
        frame, fit, spent = start, first, 0.0
        for r in range(1, rounds + 1):
            if arm == "suggest":
                chosen = bs.suggest(fit, TARGET, round_flops, k=5, min_gain=0.0, seed=seed + r)
                new = np.array([[x["N"], x["D"]] for x in chosen.runs])
                predicted = chosen.runs[-1]["width_after"] if chosen.runs else chosen.width_now
            else:
                c = round_flops / 5
                center = float(np.median(fit.optimum([c]).N_opt[:, 0]))
                sizes = center * np.exp(np.linspace(-1.5, 1.5, 5))
                new = np.column_stack([sizes, c / (6 * sizes)])
                predicted = float("nan")
            spent += float(np.sum(6 * new[:, 0] * new[:, 1]))
            frame = pd.concat([frame, _frame(new[:, 0], new[:, 1], rng)], ignore_index=True)
            fit = _fit(frame, seed + 100 * r)
            width, hit = _width_and_hit(fit)
            rows.append({"seed": seed, "round": r, "arm": arm, "spent": spent, "width": width, "hit": hit,
                         "predicted": predicted, "converged": fit.gates.passed})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--round-flops", type=float, default=1e19)
    args = parser.parse_args()
    start, rows = time.perf_counter(), []
    for seed in range(args.seeds):
        rows += run_seed(seed, args.rounds, args.round_flops)
        print(f"seed {seed} done ({time.perf_counter() - start:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    print(f"\nN* at {TARGET:.0e} FLOPs, {args.seeds} seeds, about {args.round_flops:.0e} FLOPs a round; "
          f"width = 95% interval of ln N*\n")
    print("| round | arm | mean FLOPs spent | mean width | predicted width | width shrink per 1e19 FLOPs | "
          "coverage of the true N* | refits converged |")
    print("|---|---|---|---|---|---|---|---|")
    base = table[table["round"] == 0].groupby("arm")["width"].mean()
    for (r, arm), g in table.groupby(["round", "arm"]):
        per = (base[arm] - g["width"].mean()) / (g["spent"].mean() / 1e19) if r else float("nan")
        print(f"| {r} | {arm} | {g['spent'].mean():.3g} | {g['width'].mean():.3f} | {g['predicted'].mean():.3f} | "
              f"{per:.3f} | {g['hit'].mean():.2f} | {g['converged'].sum()}/{len(g)} |")
    print(f"\n{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
