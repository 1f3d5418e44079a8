"""Run NUTS on a PyMC model with nutpie's sampler over one compiled PyTensor function.

Why not ``pm.sample(nuts_sampler="nutpie")``: that path compiles the model anew on every run
(about 4 s for a five-parameter law, most of a small fit). Here the model's log density and its
gradient are compiled once into one PyTensor function (:func:`compile_model`), and the
constrained values of the draws into another that takes all draws at once, with the data held
in shared variables, so refits on new runs
(backtests, calibration, simulation studies) swap the data and reuse the compiled function.
nutpie's Rust NUTS calls that function through a Python callback; its low-rank mass matrix
adaptation takes the E/A/alpha correlations of scaling laws in a few leapfrog steps (5 per draw
on the Chinchilla table, against 27 with a diagonal mass matrix). The chains run on forked
processes, up to one per core, where the machine allows (:mod:`bayescale.inference.shards`), as
the callback holds Python's lock; the draws are the same either way.

Free variables may have shapes (a parameter per group): they are laid end to end in the
sampler's flat vector and come back with their dims and coordinates.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import Mode
from pytensor.compile.ops import ViewOp
from pytensor.graph import clone_replace
from pytensor.graph.replace import vectorize_graph

from bayescale.files import cache_dir
from bayescale.inference.shards import run_shards, shard_settings
from bayescale.inference.trace import FLAT, from_raw, to_tree
from bayescale.laws.priors import Prior

__all__ = ["SamplerSettings", "CompiledModel", "compile_model", "sample"]


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

    def with_seed(self, seed: int | None) -> SamplerSettings:
        """These settings with ``seed`` (unchanged when it is None): the ``seed=`` of the fitting entry points."""
        return self if seed is None else replace(self, seed=int(seed))

    def to_dict(self) -> dict:
        """The settings as a plain dict (for provenance)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SamplerSettings:
        """Settings from :meth:`to_dict` (e.g. a saved fit's ``sampler``); other keys are ignored."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _configure_pytensor() -> None:
    """Keep the Python source PyTensor generates for compiled functions in our cache folder.

    By default each compiled function leaves its generated source in the system temporary
    folder for good (15 to 30 files a fit). A folder of ours is content-addressed, shared by
    fits and pruned by PyTensor. A user's own ``generated_src_dir`` is left alone.
    """
    if not pytensor.config.generated_src_dir:
        pytensor.config.generated_src_dir = str(cache_dir() / "pytensor-src")


def without_traces():
    """A context in which PyTensor records no Python stack with each graph node it makes.

    The traces only name, in PyTensor's own error messages, the line that built a node; building
    and rewriting a model's graph makes thousands of nodes, and reading the stack for each costs
    about a tenth of a second a fit. The user's setting is back in force afterwards.
    """
    return pytensor.config.change_flags(traceback__limit=0)


def exact_math():
    """A context in which PyTensor compiles for numba without fast-math.

    With fast-math, LLVM may reassociate sums across the functions it inlines, so a function
    compiled afresh and the same function loaded from numba's cache round differently: a law's
    first fit on a machine gave other draws than every later fit with the same seed, and a pool's
    results could depend on which worker compiled first. Exact arithmetic costs about 6 µs a call
    of the log density on the Chinchilla table, 4% of a fit.
    """
    return pytensor.config.change_flags(numba__fastmath=False)


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
    """Import nutpie without the ArviZ it imports.

    nutpie imports the ``arviz`` meta-package, which loads arviz-stats (with ``scipy.stats``) and
    arviz-plots (with matplotlib): over a second, for two converters of its own trace format that
    we do not call (:func:`sample` reads nutpie's raw trace). While nutpie is imported, ``arviz``
    is a stand-in that imports the real package the first time nutpie reaches into it (when
    someone samples with nutpie's own conversion in this process); the real package is untouched
    and imports normally afterwards.
    """
    if "nutpie" in sys.modules or "arviz" in sys.modules:
        import nutpie

        return nutpie
    stand_in = types.ModuleType("arviz")

    def real(name: str):
        import importlib

        return getattr(importlib.import_module("arviz"), name)

    stand_in.__getattr__ = real
    sys.modules["arviz"] = stand_in
    try:
        import nutpie
    finally:
        if sys.modules.get("arviz") is stand_in:
            del sys.modules["arviz"]
    return nutpie


class _ThreadStateKeeper:
    """Keep the Python thread state of each of nutpie's sampler threads for the thread's life.

    nutpie's Rust threads call our log density through PyO3, which takes the GIL with
    ``PyGILState_Ensure`` and drops it with ``PyGILState_Release``. A thread that Python did not
    create has no thread state of its own, so every call built a new one and tore it down again
    (an mmap and munmap of its frame stack each time): about 40% of the sampler's time on a small
    table, seen as system time (a 16-run fit: 64 s, 14 s of it system time; 28 s with this).
    One more ``PyGILState_Ensure`` on the thread's first call, never released, keeps its state:
    PyO3's own calls then only take and drop the GIL. The state (a few kB) is freed with the
    interpreter; 40 fits in one process grow no more than without this.
    """

    def __init__(self) -> None:
        self._local = threading.local()  # empty again on a thread state this keeper has not yet kept

    def __call__(self) -> None:
        if not getattr(self._local, "kept", False):
            self._local.kept = True
            if _ENSURE is not None:
                _ENSURE()


def _gil_state_ensure():
    """``PyGILState_Ensure`` of this interpreter, or None where ctypes cannot reach the C API."""
    try:
        import ctypes

        return ctypes.pythonapi.PyGILState_Ensure
    except (ImportError, AttributeError):  # not CPython
        return None


_ENSURE = _gil_state_ensure()


@dataclass
class CompiledModel:
    """A model's log density, gradient and constrained values, compiled once.

    Attributes
    ----------
    names : list of str
        The free variables, in the order of the sampler's flat vector, then the model's
        deterministics (a non-centred parameter's value): every variable the draws hold.
    shapes : list of tuple
        Their shapes.
    dims, coords : dict
        Dims of the shaped variables and the coordinates of those dims.
    center : ndarray
        Unconstrained starting point about which chains start.
    function : callable
        Flat unconstrained vector -> (log density, its gradient): what the sampler calls.
    expand : callable
        Matrix of flat vectors (one row per draw) -> each variable's values, one row per draw.
    data : dict
        Name -> PyTensor shared variable holding data; :meth:`set_data` swaps it.
    """

    names: list[str]
    shapes: list[tuple[int, ...]]
    dims: dict[str, tuple[str, ...]]
    coords: dict[str, Any]
    center: np.ndarray
    function: Any
    expand: Any
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ndim(self) -> int:
        """Length of the sampler's flat vector."""
        return int(self.center.size)

    def set_data(self, values: Mapping[str, np.ndarray]) -> None:
        """Replace the data the compiled function reads (same names, any number of rows)."""
        unknown = set(values) - set(self.data)
        if unknown:
            raise KeyError(f"no shared data named {sorted(unknown)}; this model holds {sorted(self.data)}")
        for name, value in values.items():
            self.data[name].set_value(np.asarray(value, dtype=self.data[name].dtype))


def compile_model(model: pm.Model, priors: Mapping[str, Prior], data: Mapping[str, Any] | None = None) -> CompiledModel:
    """Compile ``model`` for :func:`sample`.

    Parameters
    ----------
    model : pymc.Model
        Every free variable has a prior; shaped ones carry dims with coordinates in the model.
    priors : mapping
        Priors of the free variables with numeric arguments, by name: chains start near their
        medians. Others start at PyMC's initial point.
    data : mapping, optional
        Name -> shared variable of the model, for :meth:`CompiledModel.set_data`.
    """
    _configure_pytensor()
    with exact_math():  # the log density, and PyMC's initial point where chains start from it
        return _compiled(model, priors, data)


def _compiled(model: pm.Model, priors: Mapping[str, Prior], data: Mapping[str, Any] | None) -> CompiledModel:
    """The body of :func:`compile_model`."""
    free = list(model.free_RVs)
    names = [rv.name for rv in free]
    values = [model.rvs_to_values[rv] for rv in free]
    shapes = _value_shapes(model, free, values)
    start = model.initial_point() if None in shapes else None
    if start is not None:
        shapes = [tuple(np.shape(start[v.name])) for v in values]
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    flat = pt.dvector("flat")
    replacements = {v: flat[offsets[i]] if shapes[i] == () else flat[offsets[i]:offsets[i + 1]].reshape(shapes[i])
                    for i, v in enumerate(values)}
    logp = model.logp()
    grad = pt.concatenate([g.ravel() for g in pt.grad(logp, values)])  # one pass: a smaller graph to rewrite
    # the sampler calls logp and gradient only (a third less time per call than with the constrained
    # values as outputs too); the values of the draws are computed afterwards, all draws in one call
    function = pytensor.function([flat], clone_replace([logp, grad], replacements), mode="FAST_RUN",
                                 on_unused_input="ignore")
    function.trust_input = True
    # a deterministic is a view of its expression: unwrapped, as its vectorized form would call a C compiler
    named = [d.owner.inputs[0] if isinstance(d.owner.op, ViewOp) else d for d in model.deterministics]
    constrained = clone_replace(model.replace_rvs_by_values(free + named), replacements)
    flats = pt.dmatrix("flats")
    # called once per fit with every draw: Python's linker compiles in no time, and never calls a C compiler
    expand = pytensor.function([flats], vectorize_graph(constrained, replace={flat: flats}),
                               mode=Mode(linker="py", optimizer="fast_compile"), on_unused_input="ignore")
    pieces = []
    for rv, name, value, size, shape in zip(free, names, values, sizes, shapes):
        prior = priors.get(name)
        given = model.rvs_to_initial_values.get(rv)
        if isinstance(prior, Prior) and prior.is_numeric:
            pieces.append(np.full(size, _unconstrained(prior, prior.median())))
        elif isinstance(given, np.ndarray) and model.rvs_to_transforms.get(rv) is None:  # a free coordinate's start
            pieces.append(np.broadcast_to(given, shape).ravel().astype(float))
        else:
            start = model.initial_point() if start is None else start
            pieces.append(np.ravel(start[value.name]).astype(float))
    for det in model.deterministics:  # shaped by their dims (a scalar without)
        names.append(det.name)
        shapes.append(tuple(len(model.coords[d]) for d in model.named_vars_to_dims.get(det.name, ())))
    dims = {name: tuple(model.named_vars_to_dims.get(name, ())) for name in names}
    used = {d for ds in dims.values() for d in ds}
    coords = {d: list(model.coords[d]) for d in used}
    return CompiledModel(names, shapes, {k: v for k, v in dims.items() if v}, coords,
                         np.concatenate(pieces) if pieces else np.zeros(0), function, expand, dict(data or {}))


def _value_shapes(model: pm.Model, free: list, values: list) -> list[tuple[int, ...] | None]:
    """Each free variable's shape from its static type or its dims; ``None`` where neither says
    (then PyMC's initial point, a compiled function, gives it)."""
    shapes: list[tuple[int, ...] | None] = []
    for rv, value in zip(free, values):
        static = value.type.shape
        dims = model.named_vars_to_dims.get(rv.name)
        if None not in static:
            shapes.append(tuple(int(n) for n in static))
        elif dims and len(dims) == len(static) and all(d in model.coords for d in dims):
            shapes.append(tuple(len(model.coords[d]) for d in dims))
        else:
            shapes.append(None)
    return shapes


def sample(model: pm.Model | CompiledModel, priors: Mapping[str, Prior], settings: SamplerSettings):
    """Sample ``model`` with NUTS and return a ``DataTree`` of the draws (posterior, sample_stats).

    Each chain is a shard of :func:`~bayescale.inference.shards.shard_settings`, sampled on up to
    :func:`~bayescale.inference.shards.processes` processes (this one and forked children).

    Parameters
    ----------
    model : pymc.Model or CompiledModel
        A model (compiled here) or one compiled by :func:`compile_model`, to reuse.
    priors : dict
        The priors of the free variables, used to start each chain near the prior median.
    settings : SamplerSettings
    """
    compiled = model if isinstance(model, CompiledModel) else None
    if compiled is None:
        with without_traces():
            compiled = compile_model(model, priors)
    fn = compiled.function

    keep = _ThreadStateKeeper()

    def make_logp():
        def logp_and_grad(x):
            keep()
            out = fn(x)
            return float(out[0]), out[1]

        return logp_and_grad

    def make_expand(seed1, seed2, chain):
        def expand(x):  # the draw as the sampler sees it; :func:`~bayescale.inference.trace.to_tree` turns draws into values
            return {FLAT: x.copy()}

        return expand

    center = compiled.center

    def initial_point(seed):
        return center + np.random.default_rng(seed).uniform(-0.5, 0.5, center.size)

    def run(shard: SamplerSettings) -> list[np.ndarray]:
        # nutpie is imported here, after a fork: the processes import it at the same time (0.1 s)
        nutpie = _import_nutpie()
        from nutpie.compiled_pyfunc import from_pyfunc

        nutpie_model = from_pyfunc(compiled.ndim, make_logp, make_expand, [np.dtype("float64")], [(compiled.ndim,)],
                                   [FLAT], make_initial_point_fn=initial_point)
        progress = sys.stderr.isatty() if shard.progressbar is None else shard.progressbar
        raw = nutpie.sample(
            nutpie_model,
            draws=shard.draws,
            tune=shard.tune,
            chains=shard.chains,
            cores=1,
            seed=shard.seed,
            progress_bar=progress,
            adaptation=shard.adaptation,
            target_accept=shard.target_accept,
            save_warmup=False,
            return_raw_trace=True,
        )
        arrays = from_raw(raw, compiled.ndim)
        if arrays[0].shape[1] < shard.draws:  # nutpie stops at Ctrl-C and returns what it has
            raise KeyboardInterrupt("sampling was interrupted")
        return arrays

    return to_tree(compiled, run_shards(run, shard_settings(settings)))
