"""Scaling laws as declared in TOML files (``models/*.toml``, read by :mod:`bayescale.laws.law_file`).

A law file holds a formula over the run variables (``N`` parameters, ``D`` tokens, ``C`` FLOPs,
``U`` unique tokens), its parameters with default priors, the noise model and references. In the
formula each variable is measured in units of the data's reference scale (``N`` means
``N / N_ref``, with ``N_ref`` the geometric mean of the runs), so the parameters, and their
priors, do not depend on the scale of the data. The optional ``[physical]`` table maps them back
to the papers' units, and ``[optimum]`` may give the closed-form compute-optimal size.
``[sampling]`` may name the coordinates NUTS samples in (:mod:`bayescale.laws.coordinates`).

A parameter may have one value per group of runs (``dims = "group"``, written ``E[group]`` in the
formula), with a hierarchical prior whose arguments are other parameters (``mu = "E_mu"``) or
prior tables of their own (``mu = { dist = "Normal", mu = 0.5, sigma = 0.5 }``, which becomes the
parameter ``E_mu``). Runs say which group each belongs to with a group (or family) column.

A :class:`Law` holds no data and no results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bayescale.errors import LawFileError
from bayescale.laws.coordinates import Coordinates
from bayescale.laws.expr import Expression, numpy_backend
from bayescale.laws.noise import DEFAULT_NOISE, ErrorModel, get_error_model
from bayescale.laws.priors import Prior, merge_priors

__all__ = ["Law", "Scales", "VARIABLES", "DIMS", "SCALE_NAMES", "check_structure"]

#: Run variables a formula may use.
VARIABLES = ("N", "D", "C", "U")
#: Dims a parameter may have: each is a column of category labels in the runs table.
DIMS = ("group", "family")
#: The reference scales of the run variables, by name.
SCALE_NAMES = ("N_ref", "D_ref", "C_ref", "U_ref")


@dataclass(frozen=True)
class Scales:
    """Reference scales that make the run variables dimensionless (geometric means of the runs)."""

    N_ref: float = 1.0
    D_ref: float = 1.0
    C_ref: float = 1.0
    U_ref: float = 1.0

    def as_dict(self) -> dict[str, float]:
        """Return ``{"N_ref": …, "D_ref": …, "C_ref": …, "U_ref": …}``."""
        return {name: float(getattr(self, name)) for name in SCALE_NAMES}


@dataclass(frozen=True)
class Law:
    """A scaling law: formula, parameters, priors, noise model and references.

    Build one with :func:`~bayescale.laws.law_file.load_law`; change priors or noise with :meth:`with_priors` and
    :meth:`with_noise`, which return new laws.
    """

    name: str
    title: str
    formula: Expression
    variables: tuple[str, ...]
    parameters: tuple[str, ...]
    priors: dict[str, Prior]
    noise: str = DEFAULT_NOISE
    descriptions: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    physical: dict[str, Expression] = field(default_factory=dict)
    optimum: dict[str, Expression] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    source_text: str = ""
    path: str = ""
    sampling: Coordinates | None = None
    #: Floors of the first attempt's sampler settings (``[sampler]``: ``target_accept``, ``draws``),
    #: for a posterior that the default first attempt rarely passes (see ``bayescale.results.fitting``).
    sampler: dict[str, float] = field(default_factory=dict)

    def unit_of(self, name: str, loss_unit: str) -> str:
        """The unit of parameter ``name`` in the fit's normalized units, for labels.

        From the law file's ``unit`` (``loss``: the loss's unit; ``N``, ``D``, ``C``: multiples of
        the runs' reference scale; ``dimensionless``); "normalized units" when the file says none.
        """
        unit = self.units.get(name)
        if unit == "loss":
            return loss_unit
        if unit in ("N", "D", "C"):
            return f"× {unit}_ref"
        return unit or "normalized units"

    @property
    def error_model(self) -> ErrorModel:
        """The error model, from the registry of :mod:`bayescale.laws.noise`."""
        return get_error_model(self.noise)

    @property
    def noise_parameters(self) -> tuple[str, ...]:
        """Names of the error model's parameters (``sigma``, and ``nu`` for Student-t, …)."""
        return self.error_model.parameters

    @property
    def trades_size_for_tokens(self) -> bool:
        """Whether the law uses both N and D, so that a budget has a compute-optimal allocation
        (closed-form through ``[optimum]`` or found numerically); laws in compute alone do not."""
        return {"N", "D"} <= set(self.variables)

    @property
    def in_compute_alone(self) -> bool:
        """Whether the law's one variable is C: what it says of a budget is the loss it buys."""
        return tuple(self.variables) == ("C",)

    @property
    def dims(self) -> tuple[str, ...]:
        """Dims of the law's shaped parameters (``("group",)`` for a per-group law), in order."""
        return tuple(d for d in DIMS if any(d in self.priors[p].dims for p in self.parameters))

    def dims_of(self, name: str) -> tuple[str, ...]:
        """Dims of one parameter (``()`` for a scalar)."""
        return self.priors[name].dims

    @property
    def all_parameters(self) -> tuple[str, ...]:
        """Law parameters followed by noise parameters: everything that gets a prior."""
        return self.parameters + self.noise_parameters

    @property
    def sha256(self) -> str:
        """Hash of the law file's text."""
        return "sha256:" + hashlib.sha256(self.source_text.encode()).hexdigest()

    def with_priors(self, overrides: Mapping[str, Mapping[str, Any]], source: str = "priors") -> Law:
        """Return a copy with user priors merged over this law's (unknown names are errors)."""
        from bayescale.errors import PriorError

        priors = merge_priors(self.priors, overrides, source)
        order = check_structure(self.formula, self.parameters, priors, lambda message: PriorError(f"{source}: {message}"))
        return replace(self, priors=priors, parameters=order)

    def with_noise(self, name: str) -> Law:
        """Return a copy with another error model (a name from :func:`bayescale.error_models`).

        A law holds a prior for every registered error model's parameters (the file's, or the
        error model's default), so switching keeps the file's choices.
        """
        get_error_model(name)  # raises for an unknown name
        return replace(self, noise=name)

    def loss(self, params: Mapping[str, Any], scales: Scales, **variables: Any) -> np.ndarray:
        """Evaluate the law with NumPy in physical units.

        Parameters
        ----------
        params : mapping
            Normalized parameter values (floats or arrays that broadcast with the variables).
        scales : Scales
            Reference scales of the fit.
        **variables
            ``N``, ``D``, ``C``, ``U`` in physical units, as the formula needs them, and for a
            law with shaped parameters the integer codes of each dim (``group=…``). Without a
            dim's codes, the shaped parameters are taken as already picked at one level.
        """
        values = dict(params)
        for name in self.variables:
            if name not in variables:
                raise LawFileError(f"law {self.name!r} needs {name} to predict a loss")
            values[name] = np.asarray(variables[name], dtype=float) / getattr(scales, f"{name}_ref")
        for dim in self.dims:
            values[dim] = np.asarray(variables[dim], dtype=np.int64) if variables.get(dim) is not None else None
        return self.formula.evaluate(values, numpy_backend())

    def with_run_axis(self, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Draws made ready to meet per-run variables: a trailing axis of length 1 on scalar parameters.

        A shaped parameter keeps its last axis, the levels, which the formula's ``E[group]``
        turns into one value per run.
        """
        return {k: np.asarray(v, dtype=float) if k in self.priors and self.priors[k].dims
                else np.asarray(v, dtype=float)[..., None] for k, v in params.items()}

    def log_likelihood(
        self, params: Mapping[str, Any], scales: Scales, loss: np.ndarray, **variables: Any
    ) -> np.ndarray:
        """Pointwise log density of the observed log losses under each parameter draw.

        Parameters
        ----------
        params : mapping
            Parameter draws of any common shape ``S``, noise parameters included.
        scales : Scales
            Reference scales of the fit.
        loss : ndarray of shape ``(n,)``
            Observed losses.
        **variables
            Run variables of shape ``(n,)`` in physical units, and the error model's run data
            (its ``data_names``, e.g. group codes).

        Returns
        -------
        ndarray of shape ``S + (n,)``, matching the PyMC model's ``log_likelihood``.
        """
        expanded = self.with_run_axis(params)
        mu = np.log(self.loss(expanded, scales, **variables))
        data = {k: variables[k] for k in self.error_model.data_names if k in variables}
        return self.error_model.logpdf(np.log(np.asarray(loss, dtype=float)), mu, expanded, data)

    def physical_parameters(self, params: Mapping[str, Any], scales: Scales) -> dict[str, Any]:
        """Map normalized parameter values to the units of the papers (N in parameters, …)."""
        namespace = {**params, **scales.as_dict()}
        out = {name: params[name] for name in self.parameters}
        for name, expression in self.physical.items():
            out[name] = expression.evaluate(namespace, numpy_backend())
        return out

    def __repr__(self) -> str:  # a REPL shows the law as `bayescale laws NAME` does, not 4,700 characters of fields
        return self.describe()

    def describe(self) -> str:
        """A few lines for ``bayescale laws`` and reports."""
        lines = [f"{self.name}: {self.title}", f"  L = {self.formula}"]
        for name in self.all_parameters:
            text = self.descriptions.get(name, "")
            lines.append(f"  {name:<8} ~ {self.priors[name]!s:<40} {text}")
        lines += [f"  ref: {ref}" for ref in self.references]
        return "\n".join(lines)


def check_structure(formula: Expression, names: tuple[str, ...], priors: Mapping[str, Prior], fail) -> tuple[str, ...]:
    """Check dims, indexing and prior references; return the parameters, each after those its prior uses."""
    for pname, dim in formula.indexed.items():
        if pname in VARIABLES:
            raise fail(f"the formula indexes the run variable {pname} ({pname}[{dim}]); only parameters with dims are indexed")
        if dim not in DIMS:
            raise fail(f"{pname}[{dim}]: {dim!r} is not a dim; parameters may have dims {', '.join(DIMS)}")
    referenced: set[str] = set()
    for pname in names:
        prior, indexed = priors[pname], formula.indexed.get(pname)
        if prior.dims and indexed is None:
            raise fail(f"parameter {pname!r} has dims {list(prior.dims)}: write it {pname}[{prior.dims[0]}] in the formula")
        if indexed and prior.dims != (indexed,):
            raise fail(f"the formula writes {pname}[{indexed}], so {pname!r} needs dims = \"{indexed}\" next to its prior")
        for ref in prior.references:
            if ref not in priors or ref not in names:
                raise fail(f"the prior of {pname!r} refers to {ref!r}, which is not a parameter of this law")
            if priors[ref].dims:
                raise fail(f"the prior of {pname!r} refers to {ref!r}, which has dims; a hyperparameter is a scalar")
        referenced |= set(prior.references)
    unused = set(names) - formula.names - referenced
    if unused:
        raise fail(f"parameter(s) {sorted(unused)} are declared but not used in the formula or a prior")
    order: list[str] = []
    pending = list(names)
    while pending:
        ready = [p for p in pending if set(priors[p].references) <= set(order)]
        if not ready:
            raise fail(f"the priors of {sorted(pending)} refer to each other in a cycle")
        order += ready
        pending = [p for p in pending if p not in ready]
    return tuple(order)


