"""Every built-in law on every real table it suits, with default settings: wall time and gates.

Each case is one whole `bayescale` process, as a user runs it (import, read, compile, sample,
gates, optimum or summary), so compile time is included. Needs ../shared/data.

    .venv/bin/python bench/bench_tables.py            # all cases, prints a Markdown table
    .venv/bin/python bench/bench_tables.py porian     # only cases whose name contains "porian"

Targets (issue 8): each fit ≤ 10 s on 2 cores with the gates passing; a 3-law backtest of
~130 runs ≤ 20 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CLI = [str(ROOT / ".venv" / "bin" / "bayescale")]

CHIN = [str(DATA / "chinchilla_epoch" / "chinchilla_runs.csv"), "--exclude-where", "epoch_excluded_outlier=1"]
DATABL = [str(DATA / "datablations_muennighoff" / "datablations_c4_final_losses.csv")]
COMPR = [str(DATA / "compression_bpc_hkust" / "compression_bpc_with_N_D.csv"), "--n-col", "N_active_billions",
         "--d-col", "D_trillions", "--loss-col", "bpc_average", "--n-unit", "billion", "--d-unit", "trillion",
         "--loss-unit", "bits/char", "--where", "D_confidence=high"]
GADRE = [str(DATA / "overtrain_gadre" / "overtrain_runs.csv"), "--loss-col", "loss_c4_val", "--c-col", "C_flops_6ND"]
MISFIT = [str(DATA / "misfitting_li" / "misfitting_best_lr_final.csv"), "--c-col", "C_6ND"]
PORIAN = [str(DATA / "porian_isoflops" / "porian_isoflop_points.csv"), "--c-col", "flops_budget"]
# final losses of ColPret's training curves: the last checkpoint of each model
COLPRET = [str(DATA / "colpret_hitchhiker" / "colpret_subset_long.csv"), "--last-per", "model_name"]
GPT3 = [*COLPRET, "--where", "family=gpt3_digitized", "--where", "loss_kind=val_loss"]
OPT = [*COLPRET, "--where", "family=opt"]
CURVES = [*COLPRET, "--where", "family=datablations_curves", "--where", "eval_set=c4", "--u-col", "unique_tokens"]


def cases() -> list[tuple[str, list[str]]]:
    out = [(f"chinchilla_epoch/{law}", ["fit", *CHIN, "--law", law, "-c", "5.76e23"])
           for law in ("chinchilla", "chinchilla_tied", "kaplan", "kaplan_floor")]
    out += [("datablations/data_constrained", ["fit", *DATABL, "--law", "data_constrained"])]
    out += [(f"compression/{law}", ["fit", *COMPR, "--law", law]) for law in ("compute_power", "compute_loglinear")]
    out += [(f"overtrain_gadre[{d}]/{law}", ["fit", *GADRE, "--where", f"dataset={d}", "--law", law])
            for d in ("c4_original", "rw_original", "rpj") for law in ("chinchilla", "kaplan_floor")]
    out += [(f"misfitting_li/{law}", ["fit", *MISFIT, "--law", law]) for law in ("chinchilla", "kaplan_floor")]
    # GPT-3's 8 and OPT's 6 models all saw about 3e11 tokens: laws in compute (equivalently in N) suit them
    out += [(f"colpret[gpt3]/{law}", ["fit", *GPT3, "--law", law]) for law in ("compute_power", "compute_loglinear")]
    out += [("colpret[opt]/compute_loglinear", ["fit", *OPT, "--law", "compute_loglinear"])]
    out += [("colpret[datablations curves, c4]/data_constrained", ["fit", *CURVES, "--law", "data_constrained"])]
    out += [(f"porian[config {i}]/kaplan_floor", ["fit", *PORIAN, "--where", f"config_id={i}", "--law", "kaplan_floor"])
            for i in (0, 4, 8)]
    # unbracketed budgets (setups 1, 5 and 11 have two each) left out rather than refused, as a user would
    out += [(f"porian[config {i}]/isoflop", ["isoflop", *PORIAN, "--where", f"config_id={i}", "--drop-unusable"])
            for i in range(15)]
    for workers in (1, 2):
        out += [(f"porian[config 2]/backtest 3 laws, {workers} worker(s)",
                 ["backtest", *PORIAN, "--where", "config_id=2", "--laws", "chinchilla,chinchilla_tied,kaplan_floor",
                  "--workers", str(workers)])]
    return out


def run(name: str, argv: list[str], scratch: Path) -> dict:
    extra = ["--out", str(scratch / "fit.nc")] if argv[0] == "fit" else []
    start = time.perf_counter()
    proc = subprocess.run([*CLI, *argv, *extra, "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    row = {"case": name, "wall_s": wall, "exit": proc.returncode, "gates": "?", "attempts": 1}
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        row["gates"] = (proc.stderr.strip().splitlines() or ["no output"])[-1][:80]
        return row
    if argv[0] == "backtest":
        row["gates"] = " ".join("pass" if v["gates"] else "FAIL" for v in data["laws"].values())
        row["runs"] = data["n_train"] + data["n_holdout"]
        return row
    gates = data.get("gates", {})
    row["gates"] = ("pass" if gates.get("passed") else "FAIL") + (
        f" (R-hat {max(gates['r_hat'].values()):.3f}, ESS {min(gates['ess_bulk'].values()):.0f})" if gates else "")
    row["attempts"] = data.get("attempts", 1)
    return row


def main() -> int:
    if not DATA.exists():
        print(f"no shared data at {DATA}; nothing to measure")
        return 0
    wanted = sys.argv[1] if len(sys.argv) > 1 else ""
    import compileall
    import tempfile

    compileall.compile_dir(ROOT / "bayescale", quiet=1)  # as an installed package has it (see bench_fit.py)

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, argv in cases():
            if wanted in name:
                rows.append(run(name, argv, Path(scratch)))
                r = rows[-1]
                print(f"{r['case']:<48} {r['wall_s']:6.1f} s  exit {r['exit']}  {r['gates']}", file=sys.stderr, flush=True)
    print("| case | wall s | exit | gates | attempts |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['wall_s']:.1f} | {r['exit']} | {r['gates']} | {r['attempts']} |")
    fits = [r for r in rows if "backtest" not in r["case"]]
    if fits:
        over = [r["case"] for r in fits if r["wall_s"] > 10 or r["exit"] != 0]
        print(f"\n{len(fits) - len(over)} of {len(fits)} fits within 10 s with gates passing"
              + (f"; not: {', '.join(over)}" if over else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
