"""End-to-end demo: fit the example runs in ``data/``, print N*, D*, L* with intervals, save the fit,
and show where the true values (known: the data were simulated) fall.

Run ``python -m bayescale.demo`` from the repository root.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from pathlib import Path

from bayescale.errors import BayescaleError

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns 0 when the fit passed its gates."""
    parser = argparse.ArgumentParser(prog="python -m bayescale.demo", description=__doc__)
    parser.add_argument("--data", default=str(ROOT / "data"), help="folder with example_runs.csv and example_truth.toml")
    parser.add_argument("--out", default=str(ROOT / "reports" / "example_fit.nc"), help="where to save the fit")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from bayescale.data.reading import read_runs
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import fit

    data = Path(args.data)
    try:
        truth = tomllib.loads((data / "example_truth.toml").read_text())
        runs = read_runs(data / "example_runs.csv")
    except (OSError, BayescaleError) as exc:
        print(f"demo: cannot read the example data in {data}: {exc}", file=sys.stderr)
        return 2
    print(runs.describe())
    start = time.perf_counter()
    result = fit(runs, truth["law"], settings=SamplerSettings(seed=args.seed))
    print(f"\nfitted {result.law.name} in {time.perf_counter() - start:.1f} s\n")
    print(result.summary())
    budgets = truth["optimum"]["compute"]
    optimum = result.optimum(budgets)
    print()
    print(optimum)
    print("\ntrue values (the law that generated the data, data/example_truth.toml):")
    inside_all = True
    for j, record in enumerate(optimum.to_records()):
        for name in ("N_opt", "D_opt", "L_opt"):
            true = truth["optimum"][name][j]
            r = record[name]
            inside = r["lower"] <= true <= r["upper"]
            inside_all &= inside
            print(f"  C = {record['compute']:.3g}: true {name} = {true:.4g} "
                  f"{'inside' if inside else 'OUTSIDE'} [{r['lower']:.4g}, {r['upper']:.4g}]")
    path = result.save(args.out)
    exe = Path(sys.executable).parent / "bayescale"
    try:
        shown_exe, shown_path = exe.relative_to(Path.cwd()), path.resolve().relative_to(Path.cwd())
    except ValueError:
        shown_exe, shown_path = exe, path
    print(f"\nsaved the fit to {shown_path}; next, try:\n  {shown_exe} optimum {shown_path} --compute 1e22 --json")
    if not inside_all:
        print("note: a 95% interval misses the truth about one time in twenty", file=sys.stderr)
    return 0 if result.gates.passed else 3


if __name__ == "__main__":
    sys.exit(main())
