"""First attempts of NUTS in a law's own coordinates against its ``[sampling]`` coordinates.

For each real table, the same law is compiled twice, sampled in E, A, alpha, … (the law with its
``[sampling]`` table removed) and in the shares and slopes the law file declares, and each is
sampled once per seed with the default settings (4 chains × 500 draws after 500 of warm-up, no
retries). Prints, per table and coordinates: first attempts that pass every gate, the median
over seeds of the smallest bulk ESS and of the largest R-hat, attempts with any divergence, and
seconds per attempt (sampling only; compiled once).

    .venv/bin/python bench/bench_coordinates.py [--seeds 8] [--cases misfitting/chinchilla,chinchilla/chinchilla]

The tables are ladders of ``ladders.py``, read as the leave-future-out measurements read them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladders import DATA, ladders  # noqa: E402

#: Ladder (``ladders.py``) and law of each case; every law here has a ``[sampling]`` table.
CASES = {name: (name.split("/")[0], name.split("/")[1]) for name in (
    "misfitting/chinchilla", "gadre[c4_original]/chinchilla", "gadre[rpj]/chinchilla", "gadre[rw_original]/chinchilla",
    "porian[1]/chinchilla", "porian[8]/chinchilla", "porian[11]/chinchilla", "chinchilla/chinchilla",
    "chinchilla/chinchilla_tied", "datablations/data_constrained", "misfitting/kaplan_floor",
    "porian[2]/kaplan_floor", "porian[4]/kaplan_floor", "porian[8]/kaplan_floor", "chinchilla/kaplan_floor",
    "gadre[rpj]/kaplan_floor")}


def first_attempts(law, runs, seeds: int) -> dict:
    """Sample ``law`` once per seed without retries; the gates' verdicts and the time."""
    from bayescale.inference.gates import check_gates
    from bayescale.inference.model import compiled_law_model, scales_of
    from bayescale.inference.sampling import SamplerSettings, sample

    compiled = compiled_law_model(law, runs, scales_of(runs))
    passed, ess, r_hat, diverged, seconds = 0, [], [], 0, 0.0
    for seed in range(seeds):
        start = time.perf_counter()
        trace = sample(compiled, law.priors, SamplerSettings(seed=100 + seed, progressbar=False))
        seconds += time.perf_counter() - start
        posterior = trace["posterior"].to_dataset()[list(law.all_parameters)]
        gates = check_gates(posterior, trace["sample_stats"].to_dataset()["diverging"])
        passed += gates.passed
        ess.append(min(gates.ess_bulk.values()))
        r_hat.append(max(gates.r_hat.values()))
        diverged += gates.divergences > 0
    return {"passed": passed, "ess": float(np.median(ess)), "r_hat": float(np.median(r_hat)),
            "diverged": diverged, "seconds": seconds / seeds}


def main() -> None:
    import bayescale as bs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    args = parser.parse_args()
    by_name = {ladder.name: ladder for ladder in ladders()}
    print("| table | law | coordinates | first attempts passing | median min bulk ESS | median max R-hat "
          "| attempts with divergences | s per attempt |\n|---|---|---|---|---|---|---|---|")
    for case in args.cases.split(","):
        name, law_name = CASES[case]
        ladder = by_name[name]
        if not (DATA / ladder.path).exists():
            print(f"| {name} | skipped: {DATA / ladder.path} not found |")
            continue
        runs, law = ladder.read(), bs.load_law(law_name)
        for label, variant in (("the law's own", dataclasses.replace(law, sampling=None)), ("[sampling]", law)):
            r = first_attempts(variant, runs, args.seeds)
            print(f"| {name} | {law_name} | {label} | {r['passed']}/{args.seeds} | {r['ess']:.0f} | {r['r_hat']:.3f} "
                  f"| {r['diverged']} | {r['seconds']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
