"""Fit a law to runs: build the model, sample, check the gates, assemble the result."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import xarray as xr

from bayescale.data.runs import Runs
from bayescale.data.stored import runs_attributes, runs_dataset
from bayescale.inference.converge import sample_until_converged
from bayescale.inference.gates import check_gates
from bayescale.inference.sampling import SamplerSettings
from bayescale.inference.trace import SAMPLE_STATS
from bayescale.laws.law import Law, Scales
from bayescale.laws.law_file import load_law
from bayescale.notes import collect_notes
from bayescale.results.fitted import SCHEMA_VERSION, Fit, versions

__all__ = ["fit", "assemble_fit"]

#: The allocation refit is made when at least this share of the runs lie farther from their
#: budget's lowest loss (isoFLOP sweeps), not for a few stray runs.
ALLOCATION_MIN_LEFT_OUT = 0.1

log = logging.getLogger(__name__)


def fit(
    runs: Runs,
    law: Law | str = "chinchilla",
    *,
    priors: Mapping[str, Mapping[str, Any]] | None = None,
    noise: str | None = None,
    settings: SamplerSettings | None = None,
    seed: int | None = None,
    retries: int = 3,
    log_likelihood: bool = False,
    pool: Iterable[str] = (),
    share: Iterable[str] = (),
    separate: Iterable[str] = (),
    allocation_refit: bool = True,
    scales: Scales | None = None,
) -> Fit:
    """Fit a scaling law to a runs table with NUTS.

    Runs read with a family column (``read_runs(path, family_col="dataset")``) are fitted per
    family in one hierarchical model (:func:`bayescale.laws.families.for_families`): by default
    every parameter is pooled across three or more families (separate across two).

    Parameters
    ----------
    runs : Runs
        From :func:`bayescale.read_runs`.
    law : Law or str
        A law, the name of a built-in law, or the path of a law file.
    priors : mapping, optional
        Prior overrides merged over the law's defaults (unknown names are errors).
    noise : str, optional
        Error model on log loss, a name from :func:`bayescale.error_models` (``"discrepancy"``,
        ``"normal"``, ``"student_t"``, ``"grouped"``); the law file's by default.
    settings : SamplerSettings, optional
        Chains, draws, seed, …
    seed : int, optional
        Seeds the sampler (the same seed gives the same draws); it replaces ``settings``' seed.
    retries : int
        Fresh starts after a gate fails, at most: with more draws and a longer warm-up, or after
        divergent transitions alone a higher target acceptance only; a near miss with chains that
        agree gets more chains pooled first (:func:`bayescale.inference.converge.sample_until_converged`).
        Every attempt is recorded.
    log_likelihood : bool
        Store the pointwise log-likelihood (draws × runs) in the fit. Off by default, as it is
        the largest part of a fit on a large table; :meth:`Fit.log_likelihood` computes it
        from the draws when needed.
    pool, share, separate : iterable of str
        With families: parameters to pool, to share (one value for all families) or to keep
        separate (one value per family, no pooling), overriding the defaults.
    allocation_refit : bool
        When a tenth or more of the runs lie more than 10% above the lowest loss at their
        compute (isoFLOP sweeps that reach far from each budget's optimum), also fit the law to
        the runs within 10% and keep that fit as :attr:`Fit.allocation`: :meth:`Fit.optimum`
        (N*, D*, L*, and every decision built on them) then answers from it, and the fit of
        every run keeps answering :meth:`Fit.predict`. Only laws in N and D (and C) are refitted:
        not laws with unique tokens U, whose runs of one budget differ by their repetitions, nor
        laws with per-family parameters.
    scales : Scales, optional
        Reference scales the law's parameters are normalized by; the runs' geometric means of N,
        D and C by default. Refits that compare their parameters with another fit's (calibration
        draws a truth from a fit of every run and refits a subset) pass that fit's ``scales``,
        so a parameter such as ``compute_power``'s L0, the loss at ``C_ref``, means the same in both.

    Returns
    -------
    Fit
        Check ``fit.gates.passed``: a fit that misses a gate is returned, flagged, not raised.
    """
    from bayescale.inference.model import compiled_law_model, scales_of
    from bayescale.laws.families import for_families

    law = load_law(law) if not isinstance(law, Law) else law
    if noise:
        law = law.with_noise(noise)
    # the notes that qualify the fit stay with it; the sampler's retries are kept as its attempts
    with collect_notes(skip=("bayescale.inference",)) as notes:
        law = for_families(law, runs, pool=pool, share=share, separate=separate)
        if priors:
            law = law.with_priors(priors)
        runs.check_identifiable(law.variables, len(law.all_parameters), law.name)
        settings = _first_attempt(law, (settings or SamplerSettings()).with_seed(seed))
        scales = scales or scales_of(runs)
        model = compiled_law_model(law, runs, scales)
        done = sample_until_converged(model, law.priors, list(law.all_parameters), settings, retries)
        result = assemble_fit(law, runs, scales, done.posterior, done.sample_stats, done.settings.to_dict(),
                              done.attempts, log_likelihood=log_likelihood)
        if allocation_refit:
            result = _with_allocation(result, settings, retries)
    result.tree.attrs["fit_notes_json"] = json.dumps(notes)
    return result


#: The first attempt at a hierarchical posterior (pooled parameters): target acceptance, draws per chain.
HIERARCHICAL_START = (0.99, 1000)


def _first_attempt(law: Law, settings: SamplerSettings) -> SamplerSettings:
    """``settings``, raised to the law file's ``[sampler]`` floors, and for a law with pooled
    parameters to where the retries would end.

    The spread of a parameter pooled over a few families makes a funnel that a step size tuned
    for target acceptance 0.9 (or 0.95) crosses with divergences: on 24 simulated family fits
    (``bench/bench_families_simulation.py``) the first two attempts missed the gates 21 times
    and the third, at 0.99, passed; started at 0.99 with 1,000 draws a chain, two such fits passed
    at once, in a quarter of the time. A law file's ``[sampler]`` does the same for its own
    posterior (``models/data_constrained.toml`` and ``models/kaplan_floor.toml`` say why they ask
    for 0.97 and 1,000 draws). A value the user chose (not the default) that is raised gets a note.
    """
    accept, draws = law.sampler.get("target_accept", 0), law.sampler.get("draws", 0)
    if not all(law.priors[p].is_numeric for p in law.all_parameters):
        accept, draws = max(accept, HIERARCHICAL_START[0]), max(draws, HIERARCHICAL_START[1])
    first = replace(settings, target_accept=max(settings.target_accept, accept), draws=int(max(settings.draws, draws)))
    default = SamplerSettings()
    raised = [f"{name} from {getattr(settings, name):g} to {getattr(first, name):g}" for name in ("draws", "target_accept")
              if getattr(first, name) != getattr(settings, name) and getattr(settings, name) != getattr(default, name)]
    if raised:
        why = "the [sampler] table of its law file" if law.sampler else "its pooled parameters make a funnel"
        log.warning("%s is sampled with at least %d draws a chain and target acceptance %g (%s): raised %s",
                    law.name, first.draws, first.target_accept, why, " and ".join(raised))
    return first


def _with_allocation(result: Fit, settings: SamplerSettings, retries: int) -> Fit:
    """``result`` with its allocation fit (see :func:`fit`) when many runs lie far from their
    budget's optimum.

    Fitted to every run of an isoFLOP sweep, a law such as Chinchilla's follows the runs far from
    each budget's optimum (a few tokens per parameter, or thousands) at the cost of the ones near
    it: on the 15 Porian sweeps, its N* at a held-out budget wasted half the compute on average;
    fitted to the runs near each optimum, 1.3% (``bench/bench_waste.py``). The model-adequacy
    check does not see it (its residual trend in tokens per parameter stayed within 1.5
    standard errors on four of those sweeps), so the trigger is the runs' layout, not the fit.
    """
    from bayescale.data.selection import ALLOCATION_MARGIN, near_optimum
    from bayescale.errors import BayescaleError
    from bayescale.inference.workers import quiet_notes

    law = result.law
    # only a law whose loss at a budget depends on the split of N and D alone: with unique tokens U
    # (repeated data), runs of one budget differ by more than their split, and those runs are what
    # the law needs; compute-only laws have no allocation to make
    variables = set(law.variables)
    if law.dims or not {"N", "D"} <= variables <= {"N", "D", "C"} or not result.gates.passed:
        return result
    try:
        near = near_optimum(result.runs, ALLOCATION_MARGIN)
        if result.runs.n_runs - near.n_runs < ALLOCATION_MIN_LEFT_OUT * result.runs.n_runs:
            return result
        with quiet_notes():  # only whether it can be fitted: the refit itself says what it notes
            near.check_identifiable(law.variables, len(law.all_parameters), law.name)
    except BayescaleError:  # too few runs near the optima to fit the law: keep the fit of every run
        return result
    log.warning("%d of %d runs lie more than %.0f%% above the lowest loss at their compute: fitting the law again to "
                "the other %d, for the optimum", result.runs.n_runs - near.n_runs, result.runs.n_runs,
                100 * ALLOCATION_MARGIN, near.n_runs)
    try:
        allocation = fit(near, law, settings=settings, retries=retries, allocation_refit=False)
    except BayescaleError as error:  # e.g. an error model the kept runs cannot carry: keep the fit of every run
        log.warning("the refit near the optima could not be made (%s); the optimum comes from every run", error)
        return result
    if not allocation.gates.passed:
        log.warning("the refit near the optima missed its convergence gates; the optimum comes from every run")
        return result
    tree = result.tree.copy()
    tree["allocation"] = allocation.tree
    return Fit(tree)


def assemble_fit(
    law: Law,
    runs: Runs,
    scales: Scales,
    posterior: xr.Dataset,
    sample_stats: xr.Dataset,
    sampler: dict[str, Any],
    attempts: list[dict] | None = None,
    log_likelihood: bool = False,
) -> Fit:
    """Put draws, data and provenance together into a :class:`Fit`.

    Parameters
    ----------
    posterior : xarray.Dataset
        One ``(chain, draw)`` variable per parameter in ``law.all_parameters``.
    sample_stats : xarray.Dataset
        Must hold a boolean ``diverging`` variable with dims ``(chain, draw)``.
    sampler : dict
        Sampler settings, kept as provenance.
    attempts : list of dict, optional
        Settings and gate verdict of each sampling attempt.
    log_likelihood : bool
        Store the pointwise log-likelihood.
    """
    posterior = posterior[list(law.all_parameters)]
    gates = check_gates(posterior, sample_stats["diverging"])
    tree = _assemble(runs, posterior, sample_stats)
    config = {
        "law": law.name,
        "law_sha256": law.sha256,
        "priors": {k: v.to_spec() for k, v in law.priors.items()},
        "noise": law.noise,
        "data_hash": runs.data_hash,
        "sampler": {"backend": "nutpie NUTS over PyTensor (numba)", **sampler},
    }
    fit_id = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    tree.attrs.update(
        {
            "bayescale_schema": SCHEMA_VERSION,
            "fit_id": fit_id,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "law_name": law.name,
            "law_title": law.title,
            "law_text": law.source_text,
            "law_path": law.path,
            "law_sha256": law.sha256,
            "priors_json": json.dumps(config["priors"]),
            "noise": law.noise,
            **runs_attributes(runs),
            "scales_json": json.dumps(scales.as_dict()),
            "sampler_json": json.dumps(config["sampler"]),
            "attempts_json": json.dumps(attempts or []),
            "gates_json": json.dumps(gates.to_dict()),
            "versions_json": json.dumps(versions()),
        }
    )
    result = Fit(tree)
    return Fit(result.loo_tree()) if log_likelihood else result


def _assemble(runs: Runs, posterior: xr.Dataset, stats: xr.Dataset) -> xr.DataTree:
    from bayescale.inference.model import OBSERVED

    stats = stats[[name for name in SAMPLE_STATS if name in stats]]
    run = np.arange(runs.n_runs)
    return xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "sample_stats": stats,
            "observed_data": xr.Dataset({OBSERVED: ("run", np.log(runs.loss))}, coords={"run": run}),
            "constant_data": runs_dataset(runs),
        }
    )
