"""Leave-future-out on every real ladder: fit below the top quarter of compute, predict the rest.

Writes one row per held-out run and error model to ``bench/results/lfo_runs.csv``: the observed log
loss, the predictive distribution's summaries (log scale), and how far the run lies beyond the
fitted ones (decades of compute, decades of tokens per parameter). ``bench/lfo_score.py`` turns
that into coverage tables and learns the extrapolation prior leave-one-source-out.

    .venv/bin/python bench/lfo_collect.py normal grouped       # error models to measure
    .venv/bin/python bench/lfo_collect.py --inner              # one quarter lower (below)
    .venv/bin/python bench/lfo_collect.py --unseen normal discrepancy

``--unseen`` measures the tables the extrapolation prior was not learned from (``unseen_ladders``
in ``ladders.py``: final losses of GPT-3 and OPT from ColPret) and writes
``results/lfo_unseen_runs.csv``; score it with ``lfo_score.py bench/results/lfo_unseen_runs.csv``.

``--inner`` repeats the split inside each ladder's fitted runs: the law (independent noise) fitted
below *their* top quarter of compute, the rest of them scored, rows to
``results/lfo_inner_runs.csv``. That is what a fit would do to learn its table's own rate of
failure (a study, not adopted in the package); ``table_rate_score.py`` scores it leave-one-source-out.

About 10 s a fit on 2 cores; 21 ladders per error model.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladders import DATA, ladders, unseen_ladders  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "lfo_runs.csv"
INNER = OUT.with_name("lfo_inner_runs.csv")
UNSEEN = OUT.with_name("lfo_unseen_runs.csv")
HOLDOUT_TOP = 0.25


def main(noises: list[str]) -> int:
    inner = noises == ["--inner"]
    unseen = noises[:1] == ["--unseen"]
    if unseen:
        noises = noises[1:] or ["normal"]
    elif inner:
        noises = ["normal"]
    import bayescale as bs
    from bayescale.decisions.backtesting import split_by_compute
    from bayescale.laws.extrapolation import distances
    from bayescale.results.fitted import law_inputs

    if not DATA.exists():
        print(f"no shared data at {DATA}")
        return 0
    rows = []
    for noise in noises:
        for ladder in unseen_ladders() if unseen else ladders():
            start = time.perf_counter()
            runs = ladder.read()
            train, held, cutoff = split_by_compute(runs, HOLDOUT_TOP)
            if inner:  # the same split again, inside the runs a fit of the ladder sees
                train, held, cutoff = split_by_compute(train, HOLDOUT_TOP)
            law = bs.load_law(ladder.law)
            try:
                fit = bs.fit(train, law, noise=noise, settings=bs.SamplerSettings(progressbar=False),
                             allocation_refit=False)
            except bs.BayescaleError as err:  # e.g. an error model with more parameters than the runs allow
                print(f"{noise:12s} {ladder.name:22s} skipped: {err}", flush=True)
                continue
            inputs = {k: v for k, v in law_inputs(fit.law, held).items() if k in fit.law.variables}
            pred = fit.predict(seed=1, **inputs)
            logp = np.log(pred.predictive)
            logm = np.log(pred.mean)
            y = np.log(held.loss)
            far = distances(train, N=held.N, D=held.D, C=held.C)
            adequacy = fit.adequacy()
            frame = pd.DataFrame({
                "noise": noise, "ladder": ladder.name, "source": ladder.source, "law": ladder.law,
                "n_train": train.n_runs, "N": held.N, "D": held.D, "C": held.C, "y": y,
                "law_median": np.median(logm, axis=0), "law_sd": logm.std(axis=0),
                "pred_median": np.median(logp, axis=0), "pred_sd": logp.std(axis=0),
                "lo95": np.quantile(logp, 0.025, axis=0), "hi95": np.quantile(logp, 0.975, axis=0),
                **{f"d_{k}": v for k, v in far.items()},
                "sigma": float(np.median(fit.draws()["sigma"])), "gates": fit.gates.passed,
                # in-sample residual structure of the fitted runs: does it foretell the misses beyond them?
                "adequacy_z_max": max((abs(v["z"]) for v in adequacy.worst.values()), default=0.0),
                **{f"adequacy_z_{name}": v["z"] for name, v in adequacy.worst.items()},
            })
            rows.append(frame)
            inside = ((frame.y >= frame.lo95) & (frame.y <= frame.hi95)).mean()
            print(f"{noise:12s} {ladder.name:22s} train {train.n_runs:4d} held {held.n_runs:3d} "
                  f"cover95 {inside:.2f} gates {fit.gates.passed} {time.perf_counter() - start:.1f}s", flush=True)
    out = INNER if inner else UNSEEN if unseen else OUT
    out.parent.mkdir(exist_ok=True)
    new = pd.concat(rows, ignore_index=True)
    if out.exists():
        old = pd.read_csv(out)
        new = pd.concat([old[~old.noise.isin(noises)], new], ignore_index=True)
    new.to_csv(out, index=False)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["normal"]))
