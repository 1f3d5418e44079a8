"""Run NUTS on a PyMC model with nutpie's sampler and PyTensor's cached C backend.

Why not ``pm.sample(nuts_sampler="nutpie")``: that path compiles the model with Numba on every
run (about 4 s for a five-parameter law, most of a small fit), while PyTensor's C backend keeps
compiled modules on disk, so a law compiled once loads in well under a second. nutpie's Rust NUTS
calls the compiled log-density and gradient through a Python callback, and its low-rank mass
matrix adaptation takes the E/A/alpha correlations of scaling laws in a few leapfrog steps
(5 per draw on the Chinchilla table, against 27 with a diagonal mass matrix).
"""

from __future__ import annotations

import sys
import types
from dataclasses import asdict, dataclass

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.graph import clone_replace

from bayescale.laws.priors import Prior

__all__ = ["SamplerSettings", "sample"]


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample. Defaults pass the gates on the laws shipped in ``models/``.

    Attributes
    ----------
    chains, draws, tune : int
        Chains and draws and warm-up iterations per chain.
    seed : int
        Seeds the initial points and the sampler: the same seed gives the same draws.
    adaptation : str
        nutpie's mass-matrix adaptation, ``"low_rank"`` or ``"diag"``.
    target_accept : float
        Target acceptance rate of the step size adaptation.
    progressbar : bool or None
        Show a progress bar; ``None`` shows it only on a terminal.
    """

    chains: int = 4
    draws: int = 500
    tune: int = 500
    seed: int = 0
    adaptation: str = "low_rank"
    target_accept: float = 0.9
    progressbar: bool | None = None

    def to_dict(self) -> dict:
        """The settings as a plain dict (for provenance)."""
        return asdict(self)


def _unconstrained(prior: Prior, value: float) -> float:
    """Map a value of the prior's support to the sampler's unconstrained space."""
    match prior.support:
        case "positive":
            return float(np.log(value))
        case "unit":
            return float(np.log(value / (1.0 - value)))
        case "interval":
            lo, hi = prior.args["lower"], prior.args["upper"]
            return float(np.log((value - lo) / (hi - value)))
    return float(value)


def _import_nutpie():
    """Import nutpie, letting it see only the part of ArviZ it uses.

    nutpie imports the ``arviz`` meta-package, which loads arviz-stats (with ``scipy.stats``) and
    arviz-plots (with matplotlib): over a second, for two converters that live in arviz-base.
    While nutpie is imported, ``arviz`` is a stand-in module holding those two; the real
    package is untouched and imports normally afterwards.
    """
    if "nutpie" in sys.modules or "arviz" in sys.modules:
        import nutpie

        return nutpie
    import arviz_base

    stand_in = types.ModuleType("arviz")
    stand_in.from_dict = arviz_base.from_dict
    stand_in.dict_to_dataset = arviz_base.dict_to_dataset
    sys.modules["arviz"] = stand_in
    try:
        import nutpie
    finally:
        if sys.modules.get("arviz") is stand_in:
            del sys.modules["arviz"]
    return nutpie


def sample(model: pm.Model, priors: dict[str, Prior], settings: SamplerSettings):
    """Sample ``model`` with NUTS and return nutpie's ``DataTree`` (posterior, sample_stats).

    Parameters
    ----------
    model : pymc.Model
        From :func:`bayescale.inference.model.build_model`; every free variable is a scalar with a prior.
    priors : dict
        The priors of the free variables, used to start each chain near the prior median.
    settings : SamplerSettings
    """
    nutpie = _import_nutpie()
    from nutpie.compiled_pyfunc import from_pyfunc

    free = list(model.free_RVs)
    names = [rv.name for rv in free]
    values = [model.rvs_to_values[rv] for rv in free]
    flat = pt.dvector("flat")
    replacements = {value: flat[i] for i, value in enumerate(values)}
    logp = model.logp()
    grad = pt.stack(pt.grad(logp, values))
    constrained = model.replace_rvs_by_values(free)
    outputs = clone_replace([logp, grad, *constrained], replacements)
    fn = pytensor.function([flat], outputs, mode="FAST_RUN", on_unused_input="ignore")
    fn.trust_input = True

    def make_logp():
        def logp_and_grad(x):
            out = fn(x)
            return float(out[0]), out[1]

        return logp_and_grad

    def make_expand(seed1, seed2, chain):
        def expand(x):
            out = fn(x)
            return {name: np.asarray(v, dtype=np.float64) for name, v in zip(names, out[2:])}

        return expand

    center = np.array(
        [_unconstrained(priors[n], float(np.median(priors[n].draw(2001, seed=0)))) for n in names]
    )

    def initial_point(seed):
        return center + np.random.default_rng(seed).uniform(-0.5, 0.5, center.size)

    compiled = from_pyfunc(
        len(names),
        make_logp,
        make_expand,
        [np.dtype("float64")] * len(names),
        [()] * len(names),
        names,
        make_initial_point_fn=initial_point,
    )
    progress = sys.stderr.isatty() if settings.progressbar is None else settings.progressbar
    return nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=1,
        seed=settings.seed,
        progress_bar=progress,
        adaptation=settings.adaptation,
        target_accept=settings.target_accept,
        save_warmup=False,
    )
