"""What a calibration says, in sentences: which intervals held the truth less often than they
claim, what to do about it, and how far the checks reached.

Pure functions of a calibration's JSON form (:meth:`bayescale.decisions.calibration.Calibration.to_dict`
or a saved file), so the CLI, the JSON and the report's page read one verdict.
"""

from __future__ import annotations

import numpy as np

__all__ = ["verdicts", "vertex_text"]

#: The backtest needs this many held-out runs before its coverage is read as a verdict.
_MIN_VERDICT_RUNS = 8
#: Coverage this far below nominal on the user's own held-out runs is called too narrow.
_BACKTEST_SHORTFALL = 0.15
#: Held-out isoFLOP minima needed before N*'s coverage is read as a verdict.
_MIN_VERDICT_VERTICES = 3


def vertex_text(vertices: dict, pct: str) -> str:
    """One line on the held-out isoFLOP curves' minima against the N* intervals."""
    parts = [f"{label} {vertices[name]['inside']:.0%} (within its error {vertices[name]['within_error']:.0%})"
             for name, label in (("N_opt", "the law's"), ("N_opt_predictive", "with the law's miss"))
             if name in vertices]
    count = vertices["budgets"]
    what = "the minimum of 1 held-out isoFLOP curve" if count == 1 else f"minima of {count} held-out isoFLOP curves"
    return f"{what} inside the {pct} interval of N*: " + "; ".join(parts)


def verdicts(data: dict) -> list[str]:
    """What a calibration (:meth:`Calibration.to_dict`, or a saved file) says about the fit's
    intervals, in sentences: where they hold less often than they claim and what to do, then how
    far the backtest could check them.

    The backtest's runs are not independent draws (the held-out runs of one table miss together,
    and a run is scored from every origin below it), so its shortfall is judged by a plain margin,
    not a binomial test: pooled coverage more than 0.15 below nominal over at least 8 scores. A
    simulated coverage is flagged when even two Monte-Carlo standard errors above it stay more
    than 0.05 below nominal.
    """
    prob, pct = data["prob"], f"{100 * data['prob']:g}%"
    failures, caveats = [], []
    bt, sim = data["backtest"], data["simulated"]
    origins = len(bt.get("rolling", ())) or 1
    if bt["runs"] >= _MIN_VERDICT_RUNS and bt["coverage"] < prob - _BACKTEST_SHORTFALL:
        advice = ("Refit with the default error model (--noise discrepancy), whose intervals widen beyond the runs; "
                  "then read" if data.get("noise") != "discrepancy" else "Read")
        failures.append(f"On your own runs the {pct} predictive intervals held {bt['coverage']:.0%} of the held-out runs "
                        f"({bt['runs']} scores from {origins} origins): beyond your runs this table misses its law by "
                        f"more than the error model expects, so intervals there are too narrow. {advice} them as a "
                        "lower bound on the uncertainty, compare laws (bayescale backtest --laws ...), or add runs "
                        "closer to the budget.")
    elif bt["runs"] < _MIN_VERDICT_RUNS:
        caveats.append(f"The backtest scored only {bt['runs']} held-out runs: too few to judge the intervals beyond "
                       "your runs.")
    entries = [("N*", sim.get("N_opt")), ("held-out runs", sim.get("holdout_loss"))]
    entries += [(f"parameter {name}", entry) for name, entry in sim["parameters"].items()]
    short = [f"{label} ({entry['coverage']:.2f} ± {entry['mc_se']:.2f})" for label, entry in entries
             if entry and entry["coverage"] + 2 * entry["mc_se"] < prob - 0.05]
    if short:
        failures.append(f"In simulations from the fit itself the {pct} intervals of {', '.join(short)} held the truth "
                        "less often than they claim: with a design like yours those intervals are too narrow even "
                        "when the law is right (weakly identified parameters); more runs, or priors you can defend, "
                        "help.")
    vertices = bt.get("vertices", {})
    printed = vertices.get("N_opt_predictive") or vertices.get("N_opt")  # the N* interval the tool prints
    if printed and vertices["budgets"] >= _MIN_VERDICT_VERTICES and printed["inside"] < prob - _BACKTEST_SHORTFALL:
        failures.append(f"On your own runs the {pct} interval of N* held {printed['inside']:.0%} of the held-out "
                        f"isoFLOP curves' minima ({vertices['budgets']} from the origins): the best size beyond "
                        "your runs is less certain than the interval says: read it as a lower bound on that "
                        "uncertainty, and put runs at several sizes around it (bayescale suggest).")
    if "reach" in bt and sim.get("budgets") and bt.get("largest_run"):
        far = float(np.log10(max(sim["budgets"]) / bt["largest_run"]))
        if far > bt["reach"] + 0.5:
            caveats.append(f"The backtest reached {bt['reach']:.2g} decades of compute beyond the fitted runs; your "
                           f"budget {max(sim['budgets']):.3g} lies {far:.2g} decades beyond your largest run, where "
                           "the intervals rest on the error model's learned prior, which your runs cannot check.")
    if not failures:
        failures.append(f"No interval fell far short of {pct}: within 0.15 of it on your runs, within Monte-Carlo "
                        "error in simulation.")
    return failures + caveats
