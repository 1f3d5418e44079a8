"""Scaling laws read from declarative TOML files (``models/*.toml``).

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
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bayescale.errors import LawFileError
from bayescale.laws.coordinates import Coordinates, coordinates_from_table
from bayescale.laws.expr import Expression, numpy_backend, parse
from bayescale.laws.noise import DEFAULT_NOISE, ErrorModel, error_models, get_error_model
from bayescale.laws.priors import Prior, merge_priors

__all__ = ["Law", "Scales", "VARIABLES", "DIMS", "available_laws", "load_law", "law_from_text"]

#: Run variables a formula may use.
VARIABLES = ("N", "D", "C", "U")
#: Dims a parameter may have: each is a column of category labels in the runs table.
DIMS = ("group", "family")
_SCALE_NAMES = ("N_ref", "D_ref", "C_ref", "U_ref")
#: What a law file's ``unit`` of a parameter may say (see :meth:`Law.unit_of`).
PARAMETER_UNITS = ("loss", "dimensionless", "N", "D", "C")
_TOP_KEYS = {"schema", "name", "title", "description", "formula", "parameters", "noise",
             "physical", "optimum", "references", "sampling", "sampler"}
#: What a law file's ``[sampler]`` table may raise, with the range each value must lie in.
SAMPLER_FLOORS = {"target_accept": (0.6, 0.999), "draws": (50, 100_000)}
_SCHEMA = 1


@dataclass(frozen=True)
class Scales:
    """Reference scales that make the run variables dimensionless (geometric means of the runs)."""

    N_ref: float = 1.0
    D_ref: float = 1.0
    C_ref: float = 1.0
    U_ref: float = 1.0

    def as_dict(self) -> dict[str, float]:
        """Return ``{"N_ref": …, "D_ref": …, "C_ref": …, "U_ref": …}``."""
        return {name: float(getattr(self, name)) for name in _SCALE_NAMES}


def _models_dirs() -> list[Any]:
    """Folders of the built-in law files.

    In an installed wheel the top-level ``models/`` folder ships as the package
    ``bayescale.models_data`` (a ``package-dir`` mapping in ``pyproject.toml``); in a source
    checkout without installation it is read from the repository.
    """
    folders: list[Any] = []
    try:
        folders.append(resources.files("bayescale.models_data"))
    except ModuleNotFoundError:
        pass
    checkout = Path(__file__).resolve().parent.parent.parent / "models"
    if checkout.is_dir():
        folders.append(checkout)
    return folders


def available_laws() -> dict[str, Any]:
    """Return the built-in laws: name -> its file (a path or an importlib resource)."""
    found: dict[str, Any] = {}
    for folder in _models_dirs():
        entries = sorted((e for e in folder.iterdir() if e.name.endswith(".toml")), key=lambda e: e.name)
        for entry in entries:
            found.setdefault(entry.name.removesuffix(".toml"), entry)
    return found


@dataclass(frozen=True)
class Law:
    """A scaling law: formula, parameters, priors, noise model and references.

    Build one with :func:`load_law`; change priors or noise with :meth:`with_priors` and
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
        order = _check_structure(self.formula, self.parameters, priors, lambda message: PriorError(f"{source}: {message}"))
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


def load_law(name_or_path: str | Path) -> Law:
    """Load a built-in law by name, or a law file by path.

    Raises
    ------
    LawFileError
        If no such law exists or the file is malformed; the message names the problem.
    """
    text_name = str(name_or_path)
    builtins = available_laws()
    if text_name in builtins:
        path = builtins[text_name]
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise LawFileError(
                f"no law named {text_name!r}: built-in laws are {', '.join(sorted(builtins))}, "
                "or pass the path of a .toml law file"
            )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LawFileError(f"cannot read law file {path}: {exc}") from None
    return law_from_text(text, str(path))


def law_from_text(text: str, path: str = "<string>") -> Law:
    """Parse the TOML text of a law file into a :class:`Law`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LawFileError(f"{path}: not valid TOML: {exc}") from None

    def fail(message: str) -> LawFileError:
        return LawFileError(f"{path}: {message}")

    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    if data.get("schema", _SCHEMA) != _SCHEMA:
        raise fail(f"schema {data.get('schema')!r} is not supported (this bayescale reads schema {_SCHEMA})")
    for key in ("name", "formula", "parameters"):
        if key not in data:
            raise fail(f"missing required key {key!r}")
    name = data["name"]
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise fail("'name' must be a short identifier such as 'chinchilla'")
    if not isinstance(data["formula"], str):
        raise fail("'formula' must be a string such as \"E + A / N^alpha\"")
    params_table = data["parameters"]
    if not isinstance(params_table, dict) or not params_table:
        raise fail("[parameters] must have one table per parameter, each with a prior")
    noise_names = {p for model in error_models().values() for p in model.parameters}
    reserved = set(VARIABLES) | set(_SCALE_NAMES) | set(DIMS) | noise_names | {"K"}
    clash = reserved & set(params_table)
    if clash:
        raise fail(f"parameter name(s) {sorted(clash)} are reserved; rename them")

    priors: dict[str, Prior] = {}
    descriptions: dict[str, str] = {}
    units: dict[str, str] = {}
    for pname, spec in params_table.items():
        if not isinstance(spec, dict) or "prior" not in spec:
            raise fail(f"parameter {pname!r} needs a prior, e.g. prior = {{ dist = \"LogNormal\", mu = 0, sigma = 1 }}")
        extra = set(spec) - {"prior", "description", "dims", "unit"}
        if extra:
            raise fail(f"parameter {pname!r}: unknown key(s) {sorted(extra)}")
        prior_spec = spec["prior"]
        if "dims" in spec and isinstance(prior_spec, dict):
            prior_spec = {**prior_spec, "dims": spec["dims"]}
        for hname, hspec in _hyperpriors(pname, prior_spec, fail):
            if hname in params_table or hname in priors:
                raise fail(f"the prior table of {pname!r} makes a parameter {hname!r}, which is declared twice")
            priors[hname] = _prior(hspec, f"parameter {hname!r}", fail)
            descriptions[hname] = f"hyperparameter of {pname}"
        priors[pname] = _prior(prior_spec, f"parameter {pname!r}", fail)
        descriptions[pname] = str(spec.get("description", ""))
        if "unit" in spec:
            if spec["unit"] not in PARAMETER_UNITS:
                raise fail(f"parameter {pname!r}: unit must be one of {', '.join(PARAMETER_UNITS)}, got {spec['unit']!r}")
            units[pname] = spec["unit"]
    clash = reserved & set(priors)
    if clash:
        raise fail(f"parameter name(s) {sorted(clash)} are reserved; rename them")

    formula = _parse(data["formula"], set(VARIABLES) | set(priors), fail, "formula")
    variables = tuple(v for v in VARIABLES if v in formula.names)
    if not variables:
        raise fail(f"the formula uses none of the run variables {VARIABLES}")
    parameters = _check_structure(formula, tuple(priors), priors, fail)

    if not isinstance(data.get("noise", {}), dict):
        raise fail('[noise] must be a table, e.g. [noise] family = "student_t"')
    noise_table = dict(data.get("noise", {}))
    family = noise_table.pop("family", DEFAULT_NOISE)
    if family not in error_models():
        raise fail(f"[noise] family must be one of {sorted(error_models())}, got {family!r}")
    # A law file may give the prior of any registered error model's parameter, so that
    # switching the error model with --noise keeps the file's choice.
    defaults = {p: spec for model in error_models().values() for p, spec in model.defaults.items()}
    extra = set(noise_table) - set(defaults)
    if extra:
        raise fail(f"[noise]: unknown key(s) {sorted(extra)}; allowed: family, {', '.join(sorted(defaults))}")
    for pname, default in defaults.items():
        priors[pname] = _prior(noise_table.get(pname, default), f"noise parameter {pname!r}", fail)
    for model in error_models().values():
        for pname, phrase in model.descriptions.items():
            descriptions.setdefault(pname, phrase)

    allowed_physical = set(parameters) | set(_SCALE_NAMES)
    physical = {
        key: _parse(expr, allowed_physical, fail, f"[physical] {key}")
        for key, expr in _table(data, "physical", fail).items()
    }
    bad = set(physical) & (set(VARIABLES) | set(_SCALE_NAMES) | noise_names)
    if bad:
        raise fail(f"[physical] names {sorted(bad)} are run variables, scales or noise parameters; "
                   f"[physical] gives a parameter in the papers' units, or a quantity derived from them")
    optimum = {
        key: _parse(expr, set(parameters) | {"C"}, fail, f"[optimum] {key}")
        for key, expr in _table(data, "optimum", fail).items()
    }
    if set(optimum) - {"N"}:
        raise fail("[optimum] may only give N, the compute-optimal parameter count, as a formula in C")

    sampling = (coordinates_from_table(data["sampling"], {n: priors[n] for n in parameters}, fail)
                if "sampling" in data else None)

    sampler = _sampler_floors(data.get("sampler", {}), fail)

    references = data.get("references", [])
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise fail("'references' must be a list of strings")
    return Law(
        name=name,
        title=str(data.get("title", name)),
        formula=formula,
        variables=variables,
        parameters=parameters,
        priors=priors,
        noise=family,
        descriptions=descriptions,
        units=units,
        physical=physical,
        optimum=optimum,
        references=tuple(references),
        source_text=text,
        path=path,
        sampling=sampling,
        sampler=sampler,
    )


def _sampler_floors(table: Any, fail) -> dict[str, float]:
    """The ``[sampler]`` table: floors of the first attempt's settings, each checked."""
    if not isinstance(table, dict):
        raise fail("[sampler] must be a table, e.g. [sampler] target_accept = 0.95")
    unknown = sorted(set(table) - set(SAMPLER_FLOORS))
    if unknown:
        raise fail(f"[sampler] does not know {unknown}: it may set {sorted(SAMPLER_FLOORS)}")
    floors: dict[str, float] = {}
    for key, value in table.items():
        lo, hi = SAMPLER_FLOORS[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not lo <= value <= hi or (key == "draws" and not isinstance(value, int)):
            kind = "a whole number" if key == "draws" else "a number"
            raise fail(f"[sampler] {key} must be {kind} from {lo} to {hi}, got {value!r}")
        floors[key] = value
    return floors


def _hyperpriors(pname: str, spec: Any, fail) -> list[tuple[str, dict]]:
    """Turn prior tables given as arguments into parameters of their own, innermost first.

    ``E``'s prior ``{ dist = "LogNormal", mu = { dist = "Normal", … }, … }`` makes the parameter
    ``E_mu`` and leaves ``mu = "E_mu"`` in ``spec`` (which is changed in place).
    """
    out: list[tuple[str, dict]] = []
    if not isinstance(spec, dict):
        return out
    for arg, value in list(spec.items()):
        if isinstance(value, dict):
            name = f"{pname}_{arg}"
            value = dict(value)
            out += _hyperpriors(name, value, fail)
            out.append((name, value))
            spec[arg] = name
    return out


def _check_structure(formula: Expression, names: tuple[str, ...], priors: Mapping[str, Prior], fail) -> tuple[str, ...]:
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


def _table(data: dict, key: str, fail) -> dict[str, str]:
    table = data.get(key, {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise fail(f"[{key}] must map names to formula strings")
    return table


def _parse(source: str, allowed: set[str], fail, where: str) -> Expression:
    from bayescale.errors import FormulaError

    try:
        return parse(source, allowed)
    except FormulaError as exc:
        raise fail(f"{where}: {exc}") from None


def _prior(spec: Any, where: str, fail) -> Prior:
    from bayescale.errors import PriorError

    try:
        return Prior.from_spec(spec, where)
    except PriorError as exc:
        raise fail(str(exc)) from None
