"""Is the law adequate for the runs? A residual-structure check printed beside the gates.

The gates say the sampler explored the posterior; they say nothing of whether the law describes
the runs. A law that misses a trend (no penalty for repeated data, a wrong curvature) still
converges, with a noise scale inflated to absorb the misfit. Here the runs are sorted by each
variable (N, D, C, tokens per parameter D/N, and the epochs D/U when the table has U) and cut into bins; within a bin the
mean residual of log loss should be about zero, within ``sigma / sqrt(n_bin)``. A bin far from
zero (``|z| > Z_LIMIT``) is a trend the law does not follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bayescale.data.runs import Runs
from bayescale.laws.law import Law, Scales

__all__ = ["Adequacy", "check_adequacy", "Z_LIMIT"]

#: A bin's mean residual this many standard errors from zero marks structure the law misses.
#: With about twenty bins a correct law crosses it by chance far less than once in a thousand fits.
Z_LIMIT = 4.0
#: The axis of tokens per parameter: on isoFLOP sweeps, where a law's misfit usually shows.
RATIO = "tokens per parameter D/N"


@dataclass(frozen=True)
class Adequacy:
    """Residual structure of a fit, by variable.

    Attributes
    ----------
    passed : bool
        No bin's mean residual is beyond ``Z_LIMIT`` standard errors.
    sigma : float
        Posterior median of the noise scale on log loss.
    worst : dict
        Per variable: ``{"z": …, "mean": …, "range": (lo, hi), "runs": n}`` of its worst bin.
    findings : list of str
        One sentence per variable whose worst bin is beyond the limit.
    """

    passed: bool
    sigma: float
    worst: dict[str, dict] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)

    def misses(self, variable: str) -> bool:
        """Whether the law misses a trend along ``variable`` (a key of ``worst``, e.g. :data:`RATIO`)."""
        return variable in self.worst and abs(self.worst[variable]["z"]) > Z_LIMIT

    def to_dict(self) -> dict:
        """JSON-able form."""
        return {"passed": self.passed, "sigma": self.sigma, "z_limit": Z_LIMIT, "findings": self.findings,
                "worst_bins": {k: {**v, "range": list(v["range"])} for k, v in self.worst.items()}}

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        worst = max((abs(v["z"]) for v in self.worst.values()), default=0.0)
        head = "PASSED" if self.passed else "FAILED"
        line = (f"model adequacy {head}: largest binned mean residual {worst:.1f} standard errors (≤ {Z_LIMIT:g}); "
                f"noise on log loss sigma {self.sigma:.3g}")
        return "\n".join([line, *(f"  - {finding}" for finding in self.findings)])


def _bins(n: int) -> int:
    return int(np.clip(n // 8, 2, 6))


def check_adequacy(law: Law, draws: dict[str, np.ndarray], scales: Scales, runs: Runs, inputs: dict) -> Adequacy:
    """Bin the residuals of log loss by each run variable and test each bin's mean against zero.

    Parameters
    ----------
    law : Law
    draws : dict
        Flat posterior draws (``(sample,)``, or ``(sample, level)`` for shaped parameters).
    scales : Scales
    runs : Runs
        The runs the law was fitted to.
    inputs : dict
        What ``law.loss`` needs of each run (:func:`bayescale.results.fitted.law_inputs`).
    """
    expanded = law.with_run_axis(draws)
    samples = next(iter(draws.values())).shape[0]
    step = max(1, 4_000_000 // samples)  # runs per chunk: draws × runs stays near 32 MB on large tables
    mu = np.concatenate([
        np.median(np.log(law.loss(expanded, scales, **{k: v[i:i + step] for k, v in inputs.items()})), axis=0)
        for i in range(0, runs.n_runs, step)])
    residual = np.log(runs.loss) - mu
    sigma = float(np.median(draws["sigma"])) if "sigma" in draws else float(np.std(residual))
    given = ("N", "D", "C") if runs.has_sizes else ("C",)
    axes = {v: getattr(runs, v) for v in given if np.unique(getattr(runs, v)).size > 2}
    if "N" in axes and "D" in axes:
        axes[RATIO] = runs.D / runs.N
    if runs.has_U and np.any(runs.D > runs.U):
        axes["epochs D/U"] = np.maximum(runs.D / runs.U, 1.0)
    worst, findings = {}, []
    for name, values in axes.items():
        order = np.argsort(values, kind="stable")
        best = None
        for chunk in np.array_split(order, _bins(runs.n_runs)):
            if chunk.size < 3:
                continue
            mean = float(residual[chunk].mean())
            z = mean / (sigma / np.sqrt(chunk.size))
            if best is None or abs(z) > abs(best["z"]):
                best = {"z": float(z), "mean": mean, "range": (float(values[chunk].min()), float(values[chunk].max())),
                        "runs": int(chunk.size)}
        if best is None:
            continue
        worst[name] = best
        if abs(best["z"]) > Z_LIMIT:
            side = "above" if best["mean"] > 0 else "below"
            advice = ("try another law, or look for runs from a different setup" if name != RATIO else
                      "to choose N at a budget, fit the runs near each budget's optimum (fit --near-optimum 0.1, "
                      "or bayescale.near_optimum(runs, 0.1)): far-off-optimum runs tilt the law's exponents")
            findings.append(f"runs with {name} in [{best['range'][0]:.3g}, {best['range'][1]:.3g}] lie {side} the law by "
                            f"{abs(best['mean']):.3g} in log loss on average ({abs(best['z']):.1f} standard errors, "
                            f"{best['runs']} runs): the law misses a trend in {name}; {advice}")
    return Adequacy(passed=not findings, sigma=sigma, worst=worst, findings=findings)
