"""Backtest laws the way they are used: fit on small-compute runs, predict the largest.

Each law is fitted to the runs below a compute cutoff and scored on the held-out runs at or
above it: the log predictive density of their losses, the coverage of the posterior-predictive
intervals, and the relative error of the predicted median.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.data.runs import Runs
from bayescale.errors import BayescaleError
from bayescale.inference.sampling import SamplerSettings
from bayescale.laws.law import Law
from bayescale.laws.law_file import load_law
from bayescale.results.fitted import Fit, law_inputs

__all__ = ["Backtest", "backtest", "split_by_compute", "score_holdout", "holdout_lpd", "rolling_backtest"]


@dataclass(frozen=True)
class Backtest:
    """Scores of each law on the held-out largest-compute runs, best first.

    Attributes
    ----------
    table : pandas.DataFrame
        Per law: ``elpd`` (summed log predictive density of the held-out log losses),
        ``elpd_per_run``, ``coverage`` (fraction of held-out losses inside the ``prob``
        posterior-predictive interval), ``mean_width`` and ``interval_score`` of those intervals
        (loss units), ``median_rel_error`` (mean |median − observed| / observed),
        ``gates`` (whether the fit passed its convergence gates).
    cutoff : float
        Runs with C ≥ cutoff (FLOPs) were held out.
    n_train, n_holdout : int
    prob : float
    rolling : dict
        Law name -> :func:`rolling_backtest` result, when rolling origins were asked for.
    per_family : dict
        For a fit over families: law name -> family -> ``runs``, ``elpd_per_run`` and
        ``coverage`` of that family's held-out runs (compare pooled with separate family by family).
    """

    table: pd.DataFrame
    cutoff: float
    n_train: int
    n_holdout: int
    prob: float
    rolling: dict = field(default_factory=dict)
    per_family: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able form."""
        laws = {}
        for name, row in self.table.iterrows():
            laws[name] = {k: (bool(v) if k == "gates" else float(v)) for k, v in row.items()}
        out = {"cutoff": self.cutoff, "n_train": self.n_train, "n_holdout": self.n_holdout,
               "prob": self.prob, "laws": laws}
        if self.rolling:
            out["rolling"] = self.rolling
        if self.per_family:
            out["per_family"] = self.per_family
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON (``"kind": "bayescale backtest"``), atomically."""
        from bayescale.files import write_json

        return write_json(path, {"kind": "bayescale backtest", "schema": 1, **self.to_dict()}, "backtest file")

    def _repr_html_(self) -> str:
        from bayescale.results.html import frame_html

        return frame_html(self.table, f"backtest: fitted on {self.n_train} runs with C < {self.cutoff:.3g} FLOPs, "
                                      f"scored on {self.n_holdout} held-out runs")

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        head = (f"backtest: fitted on {self.n_train} runs with C < {self.cutoff:.3g} FLOPs, "
                f"scored on {self.n_holdout} held-out runs ({100 * self.prob:g}% predictive intervals)")
        text = head + "\n" + self.table.to_string(float_format=lambda v: f"{v:.4g}")
        for name, result in self.rolling.items():
            text += (f"\nrolling origins, {name}: " + "; ".join(
                f"C < {o['cutoff']:.3g}: coverage {o['coverage']:.2f} ({o['n_holdout']} runs)" for o in result["rolling"])
                + f"; pooled coverage {result['coverage']:.2f}, interval score {result['interval_score']:.3g}")
            if "vertices" in result:
                from bayescale.decisions.verdicts import vertex_text

                text += f"\n  {vertex_text(result['vertices'], f'{100 * self.prob:g}%')}"
        for name, families in self.per_family.items():
            text += f"\nper family, {name}: " + "; ".join(
                f"{family}: elpd/run {f['elpd_per_run']:.3g}, coverage {f['coverage']:.2f} ({f['runs']} runs)"
                for family, f in families.items())
        return text


def split_by_compute(runs: Runs, holdout_top: float) -> tuple[Runs, Runs, float]:
    """Split runs into those below a compute cutoff and the top ``holdout_top`` fraction.

    Runs that tie with the cutoff compute go to the held-out side, so a budget is never split.
    """
    if not 0 < holdout_top < 1:
        raise BayescaleError("holdout_top (--holdout-top) must be a fraction between 0 and 1, e.g. 0.2")
    order = np.sort(runs.C)
    n_hold = max(1, int(round(holdout_top * runs.n_runs)))
    cutoff = float(order[runs.n_runs - n_hold])
    held = runs.C >= cutoff
    if held.all() or not held.any():
        raise BayescaleError("every run has the same compute: nothing to hold out")

    def subset(mask: np.ndarray) -> Runs:
        return replace(runs, frame=runs.frame[mask].reset_index(drop=True))

    return subset(~held), subset(held), cutoff


def holdout_lpd(fit: Fit, holdout: Runs) -> np.ndarray:
    """Log predictive density of each held-out run's log loss: a new run's density under each draw
    (:meth:`~bayescale.laws.noise.ErrorModel.new_run_logpdf`), averaged over the draws."""
    law = fit.law
    variables = law_inputs(law, holdout)
    expanded = law.with_run_axis(fit.draws())
    mu = np.log(law.loss(expanded, fit.scales, **variables))
    noise = {k: expanded[k] for k in law.noise_parameters}
    context = fit.context(**{k: variables[k] for k in ("N", "D", "C") if k in variables})
    loglik = law.error_model.new_run_logpdf(np.log(holdout.loss), mu, noise, np.random.default_rng(0), context)
    peak = loglik.max(axis=0)
    return peak + np.log(np.mean(np.exp(loglik - peak), axis=0))


def score_holdout(fit: Fit, holdout: Runs, prob: float = 0.95) -> dict[str, float]:
    """Score a fit on runs it did not see: log predictive density, coverage, width, interval score, median error.

    ``mean_width`` and ``interval_score`` are in the loss's unit; the interval score (Gneiting and
    Raftery 2007) is the width plus 2/(1 - prob) times the distance by which a run falls outside:
    lower is better, and a narrow interval that misses pays for it. The log predictive density is
    that of a new run (:meth:`~bayescale.laws.noise.ErrorModel.new_run_logpdf`): with the error
    model's widening beyond the fitted runs, as the intervals have it.
    """
    law = fit.law
    variables = law_inputs(law, holdout)
    lpd = holdout_lpd(fit, holdout)
    labels = {d: np.asarray(holdout.levels[d], dtype=object)[holdout.codes(d)] for d in law.dims}
    prediction = fit.predict(prob=prob, **{k: v for k, v in variables.items() if k not in law.dims}, **labels)
    tail = (1.0 - prob) / 2.0
    lower, upper = np.quantile(prediction.predictive, [tail, 1.0 - tail], axis=0)
    median = np.median(prediction.mean, axis=0)
    observed = holdout.loss
    alpha = 1.0 - prob
    miss = np.maximum(lower - observed, 0.0) + np.maximum(observed - upper, 0.0)
    inside = (observed >= lower) & (observed <= upper)
    per_family = {}
    if "family" in law.dims:  # pooled against separate is judged family by family
        codes = holdout.codes("family")
        per_family = {str(name): {"runs": int(np.sum(codes == i)), "elpd_per_run": float(lpd[codes == i].mean()),
                                  "coverage": float(inside[codes == i].mean())}
                      for i, name in enumerate(holdout.levels["family"]) if np.any(codes == i)}
    return {
        "elpd": float(lpd.sum()),
        "elpd_per_run": float(lpd.mean()),
        "coverage": float(np.mean((observed >= lower) & (observed <= upper))),
        "mean_width": float(np.mean(upper - lower)),
        "interval_score": float(np.mean((upper - lower) + 2.0 / alpha * miss)),
        "median_rel_error": float(np.mean(np.abs(median - observed) / observed)),
        "gates": bool(fit.gates.passed),
        **({"per_family": per_family} if per_family else {}),
    }


def _fit_and_score(task: tuple) -> dict[str, float]:
    """One task of :func:`backtest`: fit a law on the training runs and score the held-out ones."""
    from bayescale.results.fitting import fit

    law, train, holdout, settings, prob = task
    return score_holdout(fit(train, law, settings=settings, allocation_refit=False), holdout, prob)


def backtest(
    runs: Runs,
    laws: Sequence[str | Law],
    *,
    holdout_top: float = 0.2,
    settings: SamplerSettings | None = None,
    seed: int | None = None,
    prob: float = 0.95,
    workers: int = 1,
    engine: str = "local",
    rolling: int = 0,
) -> Backtest:
    """Fit each law on the runs below a compute cutoff and score it on the rest.

    Parameters
    ----------
    runs : Runs
    laws : sequence of str or Law
        Law names, law files, or laws.
    holdout_top : float
        Fraction of runs, largest compute first, to hold out.
    settings : SamplerSettings, optional
    seed : int, optional
        Seeds the refits (each task's seed derives from it); it replaces ``settings``' seed.
    prob : float
        Probability of the predictive intervals whose coverage is reported.
    workers : int
        Processes to fit on (one law per task); the scores do not depend on it.
    engine : {"local", "ray", "dask"}
        Where the processes run (see :func:`bayescale.inference.workers.run_tasks`).
    rolling : int
        Also backtest each law with this many rolling origins (:func:`rolling_backtest`): the
        held-out top cut into compute bins, each scored by a fit below it. 0: none.
    """
    from bayescale.inference.workers import run_tasks, task_seed

    if not laws:
        raise BayescaleError("name at least one law to backtest, e.g. --laws chinchilla,kaplan")
    laws = [law if isinstance(law, Law) else load_law(law) for law in laws]
    train, holdout, cutoff = split_by_compute(runs, holdout_top)
    settings = (settings or SamplerSettings()).with_seed(seed)
    tasks = [(law, train, holdout, replace(settings, seed=task_seed(settings.seed, i), progressbar=False), prob)
             for i, law in enumerate(laws)]
    scores = run_tasks(_fit_and_score, tasks, workers=workers, engine=engine)
    families = {law.name: score.pop("per_family") for law, score in zip(laws, scores) if "per_family" in score}
    rows = {law.name: score for law, score in zip(laws, scores)}
    table = pd.DataFrame(rows).T.sort_values("elpd", ascending=False)
    origins = {law.name: rolling_backtest(runs, law, rolling, holdout_top, settings, prob, workers, engine)
               for law in laws} if rolling else {}
    return Backtest(table, cutoff, train.n_runs, holdout.n_runs, prob, origins, families)


def rolling_backtest(runs: Runs, law: Law, bins: int, holdout_top: float, settings: SamplerSettings, prob: float = 0.95,
                     workers: int = 1, engine: str = "local") -> dict:
    """Fit below each of ``bins`` compute bins of the top ``holdout_top`` in turn and score every run
    from that bin up (a rolling origin, every horizon from each).

    The first origin is the plain split at the top ``holdout_top``; later ones fit more runs and
    reach less far. Scoring only the next bin would test one step beyond the runs (on an isoFLOP
    ladder, one doubling of compute), far short of the budgets a fit is asked about.

    Returns pooled ``coverage``, ``mean_width``, ``interval_score``, ``elpd_per_run``,
    ``median_rel_error`` (each held-out run counted once per origin that scores it), ``runs`` (that
    count), ``reach`` (decades of compute from the largest fitted run to the largest scored one,
    the furthest over the origins) and ``rolling``: one entry per origin, with its own ``reach``.
    """
    from bayescale.inference.workers import run_tasks, task_seed

    order = np.sort(runs.C)
    edges = [order[min(runs.n_runs - 1, int(np.floor(q * runs.n_runs)))]
             for q in np.linspace(1.0 - holdout_top, 1.0, bins + 1)[:-1]]
    edges = sorted(set(float(e) for e in edges))
    tasks = []
    for i, cutoff in enumerate(edges):
        train_mask, held_mask = runs.C < cutoff, runs.C >= cutoff
        if train_mask.sum() < len(law.all_parameters) + 2 or held_mask.sum() < 1:
            continue
        train = replace(runs, frame=runs.frame[train_mask].reset_index(drop=True))
        held = replace(runs, frame=runs.frame[held_mask].reset_index(drop=True))
        tasks.append((law, train, held, replace(settings, seed=task_seed(settings.seed, 10_000 + i),
                                                    progressbar=False), prob, cutoff))
    if not tasks:
        raise BayescaleError(f"the table is too small to hold anything out: {runs.n_runs} runs, of which too few lie "
                             f"below the top {holdout_top:.0%} of compute to fit a law with "
                             f"{len(law.all_parameters)} parameters; add runs or lower holdout_top (--holdout-top)")
    scores = run_tasks(_score_origin, tasks, workers=workers, engine=engine)
    weights = np.array([s["n_holdout"] for s in scores], dtype=float)
    pooled = {k: float(np.average([s[k] for s in scores], weights=weights))
              for k in ("coverage", "mean_width", "interval_score", "elpd_per_run", "median_rel_error")}
    out = {**pooled, "runs": int(weights.sum()), "reach": max(s["reach"] for s in scores), "rolling": scores}
    scored = [s["vertices"] for s in scores if "vertices" in s]
    if scored:  # each origin's vertices counted once, as its runs are
        count = np.array([v["budgets"] for v in scored], dtype=float)
        out["vertices"] = {"budgets": int(count.sum())} | {
            name: {k: float(np.average([v[name][k] for v in scored], weights=count)) for k in ("inside", "within_error")}
            for name in ("N_opt", "N_opt_predictive") if all(name in v for v in scored)}
    return out


def _score_origin(task: tuple) -> dict:
    """One origin of :func:`rolling_backtest`: the law fitted below the cutoff (as ``fit`` fits it,
    so N* comes from the runs near each budget's optimum where ``fit`` would use them), its held-out
    runs scored, and, where they form isoFLOP curves, their vertices against its N* intervals."""
    from bayescale.decisions.vertices import score_vertices
    from bayescale.results.fitting import fit

    law, train, held, settings, prob, cutoff = task
    fitted = fit(train, law, settings=settings)
    out = {"cutoff": cutoff, "n_train": train.n_runs, "n_holdout": held.n_runs,
           "reach": float(np.log10(held.C.max() / train.C.max())), **score_holdout(fitted, held, prob)}
    # laws with an optimum at a budget alone: in N and D, without unique tokens (whose optimum needs a U) or families
    allocates = {"N", "D"} <= set(law.variables) and "U" not in law.variables and not law.dims
    vertices = score_vertices(fitted, held, prob) if allocates else None
    return out | ({"vertices": vertices} if vertices else {})
