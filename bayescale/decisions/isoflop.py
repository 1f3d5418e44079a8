"""isoFLOP analysis (Chinchilla Approach 2) as one Bayesian model.

Runs are grouped into compute budgets; in each budget the log loss is a parabola in log N, and
the budgets' minima lie about a power law, N*(C) = G·C^a. With D = C/(6N), the compute-optimal
tokens follow D*(C) = A·C^b with b = 1 - a and A = 1/(6G) (the form Llama 3 fits).

In normalized units (``x = log N/N_ref``, ``c = log C/C_ref``) the minima are
``m_b = g + a·c_b + tau·z_b``; back in FLOPs and parameters,
``log N* = log N_ref + g + a (log C - log C_ref)``, so ``log G = log N_ref + g - a log C_ref``.

A budget is usable only if its lowest-loss run has a smaller and a larger model beside it (at
least three distinct sizes): otherwise the parabola's vertex is an extrapolation. Such budgets
are refused with a message (or, with ``drop_unusable=True``, left out and noted).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bayescale.data.runs import Runs
from bayescale.decisions.budgets import IsoflopError, bin_budgets, budget_centres, budget_problems, mixed_budgets
from bayescale.inference.gates import Gates
from bayescale.inference.sampling import SamplerSettings
from bayescale.laws.flops import FLOPS_PER_PARAM_TOKEN, tokens_for_compute, training_flops
from bayescale.laws.priors import Prior
from bayescale.results.optimum import Optimum, interval
from bayescale.texts import interval_texts, loss_texts, size_texts

__all__ = ["IsoflopError", "IsoflopFit", "DEFAULT_PRIORS", "bin_budgets", "budget_centres", "budget_problems", "mixed_budgets",
           "fit_isoflop", "DEFAULT_SETTINGS"]

#: Priors in normalized units: ``a`` the exponent of N*(C); ``g`` log N*/N_ref at C_ref; ``tau``
#: the scatter of the minima about the power law (log N); ``sigma`` the noise on log loss;
#: ``h`` and ``k`` the log loss at the minimum (relative to L_ref) and curvature of each budget.
DEFAULT_PRIORS: dict[str, Prior] = {
    "a": Prior("Normal", {"mu": 0.5, "sigma": 0.25}),
    "g": Prior("Normal", {"mu": 0.0, "sigma": 2.0}),
    "tau": Prior("Gamma", {"alpha": 2.0, "beta": 20.0}),
    "sigma": Prior("HalfNormal", {"sigma": 0.1}),
    "h": Prior("Normal", {"mu": 0.0, "sigma": 1.0}),
    "k": Prior("LogNormal", {"mu": -2.5, "sigma": 1.5}),
}
#: How the isoFLOP model is sampled by default. Its parameters are mostly per budget and nearly
#: independent of each other's, which a diagonal mass matrix fits better than a low-rank one; with
#: target acceptance 0.95, first attempts passing the gates on the 12 usable Porian setups went from
#: 15 of 40 to 36 of 40; at 0.97, setup 0's divergences in the upper tail of tau (1-37 an attempt at
#: 0.95) mostly go, and 27 of 28 first attempts passed (bench/README.md).
DEFAULT_SETTINGS = SamplerSettings(draws=1000, adaptation="diag", target_accept=0.97)
log = logging.getLogger(__name__)


def _summary(values: np.ndarray, prob: float) -> dict[str, float]:
    med, lo, hi = interval(np.asarray(values), prob)
    return {"median": float(med), "lower": float(lo), "upper": float(hi)}


@dataclass(frozen=True, eq=False)
class IsoflopFit:
    """Posterior of an isoFLOP analysis, in physical units (parameters, tokens, FLOPs).

    Attributes
    ----------
    a, b, G, A : ndarray of shape ``(sample,)``
        N*(C) = G·C^a and D*(C) = A·C^b; b = 1 - a, A = 1/(6G).
    tau : ndarray of shape ``(sample,)``
        Scatter (log N) of the budgets' minima about the power law.
    sigma : ndarray of shape ``(sample,)``
        Noise of log loss about the parabolas.
    budgets : ndarray of shape ``(budget,)``
        Each budget's compute (geometric mean of its runs' C), FLOPs.
    runs_per_budget : ndarray of int
    N_opt, D_opt, L_opt : ndarray of shape ``(sample, budget)``
        Each budget's own minimum (its parabola's vertex) and the loss there.
    tolerance : float
        Relative tolerance used to group runs into budgets.
    gates : Gates
    loss_unit : str
    notes : tuple of str
        Budgets left out, and other things the reader should know.
    provenance : dict
        Data source and hash, sampler settings, versions, creation time and ``id``.
    k : ndarray of shape ``(sample, budget)`` or None
        Each budget's curvature: log loss = log L* + k (log N - log N*)^2 about its minimum.
    runs : Runs or None
        The table analysed, and ``budget_index`` the budget of each of its runs (-1: left out).
        With ``k`` they give the analysis's log density of the runs, which weighs it against fits
        of laws (:mod:`bayescale.decisions.isoflop_weigh`); None in files of isoFLOP schema 1.
    """

    a: np.ndarray
    b: np.ndarray
    G: np.ndarray
    A: np.ndarray
    tau: np.ndarray
    sigma: np.ndarray
    budgets: np.ndarray
    runs_per_budget: np.ndarray
    N_opt: np.ndarray
    D_opt: np.ndarray
    L_opt: np.ndarray
    tolerance: float
    gates: Gates
    loss_unit: str = "nats/token"
    notes: tuple[str, ...] = ()
    provenance: dict = field(default_factory=dict)
    k: np.ndarray | None = None
    runs: Runs | None = None
    budget_index: np.ndarray | None = None

    @property
    def id(self) -> str:
        """A short id derived from the data, tolerance and sampler settings."""
        return str(self.provenance.get("id", ""))

    def save(self, path) -> Path:
        """Write the analysis to netCDF (see :mod:`bayescale.decisions.isoflop_file`)."""
        from bayescale.decisions.isoflop_file import save_isoflop

        return save_isoflop(self, path)

    @classmethod
    def load(cls, path) -> IsoflopFit:
        """Read an analysis saved by :meth:`save`."""
        from bayescale.decisions.isoflop_file import load_isoflop

        return load_isoflop(path)

    @property
    def attrs(self) -> dict:
        """The provenance, under the name a fit's attributes go by (``data_hash``, ``data_source``)."""
        return self.provenance

    def log_likelihood(self) -> np.ndarray:
        """Log density of each run's log loss, shape ``(sample, run)``."""
        from bayescale.decisions.isoflop_weigh import isoflop_log_likelihood

        return isoflop_log_likelihood(self)

    @cached_property
    def psis_loo(self) -> Any:
        """PSIS-LOO of the analysis (arviz-stats ``ELPDData``), as :attr:`Fit.psis_loo`."""
        from bayescale.decisions.isoflop_weigh import isoflop_loo

        return isoflop_loo(self)

    def optimum(self, compute: Sequence[float], *, seed: int = 0) -> Optimum:
        """N* and D* at new budgets: the power law's line, and a new sweep's minimum about it.

        See :func:`bayescale.decisions.isoflop_weigh.isoflop_optimum`.
        """
        from bayescale.decisions.isoflop_weigh import isoflop_optimum

        return isoflop_optimum(self, compute, seed=seed)

    def at(self, compute: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Draws of N* and D* on the power law at the given budgets, shape ``(sample, budget)``."""
        c = np.atleast_1d(np.asarray(compute, dtype=float))
        n = np.exp(np.log(self.G)[:, None] + self.a[:, None] * np.log(c)[None, :])
        return n, tokens_for_compute(c[None, :], n)

    def to_dict(self, prob: float = 0.95, budgets: Sequence[float] | None = None) -> dict:
        """A JSON-able dict: the power law, each budget's minimum, N* and D* at ``budgets``."""
        law = {k: _summary(getattr(self, k), prob) for k in ("a", "b", "G", "A", "tau", "sigma")}
        rows = [{"compute": float(c), "runs": int(r), "N_opt": _summary(self.N_opt[:, j], prob),
                 "D_opt": _summary(self.D_opt[:, j], prob), "L_opt": _summary(self.L_opt[:, j], prob)}
                for j, (c, r) in enumerate(zip(self.budgets, self.runs_per_budget))]
        at = []
        if budgets:
            found = self.optimum(budgets)
            at = [{"compute": float(c), "N_opt": _summary(found.N_opt[:, j], prob),
                   "D_opt": _summary(found.D_opt[:, j], prob),
                   "N_opt_predictive": _summary(found.N_opt_predictive[:, j], prob),
                   "D_opt_predictive": _summary(found.D_opt_predictive[:, j], prob)}
                  for j, c in enumerate(budgets)]
        return {"method": "isoflop (Chinchilla Approach 2)", "formula": "N* = G C^a, D* = A C^b",
                "prob": prob, "tolerance": self.tolerance, "loss_unit": self.loss_unit,
                "power_law": law, "budgets": rows, "at_compute": at,
                "gates": self.gates.to_dict(), "attempts": int(self.provenance.get("attempts", 1)),
                "notes": list(self.notes), "id": self.id,
                "data": {k: self.provenance.get(k) for k in ("data_source", "data_hash")}}

    def format(self, prob: float = 0.95, budgets: Sequence[float] | None = None) -> str:
        """A readable report: the power law, each budget's minimum, N* and D* at ``budgets``."""
        data, pct = self.to_dict(prob, budgets), f"{100 * prob:g}%"
        # exponents and scales to the decimals their interval supports; the factors G and A, which
        # span decades, in scientific notation to the figures theirs supports
        fmt = lambda r: "{}  [{}, {}]".format(*loss_texts(r["median"], r["lower"], r["upper"]))  # noqa: E731
        factor = lambda r: "{}  [{}, {}]".format(*size_texts(r["median"], r["lower"], r["upper"], scientific=True))  # noqa: E731
        est = lambda name, r: "{}  [{}, {}]".format(*interval_texts(name, r))  # noqa: E731  N*, D*, L*

        law = data["power_law"]
        lines = [f"isoFLOP analysis (Chinchilla Approach 2): {len(self.budgets)} budgets, runs grouped "
                 f"within ±{100 * self.tolerance:g}% of compute; median and {pct} interval",
                 "N*(C) = G·C^a parameters, D*(C) = A·C^b tokens (C in FLOPs; b = 1 - a, A = 1/(6G))",
                 f"  a      {fmt(law['a'])}", f"  b      {fmt(law['b'])}",
                 f"  G      {factor(law['G'])}", f"  A      {factor(law['A'])}",
                 f"  scatter of the minima about the power law: ×{np.exp(law['tau']['median']):.2f} "
                 f"(tau {fmt(law['tau'])}); noise on log loss {fmt(law['sigma'])}",
                 f"each budget's minimum:\n  {'C (FLOPs)':>10} {'runs':>4}  {'N*':<32}{'D*':<32}L* ({self.loss_unit})"]
        for r in data["budgets"]:
            lines.append(f"  {r['compute']:>10.3g} {r['runs']:>4}  {est('N_opt', r['N_opt']):<32}"
                         f"{est('D_opt', r['D_opt']):<32}{est('L_opt', r['L_opt'])}")
        if data["at_compute"]:
            lines.append("at each budget asked: N* and D* on the power law (its line), then where a sweep at that "
                         "budget would bottom out (predictive: the line, the scatter of single budgets' minima, "
                         "widened as real sweeps' held-out minima showed it must be)")
            for r in data["at_compute"]:
                head = f"C = {r['compute']:.3g}:"
                lines += [f"  {head} N* {est('N_opt', r['N_opt'])}  D* {est('D_opt', r['D_opt'])}",
                          f"  {'':{len(head)}} predictive N* {est('N_opt', r['N_opt_predictive'])}  "
                          f"D* {est('D_opt', r['D_opt_predictive'])}"]
        lines += [f"note: {note}" for note in self.notes] + [str(self.gates)]
        return "\n".join(lines)

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        return self.format()


def fit_isoflop(
    runs: Runs,
    *,
    tolerance: float = 0.05,
    settings: SamplerSettings | None = None,
    seed: int | None = None,
    drop_unusable: bool = False,
    priors: dict[str, Prior] | None = None,
    retries: int = 3,
) -> IsoflopFit:
    """Fit parabolas in log N per budget and a power law through their minima, with NUTS.

    Parameters
    ----------
    runs : Runs
        Runs grouped by compute budget (isoFLOP sweeps).
    tolerance : float
        Runs whose compute agrees within this relative tolerance share a budget.
    settings : SamplerSettings, optional
        By default :data:`DEFAULT_SETTINGS`: 1000 draws per chain (with three scalars per budget,
        the largest R-hat of 40-odd parameters is near the 1.01 gate by chance alone at 500), a
        diagonal mass matrix and target acceptance 0.97. To change one of them only, start
        from it: ``dataclasses.replace(DEFAULT_SETTINGS, seed=3)``; a plain ``SamplerSettings()``
        brings the law fits' low-rank matrix, which converges more slowly here.
    seed : int, optional
        Seeds the sampler; it replaces the settings' seed (``fit_isoflop(runs, seed=3)``).
    drop_unusable : bool
        Leave out budgets whose minimum is not bracketed (noted in the result) instead of
        refusing them.
    priors : dict, optional
        Replacements for entries of :data:`DEFAULT_PRIORS`.
    retries : int
        Fresh starts after a gate fails, at most, as a law's fit makes them
        (:func:`bayescale.inference.converge.sample_until_converged`).

    Raises
    ------
    IsoflopError
        If the runs do not group into budgets, a budget does not bracket its minimum (unless
        ``drop_unusable``), or fewer than three usable budgets remain.
    """
    from bayescale.decisions.isoflop_file import isoflop_id
    from bayescale.inference.converge import sample_until_converged
    from bayescale.inference.model import build_isoflop_model
    from bayescale.results.fitted import versions

    ids = bin_budgets(runs.C, tolerance)
    centers = budget_centres(runs.C, ids)
    problems, notes = budget_problems(runs.N, runs.loss, ids, centers), list(runs.notes)  # the runs' notes travel too
    if problems and not drop_unusable:
        col = runs.columns.get("C", "C")
        hints = []
        for b, why in problems.items():
            values = np.unique(runs.C[ids == b])
            plain = not col.startswith(("derived", "10^")) and "C" not in runs.multipliers  # the value as written
            how = f"--exclude-where {col}={float(values[0])!r}" if values.size == 1 and plain else "remove its rows"
            hints.append(f"{why}; or drop it: {how}")
        raise IsoflopError(
            f"{len(problems)} of {len(centers)} budgets (runs grouped within ±{tolerance:g} of compute) do not "
            f"bracket their minimum, so the parabola's vertex would be an extrapolation:\n  - "
            + "\n  - ".join(hints)
            + "\nAdd runs on the other side of each minimum, or leave those budgets out as shown, or all of them "
            "with --drop-unusable (drop_unusable=True in Python)."
        )
    notes += [f"left out {why}" for why in problems.values()]
    keep_budget = np.setdiff1d(np.arange(centers.size), list(problems))
    if keep_budget.size < 3:
        raise IsoflopError(f"{keep_budget.size} usable budget(s); the power law through the minima needs at "
                           f"least 3. Add isoFLOP sweeps at more compute budgets.")
    keep = np.isin(ids, keep_budget)
    ids, centers = np.searchsorted(keep_budget, ids[keep]), centers[keep_budget]
    budget_index = np.full(runs.n_runs, -1, dtype=np.int64)
    budget_index[keep] = ids
    N, C, D, loss = runs.N[keep], runs.C[keep], runs.D[keep], runs.loss[keep]
    mismatch = np.max(np.abs(np.log(training_flops(N, D) / C)))
    if mismatch > np.log1p(0.01):
        notes.append(f"the runs' C differs from 6ND by up to {100 * np.expm1(mismatch):.2g}%; "
                     f"D* = C/(6N*) follows the 6ND convention")
    mixed = mixed_budgets(N, loss, ids, centers)
    if mixed:
        message = (f"{len(mixed)} of {centers.size} budgets hold one model size several times with different losses "
                   f"({mixed[0]}{'; …' if len(mixed) > 1 else ''}): the table may mix several setups; analyse each "
                   "apart (e.g. --where COLUMN=VALUE)")
        log.warning(message)
        notes.append(message)
    log_n_ref, log_l_ref, log_c_ref = np.log(N).mean(), np.log(loss).mean(), np.log(centers).mean()
    unknown = set(priors or {}) - set(DEFAULT_PRIORS)
    if unknown:
        raise IsoflopError(f"unknown isoFLOP prior(s) {sorted(unknown)}; the priors are {sorted(DEFAULT_PRIORS)}")
    priors = {**DEFAULT_PRIORS, **(priors or {})}
    model = build_isoflop_model(np.log(N) - log_n_ref, np.log(loss) - log_l_ref, ids,
                                np.log(centers) - log_c_ref, priors)
    names = [rv.name for rv in model.free_RVs]
    done = sample_until_converged(model, priors, names, (settings or DEFAULT_SETTINGS).with_seed(seed), retries)
    posterior, gates = done.posterior, done.gates
    draw = {n: posterior[n].stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy() for n in names}
    a, g, tau = draw["a"], draw["g"], draw["tau"]
    m = g[:, None] + a[:, None] * (np.log(centers) - log_c_ref)[None, :] + tau[:, None] * draw["z"]
    n_opt = np.exp(log_n_ref + m)
    G = np.exp(log_n_ref + g - a * log_c_ref)
    provenance = {"data_source": runs.source, "data_hash": runs.data_hash, "tolerance": float(tolerance),
                  "sampler": done.settings.to_dict(), "attempts": len(done.attempts), "versions": versions(),
                  "created": datetime.now(UTC).isoformat(timespec="seconds")}
    provenance["id"] = isoflop_id(provenance)
    return IsoflopFit(a=a, b=1.0 - a, G=G, A=1.0 / (FLOPS_PER_PARAM_TOKEN * G), tau=tau, sigma=draw["sigma"], budgets=centers,
                      runs_per_budget=np.bincount(ids, minlength=centers.size), N_opt=n_opt,
                      D_opt=tokens_for_compute(centers[None, :], n_opt), L_opt=np.exp(log_l_ref + draw["h"]),
                      tolerance=float(tolerance), gates=gates, loss_unit=runs.loss_unit, notes=tuple(notes),
                      provenance=provenance, k=draw["k"], runs=runs, budget_index=budget_index)
