"""Run by .ci/wheel_check.sh inside a fresh venv holding only the built wheel (plus the deps).

Checks that bayescale comes from that wheel (not the checkout), that every built-in law file
shipped inside it, that every law fits a table simulated from itself, gates passing, and that the
package data the defaults read (the discrepancy prior, the accelerator catalogue, the isoFLOP
spread factor) shipped too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.data.reading import runs_from_frame
from bayescale.inference.model import scales_of
from bayescale.laws.law_file import available_laws, load_law


def simulated_runs(law, seed: int = 0):
    """A 60-run grid over N, D (and epochs when the law uses U), losses from the law at its prior medians."""
    rng = np.random.default_rng(seed)
    n = np.exp(rng.uniform(np.log(1e7), np.log(3e9), 60))
    d = np.exp(rng.uniform(np.log(1e9), np.log(3e11), 60))
    frame = pd.DataFrame({"N": n, "D": d, "loss": 1.0})
    if "U" in law.variables:
        frame["U"] = d / rng.choice([1.0, 1.0, 2.0, 4.0, 8.0, 16.0], 60)
    scales = scales_of(runs_from_frame(frame))
    params = {p: float(np.median(law.priors[p].draw(4001, seed=1))) for p in law.parameters}
    variables = {v: frame[v].to_numpy() if v in frame else 6 * n * d for v in law.variables}
    frame["loss"] = law.loss(params, scales, **variables) * np.exp(0.01 * rng.standard_normal(60))
    return runs_from_frame(frame)


def _suggest_and_report(fit) -> list[str]:
    import subprocess

    fit.save("fit.nc")
    fit.runs.frame.to_csv("runs.csv", index=False)
    cli = str(Path(sys.executable).parent / "bayescale")
    steps = [[cli, "suggest", "fit.nc", "--target-compute", "1e24", "--budget", "1e21", "--min-gain", "0.01",
              "--out", "sug.json"], [cli, "report", "fit.nc", "--with", "sug.json", "-o", "report.pdf"],
             [cli, "fit", "runs.csv", "--near-optimum", "0.5", "--n-convention", "total", "-q", "--out", "near.nc"],
             [cli, "summary", "near.nc"]]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True)
        print(f"  {' '.join(argv[1:3])}: exit {done.returncode}")
        if done.returncode != 0:
            return [f"{argv[1]} from the wheel: {done.stderr.strip()[-300:]}"]
    if "selected: runs within 50%" not in done.stdout or "N counted total" not in done.stdout:
        return ["summary from the wheel does not say how the runs were selected and counted"]
    return []


def _report(fit, stem: str) -> list[str]:
    import subprocess

    fit.save(f"{stem}.nc")
    argv = [str(Path(sys.executable).parent / "bayescale"), "report", f"{stem}.nc", "-o", f"{stem}.pdf"]
    done = subprocess.run(argv, capture_output=True, text=True)
    print(f"  report {stem}.nc: exit {done.returncode}")
    return [] if done.returncode == 0 else [f"report of {stem}.nc from the wheel: {done.stderr.strip()[-300:]}"]


def _isoflop_stack() -> list[str]:
    """The installed command line: an isoFLOP analysis and a law fitted to the same sweeps, stacked."""
    import subprocess

    from bayescale.decisions.simulation import simulate_isoflop

    law = load_law("chinchilla")
    params = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 410.0, "beta": 0.28}
    simulate_isoflop(law, params, [1e17, 1e18, 1e19, 1e20], seed=2).to_csv("sweeps.csv", index=False)
    cli = str(Path(sys.executable).parent / "bayescale")
    steps = [[cli, "isoflop", "sweeps.csv", "--out", "iso.nc", "-q"], [cli, "fit", "sweeps.csv", "--out", "law.nc", "-q"],
             [cli, "optimum", "law.nc", "iso.nc", "--compute", "1e21"]]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True)
        print(f"  {' '.join(argv[1:3])}: exit {done.returncode}")
        if done.returncode != 0:
            return [f"{argv[1]} from the wheel: {done.stderr.strip()[-300:]}"]
    return [] if "stacked over 2 models" in done.stdout else ["optimum of a law and an isoFLOP analysis did not stack"]


def main() -> int:
    here = Path(bs.__file__).resolve()
    print(f"bayescale {bs.__version__} from {here}")
    if "site-packages" not in here.parts:
        print("FAIL: bayescale was not imported from the installed wheel", file=sys.stderr)
        return 1
    laws = available_laws()
    print(f"{len(laws)} built-in laws: {', '.join(laws)}")
    if len(laws) < 7:
        print("FAIL: law files are missing from the wheel", file=sys.stderr)
        return 1
    failed = []
    for name in laws:
        law = load_law(name)
        fit = bs.fit(simulated_runs(law), law, settings=bs.SamplerSettings(seed=1, progressbar=False))
        print(f"  {name:<18} {fit.gates}".splitlines()[0])
        if not fit.gates.passed:
            failed.append(name)
        if {"N", "D"} <= set(law.variables) and "U" not in law.variables:
            # beyond the runs the default error model reads its learned prior, shipped in the wheel
            inside = fit.predict(N=1e8, D=1e10).predictive[:, 0]
            beyond = fit.predict(N=1e11, D=1e13).predictive[:, 0]
            if not np.std(np.log(beyond)) > np.std(np.log(inside)):
                failed.append(f"{name} (predictions do not widen beyond the runs)")
            if name == "chinchilla":  # the installed command line: which runs next, saved and drawn in a report
                failed += _suggest_and_report(fit)
        if "U" in law.variables:  # a law of unique tokens gets its report too (at the runs' largest U)
            failed += _report(fit, "dc")
    from bayescale.planning.cluster import accelerators

    if "h100" not in accelerators():
        failed.append("the accelerator catalogue")
    failed += _isoflop_stack()
    from bayescale.decisions.isoflop_weigh import spread_factor

    if not spread_factor() > 1:  # the isoFLOP model's predictive N* reads it
        failed.append("the isoFLOP spread factor")
    if failed:
        print(f"FAIL: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("wheel check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
