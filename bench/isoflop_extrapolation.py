"""How far does the isoFLOP model's power law miss a larger budget's minimum? The 15 Porian sweeps.

For each sweep and K = 1, 2, 3: hold out the top K budgets, fit the isoFLOP model to the rest
(default settings, unbracketed budgets left out), and compare its N* at the top budget with that
budget's vertex (least-squares parabola, with its standard error; as ``bench_vertex.py``). The
rows go to ``results/isoflop_extrapolation.csv``: the log N* draws' mean and sd on the line
(``line_*``) and with the scatter of a new budget's minimum, tau (``new_*``), the vertex and its
se, and ``decades``, log10 of the top budget over the largest fitted one.

Then how much wider the predictive N* must be. Two forms, each fitted by maximum likelihood of
the vertices (their own se included), on all sweeps and leaving each sweep out in turn, and
scored leave one sweep out (95% coverage, rms z, median width, log density):

- ``spread``: the predictive's spread in log N* times a factor (shipped in
  ``bayescale/decisions/isoflop_spread.json`` with ``--write``);
- ``rate``: plus a miss ``rate * decades * e``, e ~ N(0, 1), that grows beyond the fitted budgets.

    .venv/bin/python bench/isoflop_extrapolation.py [--collect] [--write]   # --collect: 45 fits, ~3 min
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladders import DATA, PORIAN, porian_sweeps  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "isoflop_extrapolation.csv"
SHIPPED = Path(__file__).resolve().parent.parent / "bayescale" / "decisions" / "isoflop_spread.json"
Z95 = stats.norm.ppf(0.975)


def collect() -> pd.DataFrame:
    from bayescale.decisions.budgets import bin_budgets, budget_centres
    from bayescale.decisions.isoflop import DEFAULT_SETTINGS, IsoflopError, fit_isoflop
    from bayescale.decisions.vertices import parabola_vertex

    rows = []
    for config, runs in porian_sweeps():
        centres = budget_centres(runs.C, ids := bin_budgets(runs.C, 0.05))
        for hold in (1, 2, 3):
            top = centres[-1]
            at_top = ids == centres.size - 1
            found = parabola_vertex(np.log(runs.N[at_top]), np.log(runs.loss[at_top]), bounded=False)
            train = replace(runs, frame=runs.frame[ids < centres.size - hold].reset_index(drop=True))
            if found is None:
                continue
            try:
                iso = fit_isoflop(train, settings=replace(DEFAULT_SETTINGS, progressbar=False), drop_unusable=True)
            except IsoflopError as err:
                print(f"config {config}, hold {hold}: {err}", flush=True)
                continue
            # the model's own predictive, before the shipped factor widens it (IsoflopFit.optimum)
            line = np.log(iso.at([top])[0][:, 0])
            new = line + iso.tau * np.random.default_rng(config).standard_normal(line.size)
            rows.append({"config": config, "hold": hold, "budget": top, "decades": np.log10(top / iso.budgets.max()),
                         "line_mean": line.mean(), "line_sd": line.std(), "new_mean": new.mean(), "new_sd": new.std(),
                         "vertex": found[0], "vertex_se": found[1], "gates": iso.gates.passed,
                         "budgets_fitted": iso.budgets.size})
            print(f"config {config:2d} hold {hold}: {rows[-1]['decades']:.2f} decades, z "
                  f"{(found[0] - new.mean()) / np.hypot(new.std(), found[1]):+.2f}", flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(OUT, index=False)
    return frame


def _sd(frame: pd.DataFrame, form: str, value: float | np.ndarray) -> pd.Series:
    """The predictive sd of log N* under ``form`` with its parameter ``value``."""
    if form == "spread":
        return value * frame.new_sd
    return np.sqrt(frame.new_sd**2 + (value * frame.decades) ** 2)


def fitted(frame: pd.DataFrame, form: str) -> float:
    """Maximum-likelihood parameter of ``form`` (a factor, or a rate per decade)."""
    def nll(log_value: float) -> float:
        sd = _sd(frame, form, np.exp(log_value))
        return -stats.norm.logpdf(frame.vertex, frame.new_mean, np.hypot(sd, frame.vertex_se)).sum()

    return float(np.exp(optimize.minimize_scalar(nll, bounds=(-8, 3), method="bounded").x))


def scored(frame: pd.DataFrame, form: str, value: float | np.ndarray) -> dict[str, float]:
    sd = _sd(frame, form, value)
    z = (frame.vertex - frame.new_mean) / np.hypot(sd, frame.vertex_se)
    inside = np.abs(frame.vertex - frame.new_mean) <= Z95 * sd
    lpd = stats.norm.logpdf(frame.vertex, frame.new_mean, np.hypot(sd, frame.vertex_se))
    return {"n": len(frame), "inside": float(inside.mean()), "within_error": float((np.abs(z) <= Z95).mean()),
            "rms_z": float(np.sqrt(np.mean(z**2))), "width": float(np.median(np.exp(2 * Z95 * sd))),
            "lpd": float(lpd.mean())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collect", action="store_true", help="refit the 45 held-out splits first")
    parser.add_argument("--write", action="store_true", help="write the learned factor into the package")
    args = parser.parse_args()
    if args.collect:
        if not PORIAN.exists():
            print(f"no shared data at {DATA}")
            return 0
        frame = collect()
    else:
        frame = pd.read_csv(OUT)
    forms = {form: (fitted(frame, form), np.array([fitted(frame[frame.config != c], form) for c in frame.config]))
             for form in ("spread", "rate")}
    for form, (pooled, loso) in forms.items():
        print(f"{form}: {pooled:.3f} on all sweeps (leaving each sweep out: {loso.min():.3f}–{loso.max():.3f})")
    print("\n| held-out top budgets | minima | N* interval | holds the minimum | within its error | rms z | "
          "median width | lpd |")
    print("|---|---|---|---|---|---|---|---|")
    table = {}
    for hold in sorted(frame.hold.unique()):
        part = (frame.hold == hold).to_numpy()
        for label, form, value in (("line and tau", "spread", 1.0),
                                   ("spread × factor learned without the sweep", "spread", forms["spread"][1][part]),
                                   ("+ miss ∝ decades, rate learned without the sweep", "rate", forms["rate"][1][part])):
            r = scored(frame[part], form, value)
            if label.startswith("spread"):
                table[f"{2**int(hold)}x"] = {k: round(v, 3) for k, v in r.items()}
            print(f"| {hold} ({2**hold}×) | {r['n']} | {label} | {r['inside']:.2f} | {r['within_error']:.2f} | "
                  f"{r['rms_z']:.2f} | {r['width']:.2f}× | {r['lpd']:.2f} |")
    if args.write:
        shipped = {"spread_factor": round(forms["spread"][0], 4),
                   "form": "log N* of a new budget's minimum = its mean + factor * (draw - mean), the draws being the "
                           "power law's line plus the minima's scatter tau",
                   "learned_from": [f"porian[{c}]" for c in sorted(frame.config.unique())],
                   "splits": int(len(frame)), "leave_one_sweep_out": table,
                   "bench": "bench/isoflop_extrapolation.py", "data": "Porian et al. 2024 isoFLOP points "
                   "(../shared/data/porian_isoflops), each sweep's top 1, 2 and 3 budgets held out"}
        SHIPPED.write_text(json.dumps(shipped, indent=2) + "\n")
        print(f"wrote {SHIPPED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
