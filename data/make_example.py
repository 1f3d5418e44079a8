"""Regenerate data/example_runs.csv and data/example_truth.toml with bayescale's simulator.

Run from the repository root:  python data/make_example.py
"""

from pathlib import Path

import numpy as np

from bayescale.decisions.simulation import simulate_isoflop
from bayescale.laws.law import Scales
from bayescale.laws.law_file import load_law
from bayescale.results.optimum import compute_optimum

HERE = Path(__file__).parent
# Hoffmann et al. 2022's published Approach-3 fit (nats/token), used as the true law.
TRUE = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}
BUDGETS = np.geomspace(1e17, 1e20, 7)
NOISE, SEED, SIZES = 0.01, 2026, 9
QUERY = [1e21, 5.76e23]

law = load_law("chinchilla")
runs = simulate_isoflop(law, TRUE, BUDGETS, SIZES, spread=8.0, noise=NOISE, seed=SEED)
runs.to_csv(HERE / "example_runs.csv", index=False, float_format="%.6g")
truth = compute_optimum(law, {k: np.array([v]) for k, v in TRUE.items()}, Scales(), QUERY)
lines = [
    "# The law that generated example_runs.csv (physical units: N parameters, D tokens).",
    'law = "chinchilla"',
    f"noise_sigma = {NOISE}  # Normal noise on log loss",
    f"seed = {SEED}",
    "",
    "[parameters]",
    *[f"{k} = {v}" for k, v in TRUE.items()],
    "",
    "[optimum]  # true compute-optimal allocation at the demo's budgets",
    f"compute = {QUERY}",
    f"N_opt = {[float(f'{x:.6g}') for x in truth.N_opt[0]]}",
    f"D_opt = {[float(f'{x:.6g}') for x in truth.D_opt[0]]}",
    f"L_opt = {[float(f'{x:.6g}') for x in truth.L_opt[0]]}",
]
(HERE / "example_truth.toml").write_text("\n".join(lines) + "\n")
print(f"wrote {len(runs)} runs and the truth file")
