"""The result of a fit: a ``DataTree`` plus provenance, saved and loaded as netCDF.

Schema history (every version stays loadable; old files live in ``tests/data``):

1. posterior, sample_stats, log_likelihood, observed_data (``log_loss``), constant_data
   (N, D, C[, U], loss); provenance in the root attributes.
2. Parameters may have one extra dim (``group`` or ``family``) with its levels as coordinates;
   constant_data then holds each run's level code, and ``data_levels_json`` the levels. The
   log_likelihood group is written only when asked for (:meth:`Fit.log_likelihood` computes it
   from the draws otherwise).
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.data.runs import Runs
from bayescale.errors import BayescaleError, FitFileError, OptimumError
from bayescale.files import atomic_path, read_netcdf
from bayescale.inference.gates import Gates
from bayescale.laws.flops import training_flops
from bayescale.laws.law import DIMS, Law, Scales
from bayescale.laws.law_file import law_from_text
from bayescale.laws.noise import NOISE_UNIT
from bayescale.results.optimum import Optimum, compute_optimum, interval
from bayescale.results.summaries import Prediction, Summary

__all__ = ["Fit", "SCHEMA_VERSION", "versions", "law_inputs", "allocation_source"]

#: Version of the saved-fit layout written by this bayescale.
SCHEMA_VERSION = 2
_READABLE = {1, 2}


def law_inputs(law: Law, runs: Runs) -> dict[str, np.ndarray]:
    """What ``law.loss`` needs of each run: its variables (physical units) and dim codes."""
    inputs = {name: runs.frame[name].to_numpy(dtype=float) for name in law.variables}
    return inputs | {dim: runs.codes(dim) for dim in law.dims}


def versions() -> dict[str, str]:
    """Versions of bayescale and the libraries a fit depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("bayescale", "pymc", "pytensor", "nutpie", "arviz-stats", "numpy", "xarray"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def allocation_source(fit: Any) -> Any:
    """The fit that answers allocation questions: ``fit.allocation`` when it has one, else ``fit``.

    Code that pairs a fit's draws with its optimum (expected losses, wasted compute, capped or
    inference-aware allocations) starts from this, so both come from the same posterior.
    """
    return getattr(fit, "allocation", None) or fit


class Fit:
    """A fitted law: the posterior and everything needed to trust and reuse it.

    Parameters
    ----------
    tree : xarray.DataTree
        As built by :func:`bayescale.results.fitting` or read by :meth:`load`. Treated as read-only.
    """

    def __init__(self, tree: xr.DataTree) -> None:
        self.tree = tree

    # ---- provenance -------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        """The provenance attributes."""
        return dict(self.tree.attrs)

    @property
    def id(self) -> str:
        """A short id derived from the law, priors, data and sampler settings."""
        return str(self.tree.attrs["fit_id"])

    @cached_property
    def law(self) -> Law:
        """The law as fitted: its file text, with the priors and noise family actually used."""
        base = law_from_text(self.tree.attrs["law_text"], self.tree.attrs.get("law_path", "<fit>"))
        priors = json.loads(self.tree.attrs["priors_json"])
        return base.with_noise(self.tree.attrs["noise"]).with_priors(priors, "fit")

    @cached_property
    def scales(self) -> Scales:
        """Reference scales used in the fit."""
        return Scales(**json.loads(self.tree.attrs["scales_json"]))

    @cached_property
    def runs(self) -> Runs:
        """The runs table the law was fitted to."""
        from bayescale.data.stored import stored_runs

        return stored_runs(self.tree["constant_data"].to_dataset(), self.tree.attrs)

    @property
    def gates(self) -> Gates:
        """The convergence verdict."""
        return Gates.from_dict(json.loads(self.tree.attrs["gates_json"]))

    @property
    def attempts(self) -> list[dict[str, Any]]:
        """Settings and gate verdict of each sampling attempt (more than one when a gate failed)."""
        return json.loads(self.tree.attrs.get("attempts_json", "[]"))

    @property
    def notes(self) -> list[str]:
        """The notes given while its runs were read and while it was fitted (a column derived, one
        compute budget, setups that look mixed, …), each once; the sampler's retries are in
        :attr:`attempts`. Empty for fits saved before notes were kept."""
        fitted = json.loads(self.tree.attrs.get("fit_notes_json", "[]"))
        return list(dict.fromkeys([*self.runs.notes, *fitted]))

    @property
    def sampler(self) -> dict[str, Any]:
        """Sampler settings of the final attempt."""
        return json.loads(self.tree.attrs["sampler_json"])

    # ---- draws ------------------------------------------------------------------------
    def draws(self, flat: bool = True, **levels: str) -> dict[str, np.ndarray]:
        """Posterior draws per parameter.

        Parameters
        ----------
        flat : bool
            Shape ``(chain*draw,)`` (``(chain*draw, level)`` for a shaped parameter), or
            ``(chain, draw[, level])``.
        **levels
            Pick one level of each dim, e.g. ``group="c4"``: shaped parameters then come as
            scalars per draw, as in a law without dims.
        """
        post = self.tree["posterior"]
        out = {}
        for name in self.law.all_parameters:
            da = post[name].transpose("chain", "draw", ...)
            dims = self.law.dims_of(name)
            if dims and dims[0] in levels:
                da = da.isel({dims[0]: self.runs.code_of(dims[0], levels[dims[0]])})
            values = da.to_numpy()
            out[name] = values.reshape(-1, *values.shape[2:]) if flat else values
        return out

    def _levels_for(self, levels: dict[str, Any], what: str) -> dict[str, str]:
        unknown = set(levels) - set(self.law.dims)
        if unknown:
            raise BayescaleError(f"law {self.law.name!r} has no dim {sorted(unknown)}; its dims are {list(self.law.dims) or 'none'}")
        missing = [d for d in self.law.dims if d not in levels]
        if missing:
            d = missing[0]
            raise BayescaleError(f"law {self.law.name!r} has per-{d} parameters: say which {d} for {what}, "
                                 f"e.g. {d}={self.runs.levels[d][0]!r} (one of {', '.join(self.runs.levels[d])})")
        return levels

    def summary(self, prob: float = 0.95) -> Summary:
        """Posterior medians and intervals with R-hat and bulk ESS (one row per level of a shaped parameter)."""
        from bayescale.inference.gates import labelled_draws

        gates = self.gates
        rows = {}
        for name, values in labelled_draws(self.tree["posterior"].to_dataset()[list(self.law.all_parameters)]).items():
            med, lo, hi = interval(values.reshape(-1), prob)
            rows[name] = {"median": med, "lower": lo, "upper": hi,
                          "r_hat": gates.r_hat[name], "ess_bulk": gates.ess_bulk[name]}
        physical = {}
        dims = self.law.dims
        for combination in itertools.product(*(self.runs.levels[d] for d in dims)):  # one () without dims
            pick = dict(zip(dims, combination))
            suffix = f"[{','.join(combination)}]" if combination else ""
            for name, values in self.law.physical_parameters(self.draws(**pick), self.scales).items():
                if name in self.law.physical:
                    med, lo, hi = interval(np.asarray(values), prob)
                    physical[name + suffix] = {"median": med, "lower": lo, "upper": hi}
        units = {name: self.law.unit_of(name, self.runs.loss_unit) for name in self.law.parameters}
        units |= {name: NOISE_UNIT for name in self.law.noise_parameters}
        return Summary(pd.DataFrame(rows).T, pd.DataFrame(physical).T, gates, prob, units, tuple(self.law.variables))

    def adequacy(self):
        """Residual structure of the fit: does the law follow the runs? (:mod:`bayescale.results.adequacy`)."""
        from bayescale.results.adequacy import check_adequacy

        return check_adequacy(self.law, self.draws(), self.scales, self.runs, law_inputs(self.law, self.runs))

    def log_likelihood(self) -> np.ndarray:
        """Pointwise log density of each run's log loss under each draw, shape ``(chain, draw, run)``.

        Read from the file when the fit stored it, computed from the draws otherwise.
        """
        if "log_likelihood" in self.tree.children:
            from bayescale.inference.model import OBSERVED

            return self.tree["log_likelihood"][OBSERVED].to_numpy()
        runs = self.runs
        # the error model's run data (group codes) describe the fitted runs: only their likelihood reads it
        return self.law.log_likelihood(self.draws(flat=False), self.scales, runs.loss, **law_inputs(self.law, runs),
                                       **self.law.error_model.run_data(runs))

    @cached_property
    def psis_loo(self) -> Any:
        """PSIS-LOO of the fit (arviz-stats ``ELPDData``: elpd, pointwise elpd, Pareto k), computed
        once per Fit: a report's residuals page and its comparison of laws both read it."""
        import warnings

        from arviz_stats import loo

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return loo(self.loo_tree())

    def loo_tree(self) -> xr.DataTree:
        """The fit as ArviZ expects it for LOO: with a ``log_likelihood`` group (also what a fit
        stores when asked to keep its log-likelihood)."""
        if "log_likelihood" in self.tree.children:
            return self.tree
        from bayescale.inference.model import OBSERVED

        tree = self.tree.copy()
        post = self.tree["posterior"].to_dataset()
        coords = {d: post[d].to_numpy() if d in post.coords else np.arange(post.sizes[d]) for d in ("chain", "draw")}
        coords["run"] = np.arange(self.runs.n_runs)
        tree["log_likelihood"] = xr.DataTree(xr.Dataset({OBSERVED: (("chain", "draw", "run"), self.log_likelihood())},
                                                        coords=coords))
        return tree

    def predict(self, prob: float = 0.95, seed: int = 0, **variables: Any) -> Prediction:
        """Predict the loss at new points, e.g. ``fit.predict(N=7e10, D=1.4e12)``.

        Parameters
        ----------
        prob : float
            Interval probability.
        seed : int
            Seeds the noise draws of the posterior predictive.
        **variables
            The law's variables (N, D, …) in physical units; C defaults to 6ND. A law with
            per-group parameters also needs the group (a label, or one per point).
        """
        labels = {d: variables.pop(d) for d in list(variables) if d in DIMS}
        self._levels_for(labels, "the prediction")
        variables = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in variables.items()}
        for name, values in variables.items():
            if not (np.all(np.isfinite(values)) and np.all(values > 0)):
                raise BayescaleError(f"{name} must be positive and finite to predict a loss; got {values.tolist()}")
        if "C" not in variables and "N" in variables and "D" in variables:
            with np.errstate(over="ignore"):
                variables["C"] = training_flops(variables["N"], variables["D"])
            if not np.all(np.isfinite(variables["C"])):
                raise BayescaleError("N and D give a training compute 6ND too large for floating point "
                                     f"(N {variables['N'].tolist()}, D {variables['D'].tolist()}); check their units")
        missing = [v for v in self.law.variables if v not in variables]
        if missing:
            raise BayescaleError(f"law {self.law.name!r} needs {', '.join(missing)} to predict")
        frame = pd.DataFrame(np.broadcast_arrays(*variables.values()), index=list(variables)).T
        draws = self.law.with_run_axis(self.draws())
        columns = {k: frame[k].to_numpy() for k in frame}
        for dim, label in labels.items():
            wanted = np.broadcast_to(np.asarray(label, dtype=object), (len(frame),))
            columns[dim] = np.array([self.runs.code_of(dim, str(x)) for x in wanted], dtype=np.int64)
            frame[dim] = [str(x) for x in wanted]
        mean = np.asarray(self.law.loss(draws, self.scales, **columns))
        rng = np.random.default_rng(seed)
        noise = {k: draws[k] for k in self.law.noise_parameters}
        context = self.context(**{k: frame[k].to_numpy() for k in ("N", "D", "C") if k in frame})
        with np.errstate(over="ignore"):  # a heavy-tailed draw far beyond the runs may overflow: inf is its value
            predictive = np.exp(self.law.error_model.draw(np.log(mean), noise, rng, context))
        return Prediction(frame, mean, predictive, prob, self.runs.loss_unit)

    def context(self, N: Any = None, D: Any = None, C: Any = None) -> dict[str, np.ndarray]:
        """Where points lie relative to the fitted runs (decades beyond them), for error models
        whose predictions widen away from the data (:func:`bayescale.laws.extrapolation.distances`)."""
        from bayescale.laws.extrapolation import distances

        return distances(self.runs, N, D, C)

    @cached_property
    def allocation(self) -> Fit | None:
        """The same law fitted to the runs near each budget's optimum, which :meth:`optimum`
        answers from, or None. :func:`bayescale.fit` makes it when many runs lie far from their
        budget's lowest loss, as in isoFLOP sweeps (``allocation_refit``)."""
        return Fit(self.tree["allocation"]) if "allocation" in self.tree.children else None

    @property
    def allocation_basis(self) -> str:
        """The :attr:`allocation` fit in words ("refitted to the 57 of 107 runs within 10% of their
        budget's lowest loss"), for every place that says where N*, D*, L* come from; empty without one."""
        if self.allocation is None:
            return ""
        from bayescale.data.selection import ALLOCATION_MARGIN

        return (f"refitted to the {self.allocation.runs.n_runs} of {self.runs.n_runs} runs within "
                f"{ALLOCATION_MARGIN:.0%} of their budget's lowest loss")

    def optimum(self, budgets: Any, method: str = "auto", unique_tokens: float | None = None, seed: int = 0,
                all_runs: bool = False, with_miss: bool | None = None, **levels: str) -> Optimum:
        """Compute-optimal N*, D*, L* for each posterior draw at each budget (FLOPs).

        ``unique_tokens`` (the unique tokens available) is required by data-constrained laws,
        which then allow D* > U (repeated data); see :func:`bayescale.results.optimum.compute_optimum`.
        A law with per-group parameters needs the group: ``fit.optimum(1e23, group="c4")``.
        ``L_opt_predictive`` (what a run trained at N*, D* would score: the error model's noise,
        and its discrepancy beyond the fitted runs) uses ``seed`` for its draws.

        A fit with an :attr:`allocation` fit answers from it (its ``basis`` says so), unless
        ``all_runs`` is true.

        ``with_miss``: for an error model that changes the surface itself (``discrepancy``, the
        default), ``N_opt_predictive`` and ``D_opt_predictive`` are each draw's minimum of the law
        plus that draw's miss beyond the runs (its tilt along the isoFLOP curve moves the minimum),
        beside the law's own ``N_opt`` and ``D_opt``. On 15 real sweeps their intervals held 15
        held-out vertices, the law's 9 (``bench/README.md``). By default (None) they are computed
        when the error model has a miss; True asks for them (an error without a miss), False skips them.
        """
        source = self if all_runs or self.allocation is None else self.allocation
        source._levels_for(levels, "the optimum")
        found = source.optimum_of_draws(source.draws(**levels), budgets, method, unique_tokens, seed, with_miss)
        if source is self:
            return found
        return replace(found, basis=f"from the law {self.allocation_basis} (runs far from each budget's optimum tilt "
                                    "a law's exponents)")

    def optimum_of_draws(self, draws: dict[str, np.ndarray], budgets: Any, method: str = "auto",
                         unique_tokens: float | None = None, seed: int = 0, with_miss: bool | None = None) -> Optimum:
        """:meth:`optimum` for given draws of the law's parameters (e.g. a new family's, drawn
        from the population), with ``L_opt_predictive`` from this fit's error model and runs."""
        noise = {k: np.asarray(draws[k], dtype=float).reshape(-1, 1) for k in self.law.noise_parameters}
        model = self.law.error_model
        samples = len(np.asarray(draws[self.law.parameters[0]]).reshape(-1))
        # the miss has its own stream, so L_opt_predictive is the same with or without it
        miss = None if with_miss is False else model.miss(noise, np.random.default_rng((seed, 1)), samples)
        if with_miss and miss is None:
            raise OptimumError(f"the error model {model.name!r} has no miss beyond the runs to move the optimum; "
                               "leave out with_miss (--with-miss), or fit with noise='discrepancy' (--noise discrepancy)")
        found = compute_optimum(self.law, draws, self.scales, budgets, method, self.runs.loss_unit,
                                unique_tokens=unique_tokens)
        context = self.context(N=found.N_opt, D=found.D_opt, C=np.broadcast_to(found.compute, found.N_opt.shape))
        with np.errstate(invalid="ignore", over="ignore"):  # a heavy-tailed draw may overflow: inf is its value
            predictive = np.exp(model.draw(np.log(found.L_opt), noise, np.random.default_rng(seed), context))
        found = replace(found, L_opt_predictive=predictive, n_convention=self.runs.n_convention,
                        largest_run=float(np.max(self.runs.C)))
        if miss is None:
            return found

        def log_miss(n, d, c):
            return miss(self.context(N=n, D=d, C=c), found.N_opt.shape)

        surface = compute_optimum(self.law, draws, self.scales, budgets, method, self.runs.loss_unit,
                                  unique_tokens=unique_tokens, log_miss=log_miss)
        from bayescale.laws.extrapolation import at_learned_edge

        edge = np.where(np.isfinite(surface.N_opt), at_learned_edge(self.runs, surface.N_opt, surface.D_opt), 0)
        return replace(found, N_opt_predictive=surface.N_opt, D_opt_predictive=surface.D_opt,
                       predictive_edge=edge.astype(np.int8))

    # ---- files ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fit to netCDF atomically (a temporary file, then a rename)."""
        path = Path(path)
        with atomic_path(path, "fit file") as tmp:
            self.tree.to_netcdf(tmp, engine="h5netcdf")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Fit:
        """Read a fit saved by :meth:`save`.

        Raises
        ------
        FitFileError
            If the file is missing, not netCDF, not a bayescale fit, or of a newer schema.
        """
        path = Path(path)
        tree = read_netcdf(path, "fit file", f"bayescale fit RUNS --out {path}")
        schema = tree.attrs.get("bayescale_schema")
        if schema is None and tree.attrs.get("bayescale_isoflop") is not None:
            raise FitFileError(
                f"{path} is an isoFLOP analysis (bayescale isoflop --out), not a fit of a law: read it with "
                f"bayescale isoflop {path} --compute C, or bayescale optimum {path} --compute C (IsoflopFit.load "
                f"in Python). It answers where a budget's "
                "minimum lies, not what a law answers: 'bayescale compare' and 'bayescale optimum FIT.nc ISO.nc' "
                "weigh it against fits of laws to the same runs (bs.compare_fits and bs.ensemble in Python)")
        if schema is None:
            raise FitFileError(f"{path} is netCDF but not a bayescale fit (no 'bayescale_schema' attribute)")
        if int(schema) not in _READABLE:
            raise FitFileError(f"{path} has schema {schema}; this bayescale reads {sorted(_READABLE)}: upgrade bayescale")
        required = {"posterior", "sample_stats", "observed_data", "constant_data"} | ({"log_likelihood"} if int(schema) == 1 else set())
        missing = required - set(tree.children)
        if missing:
            raise FitFileError(f"{path} lacks group(s) {sorted(missing)}: it is damaged, fit again")
        fit = cls(tree)
        if fit.runs.data_hash != tree.attrs["data_hash"]:
            raise FitFileError(f"{path}: the stored runs do not match the stored data hash; the file was altered")
        return fit

    def _repr_html_(self) -> str:
        from html import escape

        a = self.tree.attrs
        head = (f"<p><b>fit {escape(str(a.get('fit_id')))}</b>: {escape(str(a.get('law_title', a.get('law_name'))))}, "
                f"{self.runs.n_runs} runs, error model {escape(str(a.get('noise')))}, loss in {escape(self.runs.loss_unit)}</p>")
        return head + self.summary()._repr_html_()

    def __repr__(self) -> str:
        a = self.tree.attrs
        return (f"<Fit {a.get('fit_id')} law={a.get('law_name')} runs={self.runs.n_runs} "
                f"gates={'passed' if self.gates.passed else 'FAILED'}>")
