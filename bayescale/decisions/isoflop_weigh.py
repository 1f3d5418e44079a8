"""An isoFLOP analysis weighed against fits of laws: its density of the runs and its optimum.

The isoFLOP model explains the same log losses a law does (a parabola in log N per budget, with
noise ``sigma``), so PSIS-LOO ranks it beside laws and stacking gives it a weight. At a new
budget it answers N* and D* only: the power law's line ``N* = G C^a`` (the analysis's own N*, as
a law's) and, for the minimum that a new sweep at that budget would find, the line scattered by
``tau`` and widened by a factor learned on real sweeps (its predictive N*). It predicts no loss
away from its budgets, so in a mixture L* comes from the laws alone, and leave-future-out scores
it by its N* at held-out budgets' minima (:mod:`bayescale.decisions.stacking`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bayescale.laws.flops import tokens_for_compute
from bayescale.results.optimum import Optimum

if TYPE_CHECKING:
    from bayescale.decisions.isoflop import IsoflopFit

__all__ = ["unweighable", "explained", "isoflop_log_likelihood", "isoflop_loo", "isoflop_optimum"]


def unweighable(result: IsoflopFit) -> str | None:
    """Why ``result`` cannot be weighed against fits of laws, in words; None when it can."""
    if result.k is None or result.runs is None or result.budget_index is None:
        return ("it was saved without its runs (isoFLOP schema 1, an older bayescale): run "
                "bayescale isoflop RUNS --out FILE again to weigh it against laws")
    return None


def explained(result: IsoflopFit) -> np.ndarray:
    """Which runs of its table the analysis explains: all but those of the budgets it left out."""
    return np.asarray(result.budget_index) >= 0


def isoflop_log_likelihood(result: IsoflopFit) -> np.ndarray:
    """Log density of each explained run's log loss under each draw, shape ``(sample, run)``.

    The runs are those of :func:`explained`, in the table's order.

    Raises
    ------
    bayescale.decisions.comparison.CompareError
        If the analysis was saved without its runs (:func:`unweighable`).
    """
    from bayescale.decisions.comparison import CompareError

    why = unweighable(result)
    if why:
        raise CompareError(f"the isoFLOP analysis {result.id} has no log density of its runs: {why}")
    keep = explained(result)
    b = result.budget_index[keep]
    x, y = np.log(result.runs.N[keep])[None, :], np.log(result.runs.loss[keep])[None, :]
    mu = np.log(result.L_opt)[:, b] + result.k[:, b] * (x - np.log(result.N_opt)[:, b]) ** 2
    sigma = result.sigma[:, None]
    return -0.5 * ((y - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)


def isoflop_loo(result: IsoflopFit, runs: np.ndarray | None = None) -> Any:
    """PSIS-LOO of the analysis (arviz-stats ``ELPDData``), its draws split back into chains.

    ``runs``, a mask over the table's runs within those it explains, keeps only those.
    """
    import warnings

    import xarray as xr
    from arviz_stats import loo

    from bayescale.inference.model import OBSERVED

    ll = isoflop_log_likelihood(result)
    if runs is not None:
        ll = ll[:, np.asarray(runs)[explained(result)]]
    chains = int(result.provenance.get("sampler", {}).get("chains", 1) or 1)
    chains = chains if ll.shape[0] % chains == 0 else 1
    ll = ll.reshape(chains, -1, ll.shape[1])
    coords = {"chain": np.arange(chains), "draw": np.arange(ll.shape[1]), "run": np.arange(ll.shape[2])}
    tree = xr.DataTree.from_dict({
        "posterior": xr.Dataset({"a": (("chain", "draw"), result.a.reshape(chains, -1))}, coords=coords),
        "log_likelihood": xr.Dataset({OBSERVED: (("chain", "draw", "run"), ll)}, coords=coords)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return loo(tree)


@functools.cache
def spread_factor() -> float:
    """How much wider than the model's own the spread of a new budget's minimum is, in log N*.

    Learned on the 15 Porian sweeps (``isoflop_spread.json``, ``bench/isoflop_extrapolation.py``):
    the line and ``tau`` alone held 80%, 67% and 60% of the minima of budgets 2, 4 and 8 times the
    largest fitted one; times the factor, learned without each sweep, 93%, 93% and 100%.
    """
    from importlib.resources import files

    return float(json.loads(files("bayescale.decisions").joinpath("isoflop_spread.json").read_text())["spread_factor"])


def isoflop_optimum(result: IsoflopFit, compute: Sequence[float], *, seed: int = 0) -> Optimum:
    """N* and D* at ``compute``: ``N_opt`` on the power law, ``N_opt_predictive`` a new sweep's minimum.

    A new budget's minimum lies off the line by the analysis's scatter ``tau`` (log N), as each
    fitted budget's does; the spread of that, in log N*, is then widened by :func:`spread_factor`
    about its mean, as held-out minima of real sweeps showed it must be. ``L_opt`` is NaN: the
    analysis predicts no loss at a new budget.
    """
    c = np.atleast_1d(np.asarray(compute, dtype=float))
    line, tokens = result.at(c)
    rng = np.random.default_rng(seed)
    log_new = np.log(line) + result.tau[:, None] * rng.standard_normal(line.shape)
    centre = log_new.mean(axis=0, keepdims=True)
    scattered = np.exp(centre + spread_factor() * (log_new - centre))
    runs = result.runs
    return Optimum(c, line, tokens, np.full(line.shape, np.nan), tokens / line, "isoFLOP power law", result.loss_unit,
                   None, None, runs.n_convention if runs is not None else "unstated",
                   largest_run=float(np.max(runs.C)) if runs is not None else None,
                   N_opt_predictive=scattered, D_opt_predictive=tokens_for_compute(c[None, :], scattered))
