"""Pooling on real families of few runs: the ColPret training curves of GPT-3, OPT and RedPajama.

Each family is one public model suite, each model one training curve: the checkpoints from 10% of
its run to the end, thinned to 8 per model, log-spaced in tokens (GPT-3: 8 sizes, validation
loss digitized from Brown et al.'s Fig. 4.1; OPT: 6 sizes, validation log-perplexity; RedPajama-
INCITE: 2 sizes, training loss). The losses are measured on different data, so E, A and B stay
separate; the exponents are pooled (``--pool alpha,beta --separate E,A,B``).

Fits every family alone and all three in one hierarchical model (Chinchilla law, independent
noise), and prints, per family, the 95% intervals of alpha and beta and of N* at 1e23 FLOPs.
RedPajama's two model sizes cannot pin alpha alone; pooled, it borrows the other suites'.

    .venv/bin/python bench/bench_families.py        # about 5 minutes on 2 cores
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "colpret_hitchhiker" / "colpret_subset_long.csv"
SUITES = {"gpt3_digitized": "val_loss", "opt": "val_log_ppl", "redpajama_digitized": "train_loss"}
BUDGET = 1e23


def curves_table() -> pd.DataFrame:
    """Per model, 8 checkpoints log-spaced in tokens from 10% of its run to its end."""
    frame = pd.read_csv(DATA)
    parts = []
    for family, kind in SUITES.items():
        for _, model in frame[(frame.family == family) & (frame.loss_kind == kind)].groupby("model_name"):
            model = model.sort_values("D_tokens")
            model = model[model.D_tokens >= 0.1 * model.D_tokens.max()]
            tokens = model.D_tokens.to_numpy()
            picks = {int(np.argmin(np.abs(np.log(tokens / t)))) for t in np.geomspace(tokens.min(), tokens.max(), 8)}
            parts.append(model.iloc[sorted(picks)][["family", "model_name", "N_params", "D_tokens", "loss"]])
    return pd.concat(parts, ignore_index=True)


def interval(values: np.ndarray, fmt: str = ".2f") -> str:
    lo, med, hi = np.quantile(values, [0.025, 0.5, 0.975])
    return f"{med:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def row(family: str, kind: str, sizes: np.ndarray, alpha: np.ndarray, beta: np.ndarray, n_opt: np.ndarray,
        fit, seconds: float) -> dict:
    """One line of the table: a family's exponents and N* under one fit (alone or pooled)."""
    return {"family": family, "fit": kind, "runs": int(sizes.size), "models": int(np.unique(sizes).size),
            "alpha": interval(alpha), "beta": interval(beta), "N* at 1e23": interval(n_opt, ".2g"),
            "N* upper/lower": np.quantile(n_opt, 0.975) / np.quantile(n_opt, 0.025),
            "gates": fit.gates.passed, "attempts": len(fit.attempts) or 1, "s": seconds}


def main() -> int:
    import bayescale as bs

    if not DATA.exists():
        print(f"no ColPret table at {DATA}")
        return 0
    table = curves_table()
    path = Path(tempfile.mkdtemp(prefix="bayescale-families-")) / "colpret_curves.csv"
    table.to_csv(path, index=False)
    settings = bs.SamplerSettings(progressbar=False)
    rows = []
    for family in SUITES:
        start = time.perf_counter()
        runs = bs.read_runs(path, where=[f"family={family}"])
        fit = bs.fit(runs, "chinchilla", noise="normal", settings=settings)
        draws = fit.draws()
        rows.append(row(family, "alone", runs.N, draws["alpha"], draws["beta"], fit.optimum([BUDGET]).N_opt[:, 0],
                        fit, time.perf_counter() - start))
        print(rows[-1], flush=True)
    start = time.perf_counter()
    runs = bs.read_runs(path, family_col="family")
    pooled = bs.fit(runs, "chinchilla", noise="normal", settings=settings, pool=["alpha", "beta"], separate=["E", "A", "B"])
    optima = bs.family_optima(pooled, [BUDGET])
    draws = pooled.draws()
    seconds = time.perf_counter() - start
    for i, family in enumerate(runs.levels["family"]):
        rows.append(row(family, "pooled", runs.N[runs.codes("family") == i], draws["alpha"][:, i], draws["beta"][:, i],
                        optima[family].N_opt[:, 0], pooled, seconds))
    out = pd.DataFrame(rows).sort_values(["family", "fit"])
    print(out.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
