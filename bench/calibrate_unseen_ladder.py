"""Would `bayescale calibrate` warn a user whose table misses like a ladder the prior never saw?

    .venv/bin/python bench/calibrate_unseen_ladder.py "porian[11]" [--simulations 2] [--floor 0.005]
    .venv/bin/python bench/calibrate_unseen_ladder.py all        # every ladder: a table (about 4 minutes)

Learns the extrapolation prior (as ``learn_extrapolation.py`` does, from the ``normal`` rows of
``results/lfo_runs.csv``) without the named ladder, puts it in place of the shipped one for this
process only, fits the ladder with the default error model and runs ``bayescale.calibrate`` on
it: its rolling backtest and verdicts are what such a user would read. About 10 s a ladder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import learn_extrapolation as le  # noqa: E402
from ladders import DATA, ladders  # noqa: E402


def calibrate_without(name: str, simulations: int, floor: float):
    """``bayescale.calibrate`` of the ladder ``name``, fitted with a prior learned without it."""
    import bayescale as bs
    import bayescale.laws.extrapolation as extrapolation

    frame = le.with_floor(le.held_out_rows("normal"), floor)
    learned = le.learn(frame[frame.ladder != name], ("compute", "compute_ratio_shift"))
    prior = json.loads(le.PRIOR.read_text()) | {k: learned[k] for k in ("mu", "omega", "weights")}
    prior["sigma_floor"] = floor
    extrapolation._prior_text = lambda: json.dumps(prior)  # this process only: the package's file is untouched
    ladder = {ladder.name: ladder for ladder in ladders()}[name]
    fit = bs.fit(ladder.read(), ladder.law, settings=bs.SamplerSettings(seed=0, progressbar=False))
    return learned, bs.calibrate(fit, simulations=simulations, seed=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ladder", help='a ladder of ladders.py, e.g. "porian[11]", or "all"')
    parser.add_argument("--simulations", type=int, default=2)
    parser.add_argument("--floor", type=float, default=0.005, help="the floor under sigma (shipped: 0.005)")
    args = parser.parse_args()
    names = [ladder.name for ladder in ladders()]
    if args.ladder != "all" and args.ladder not in names:
        raise SystemExit(f"no ladder {args.ladder!r}; ladders: {', '.join(names)}")
    if not DATA.exists() or not le.RUNS.exists():
        print(f"needs the shared data at {DATA} and {le.RUNS} (lfo_collect.py normal)")
        return 0
    if args.ladder != "all":
        learned, cal = calibrate_without(args.ladder, args.simulations, args.floor)
        print(f"prior learned without {args.ladder}: mu {learned['mu']:.3g}, omega {learned['omega']:.3g}, "
              f"weights {learned['weights']}")
        print(cal)
        return 0
    print("| ladder | first origin: runs, coverage | pooled: scores, coverage | reach (decades) | "
          "isoFLOP minima: count, inside law N*, inside predictive N* | flagged |")
    print("|---|---|---|---|---|---|")
    for name in names:
        _, cal = calibrate_without(name, args.simulations, args.floor)
        bt = cal.backtest
        first = bt["rolling"][0]
        flagged = "yes" if cal.to_dict()["verdicts"][0].startswith("On your own runs") else "no"
        v = bt.get("vertices")
        minima = (f"{v['budgets']}, {v['N_opt']['inside']:.2f}, {v['N_opt_predictive']['inside']:.2f}"
                  if v and "N_opt_predictive" in v else "–")
        print(f"| {name} | {first['n_holdout']}, {first['coverage']:.2f} | {bt['runs']}, {bt['coverage']:.2f} | "
              f"{bt['reach']:.2g} | {minima} | {flagged} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
