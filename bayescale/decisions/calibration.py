"""Calibration as an output: how often does a fit's kind of interval hold the truth?

Two measurements, both on the user's own design:

- **simulated**: K synthetic tables drawn from the fit's posterior predictive at the user's runs
  (a posterior draw as the truth, the error model's noise on top), each refitted on its runs
  below the top ``holdout_top`` of compute. Reported: the coverage of the parameters' intervals,
  of N* at the budgets, and of the predictive intervals of the held-out top-compute runs, each
  with its Monte-Carlo standard error. The truth here is the law itself, so this checks the
  sampler and the priors, not the law's form.
- **backtest**: the user's real runs with a rolling origin: fit below each of the top compute
  bins in turn and score every run from that bin up (coverage, mean width, interval score, elpd
  per run, and how far beyond the fitted runs it reached). This is what tells whether the law's
  form holds beyond the runs, as far as the runs reach.

Refits reuse one compiled model (:func:`bayescale.inference.model.compiled_law_model`) and run on
a process pool or a distributed engine; results do not depend on the number of workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bayescale.decisions.verdicts import verdicts, vertex_text
from bayescale.errors import BayescaleError

__all__ = ["Calibration", "calibrate"]

_MIN_HOLDOUT = 2


@dataclass(frozen=True)
class Calibration:
    """Coverage of a fit's intervals, simulated and on its own runs (see the module's docstring).

    Attributes
    ----------
    simulated : dict
        ``N_opt``, ``holdout_loss`` and ``parameters.<name>``, each ``{"coverage", "mc_se"}``
        (and ``N_opt_predictive`` where the error model has a miss: in simulations from the law
        itself it over-covers, as the miss is for laws that fail),
        plus ``simulations``, ``converged_refits`` and ``budgets``.
    backtest : dict
        Pooled ``coverage``, ``mean_width``, ``interval_score``, ``elpd_per_run``, ``runs``, and
        ``rolling``: one entry per origin.
    converged : bool
        Whether the calibrated fit itself passed its convergence gates.
    prob : float
    fit_id : str
    noise : str
        The error model whose intervals were measured.
    """

    simulated: dict
    backtest: dict
    converged: bool
    prob: float
    fit_id: str
    noise: str
    sensitivity: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able form (what ``bayescale calibrate --json`` prints and ``--out`` saves)."""
        out = {"kind": "bayescale calibration", "schema": 1, "fit_id": self.fit_id, "noise": self.noise,
               "prob": self.prob, "converged": self.converged, "simulated": self.simulated, "backtest": self.backtest}
        if self.sensitivity:
            out["sensitivity"] = self.sensitivity
        out["verdicts"] = verdicts(out)
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        from bayescale.files import write_json

        return write_json(path, self.to_dict(), "calibration file")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Calibration:
        """Read a file written by :meth:`save`."""
        from bayescale.files import read_saved_json

        data = read_saved_json(path, ("bayescale calibration",), "is not a bayescale calibration file",
                               "write one with bayescale calibrate FIT.nc --out CAL.json")
        return cls(data["simulated"], data["backtest"], data["converged"], data["prob"], data["fit_id"],
                   data["noise"], data.get("sensitivity", {}))

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        pct = f"{100 * self.prob:g}%"
        sim = self.simulated
        lines = [f"calibration of {pct} intervals (error model '{self.noise}', fit {self.fit_id})"]
        if not self.converged:
            lines.append("WARNING: the calibrated fit did not pass its convergence gates; these figures describe a "
                         "fit you should not use")
        lines.append(f"simulated ({sim['simulations']} synthetic tables at your design, {sim['converged_refits']} "
                     f"refits converged; truth = a posterior draw):")
        rows = [("N* at " + ", ".join(f"{b:.3g}" for b in sim["budgets"]) + " FLOPs", sim.get("N_opt")),
                ("N* with the law's miss (predictive)", sim.get("N_opt_predictive")),
                ("held-out top-compute losses", sim.get("holdout_loss"))]
        rows += [(f"parameter {name}", value) for name, value in sim["parameters"].items()]
        for label, value in rows:
            if value:
                lines.append(f"  {label:<40} coverage {value['coverage']:.2f} ± {value['mc_se']:.2f}")
        bt = self.backtest
        reach = f"; up to {bt['reach']:.2g} decades of compute beyond the fitted runs" if "reach" in bt else ""
        lines.append(f"backtest on your runs (rolling origin, {len(bt['rolling'])} origins, {bt['runs']} scores{reach}):")
        lines.append(f"  coverage {bt['coverage']:.2f}, mean width {bt['mean_width']:.3g}, interval score "
                     f"{bt['interval_score']:.3g}, elpd per run {bt['elpd_per_run']:.3g}")
        for origin in bt["rolling"]:
            lines.append(f"    fit on C < {origin['cutoff']:.3g}: the {origin['n_holdout']} runs above, coverage "
                         f"{origin['coverage']:.2f}, interval score {origin['interval_score']:.3g}")
        if "vertices" in bt:
            lines.append(f"  {vertex_text(bt['vertices'], pct)}")
        for name, moves in self.sensitivity.items():
            lines.append(f"prior sensitivity ({name}): " + ", ".join(f"{k} {v:+.1%}" for k, v in moves.items()))
        lines.append(f"Monte-Carlo error: ± is one standard error over {sim['simulations']} simulations; "
                     "use --simulations for more")
        lines += [f"verdict: {text}" for text in self.to_dict()["verdicts"]]
        return "\n".join(lines)


def _coverage(inside: np.ndarray) -> dict[str, float]:
    """Mean of per-simulation coverages and its Monte-Carlo standard error."""
    inside = np.asarray(inside, dtype=float)
    inside = inside[np.isfinite(inside)]
    if inside.size == 0:
        return {}
    k = inside.size
    p = float(inside.mean())
    spread = inside.std(ddof=1) if k > 1 else 0.0
    # a binary coverage of 0 or 1 in every simulation has no spread: bound the error by one run in K
    return {"coverage": p, "mc_se": float(max(spread / np.sqrt(k), np.sqrt(max(p * (1 - p), 1.0 / k) / k)))}


def _simulate_one(task: tuple) -> dict:
    """One synthetic table: draw the truth, simulate losses, refit below the top compute, score."""
    from bayescale.decisions.backtesting import score_holdout, split_by_compute
    from bayescale.results.fitted import law_inputs
    from bayescale.results.fitting import fit as fit_law
    from bayescale.results.optimum import compute_optimum, interval

    law, runs, scales, truth, budgets, holdout_top, settings, prob, seed, refit_near = task
    rng = np.random.default_rng(seed)
    expanded = law.with_run_axis(truth)
    mu = np.log(law.loss(expanded, scales, **law_inputs(law, runs)))
    noise = {k: expanded[k] for k in law.noise_parameters}
    frame = runs.frame.copy()
    frame["loss"] = np.exp(law.error_model.draw(mu, noise, rng))
    synthetic = replace(runs, frame=frame)
    train, held, _ = split_by_compute(synthetic, holdout_top)
    # normalized by the fit's reference scales, not the subset's own geometric means: a parameter defined at
    # a reference point (compute_power's L0, the loss at C_ref) then means the same in the truth and the refit
    refit = fit_law(train, law, settings=settings, allocation_refit=refit_near, scales=scales)
    draws = refit.draws()
    draws |= refit.law.physical_parameters(draws, refit.scales)
    true_values = {**truth, **law.physical_parameters(truth, scales)}
    out: dict[str, Any] = {"converged": bool(refit.gates.passed)}
    for name in law.all_parameters:
        _, lo, hi = interval(np.asarray(draws[name]), prob)
        value = np.asarray(true_values[name], dtype=float)
        out[name] = float(np.mean((value >= lo) & (value <= hi)))
    if budgets is not None and not law.dims:
        true_n = compute_optimum(law, {k: np.atleast_1d(v) for k, v in truth.items()}, scales, budgets).N_opt[0]
        found = refit.optimum(budgets)
        for key in ("N_opt", "N_opt_predictive"):  # the law's N*, and the surface's where the error model has a miss
            if getattr(found, key) is not None:
                _, lo, hi = interval(getattr(found, key), prob)
                out[key] = float(np.mean((true_n >= lo) & (true_n <= hi)))
    out["holdout_loss"] = score_holdout(refit, held, prob)["coverage"]
    return out


def calibrate(
    fit: Any,
    simulations: int = 20,
    *,
    budgets: Any = None,
    holdout_top: float = 0.25,
    bins: int = 3,
    prob: float = 0.95,
    seed: int = 0,
    workers: int = 1,
    engine: str = "local",
    sensitivity: bool = False,
    settings: Any = None,
) -> Calibration:
    """Measure how often the fit's kind of interval holds the truth (see the module's docstring).

    Parameters
    ----------
    fit : Fit
        A fit (:func:`bayescale.fit` or :meth:`bayescale.Fit.load`).
    simulations : int
        Synthetic tables to refit (K). The Monte-Carlo error of a coverage is about
        ``sqrt(p (1 - p) / K)``: 0.05 at K = 20 for p = 0.95.
    budgets : sequence of float, optional
        Budgets (FLOPs) at which N* coverage is measured; by default 10× and 100× the largest run.
    holdout_top : float
        Fraction of runs, largest compute first, held out (simulated tables and backtest).
    bins : int
        Rolling origins of the backtest: the held-out top is cut into this many compute bins.
    prob : float
        Probability of the intervals.
    seed : int
        Seeds the truths, the synthetic noise and every refit (task by task).
    workers, engine
        Processes for the refits (:func:`bayescale.inference.workers.run_tasks`).
    sensitivity : bool
        Also refit with every prior's scale doubled and halved and report how far N* and L*
        move (:func:`bayescale.decisions.sensitivity.prior_sensitivity`).
    settings : SamplerSettings, optional
        Sampler settings of the refits; by default those the fit was sampled with.
    """
    from bayescale.decisions.backtesting import split_by_compute
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.inference.workers import run_tasks, task_seed

    if not (isinstance(simulations, int | np.integer) and simulations >= 2):
        raise BayescaleError("the number of simulations (--simulations, simulations= in Python) must be a whole "
                             "number of at least 2 (20 by default)")
    if not 0 < prob < 1:
        raise BayescaleError("--prob (prob= in Python) must lie strictly between 0 and 1, e.g. 0.95")
    if not fit.gates.passed:
        import logging

        logging.getLogger("bayescale").warning(
            "calibrating a fit that did not pass its convergence gates; the output says so")
    runs, law = fit.runs, fit.law
    _, held, _ = split_by_compute(runs, holdout_top)
    if runs.n_runs - held.n_runs < len(law.all_parameters) + 2 or held.n_runs < _MIN_HOLDOUT:
        raise BayescaleError(f"the table is too small to hold anything out: {runs.n_runs} runs, {held.n_runs} in the "
                             f"top {holdout_top:.0%} of compute; a law with {len(law.all_parameters)} parameters needs "
                             "more below it. Add runs or change holdout_top (--holdout-top)")
    if settings is None:
        settings = SamplerSettings.from_dict(fit.sampler)
    settings = replace(settings, progressbar=False)
    has_optimum = {"N", "D"} <= set(law.variables) and "U" not in law.variables and not law.dims
    if budgets is None and has_optimum:
        budgets = np.array([10.0, 100.0]) * float(runs.C.max())
    budgets = None if not has_optimum else np.atleast_1d(np.asarray(budgets, dtype=float))
    draws = fit.draws()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(next(iter(draws.values()))), simulations)
    # the refits answer N* as the fit does: from a refit near the optima when the fit made one
    refit_near = fit.allocation is not None
    tasks = [(law, runs, fit.scales, {k: v[j] for k, v in draws.items()}, budgets, holdout_top,
              replace(settings, seed=task_seed(seed, i)), prob, task_seed(seed, 100_000 + i), refit_near)
             for i, j in enumerate(picks)]
    results = run_tasks(_simulate_one, tasks, workers=workers, engine=engine)
    simulated = {
        "simulations": simulations,
        "converged_refits": int(sum(r["converged"] for r in results)),
        "budgets": [] if budgets is None else [float(b) for b in budgets],
        "holdout_loss": _coverage([r["holdout_loss"] for r in results]),
        "parameters": {name: _coverage([r[name] for r in results]) for name in law.all_parameters},
    }
    if budgets is not None:
        simulated["N_opt"] = _coverage([r["N_opt"] for r in results])
        if all("N_opt_predictive" in r for r in results):
            simulated["N_opt_predictive"] = _coverage([r["N_opt_predictive"] for r in results])
    from bayescale.decisions.backtesting import rolling_backtest

    backtest = rolling_backtest(fit.runs, fit.law, bins, holdout_top, settings, prob, workers, engine)
    backtest["largest_run"] = float(np.max(fit.runs.C))  # where the budgets' reach is measured from
    moves = {}
    if sensitivity:
        from bayescale.decisions.sensitivity import prior_sensitivity

        moves = prior_sensitivity(fit, budgets, settings=settings)
    return Calibration(simulated, backtest, bool(fit.gates.passed), prob, fit.id, law.noise, moves)
