"""Priors as data: a distribution name and its arguments, checked against a whitelist.

A prior is written in TOML or JSON as ``{ dist = "LogNormal", mu = 0.0, sigma = 1.0 }``. An
argument may instead name another parameter (a hierarchical prior: ``mu = "E_mu"``), or be a
prior table itself, which a law file turns into a parameter of its own. ``dims = "group"`` gives
the parameter one value per level of a dim (one per group of runs, say).

This module knows nothing of PyMC: :mod:`bayescale.inference.model` turns a :class:`Prior` into a PyMC
distribution, and the NumPy draws here serve plots and tests.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bayescale.errors import PriorError

__all__ = ["DISTRIBUTIONS", "Prior", "merge_priors", "read_prior_file"]

#: Allowed distributions: name -> (argument names, support).
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "Normal": (("mu", "sigma"), "real"),
    "StudentT": (("nu", "mu", "sigma"), "real"),
    "Cauchy": (("alpha", "beta"), "real"),
    "Uniform": (("lower", "upper"), "interval"),
    "TruncatedNormal": (("mu", "sigma", "lower", "upper"), "interval"),
    "HalfNormal": (("sigma",), "positive"),
    "HalfStudentT": (("nu", "sigma"), "positive"),
    "HalfCauchy": (("beta",), "positive"),
    "LogNormal": (("mu", "sigma"), "positive"),
    "Gamma": (("alpha", "beta"), "positive"),
    "InverseGamma": (("alpha", "beta"), "positive"),
    "Exponential": (("lam",), "positive"),
    "Beta": (("alpha", "beta"), "unit"),
}
#: Arguments that must be > 0 (scales, shapes, rates); Cauchy's alpha is a location.
_POSITIVE_ARGS = {"sigma", "nu", "beta", "lam", "alpha"}
_REAL_ARGS = {("Cauchy", "alpha")}


@dataclass(frozen=True)
class Prior:
    """One prior distribution.

    Attributes
    ----------
    dist : str
        A name from :data:`DISTRIBUTIONS`.
    args : dict
        Its arguments: floats, or names of other parameters (hierarchical priors).
    dims : tuple of str
        Dims of the parameter (``("group",)``: one value per group); ``()`` for a scalar.
    centered : bool
        For a hierarchical ``Normal`` or ``LogNormal`` (arguments that name other parameters):
        ``False`` samples a standard-normal offset per level and sets the value to
        ``mu + sigma·offset`` (``exp`` of it for ``LogNormal``), which keeps NUTS out of the funnel
        when the levels barely differ.
    """

    dist: str
    args: dict[str, float | str] = field(default_factory=dict)
    dims: tuple[str, ...] = ()
    centered: bool = True

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], where: str) -> Prior:
        """Build a prior from ``{"dist": name, **args}``, checking names and values.

        Parameters
        ----------
        spec : mapping
            The prior as read from a file.
        where : str
            What the prior belongs to, for error messages (e.g. ``"parameter 'E'"``).
        """
        if not isinstance(spec, Mapping) or "dist" not in spec:
            raise PriorError(
                f"prior of {where} must be a table with a 'dist' key, e.g. "
                "{ dist = \"LogNormal\", mu = 0.0, sigma = 1.0 }"
            )
        dist = spec["dist"]
        if dist not in DISTRIBUTIONS:
            raise PriorError(
                f"prior of {where}: unknown distribution {dist!r}; choose one of "
                f"{', '.join(DISTRIBUTIONS)}"
            )
        expected, _ = DISTRIBUTIONS[dist]
        dims = spec.get("dims", ())
        dims = (dims,) if isinstance(dims, str) else dims
        if not isinstance(dims, list | tuple) or not all(isinstance(d, str) and d.isidentifier() for d in dims) \
                or len(dims) > 1:
            raise PriorError(f"prior of {where}: dims must name one dim, e.g. dims = \"group\", got {spec['dims']!r}")
        centered = spec.get("centered", True)
        if not isinstance(centered, bool):
            raise PriorError(f"prior of {where}: centered must be true or false, got {centered!r}")
        args = {k: v for k, v in spec.items() if k not in ("dist", "dims", "centered")}
        unknown = set(args) - set(expected)
        missing = set(expected) - set(args)
        if unknown or missing:
            raise PriorError(
                f"prior of {where}: {dist} takes arguments {list(expected)}; "
                + (f"unknown {sorted(unknown)} " if unknown else "")
                + (f"missing {sorted(missing)}" if missing else "")
            )
        clean: dict[str, float | str] = {}
        for name in expected:
            value = args[name]
            if isinstance(value, str):
                if not value.isidentifier():
                    raise PriorError(f"prior of {where}: argument {name} must be a number or the name of a "
                                     f"parameter, got {value!r}")
                clean[name] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise PriorError(f"prior of {where}: argument {name} must be a finite number, got {value!r}")
            if name in _POSITIVE_ARGS and (dist, name) not in _REAL_ARGS and value <= 0:
                raise PriorError(f"prior of {where}: argument {name} must be > 0, got {value}")
            clean[name] = float(value)
        bounds = [clean.get("lower"), clean.get("upper")]
        if all(isinstance(b, float) for b in bounds) and bounds[0] >= bounds[1]:
            raise PriorError(f"prior of {where}: lower must be below upper")
        if not centered and (dist not in ("Normal", "LogNormal") or not any(isinstance(v, str) for v in clean.values())):
            raise PriorError(f"prior of {where}: centered = false applies to a Normal or LogNormal whose mu or sigma "
                             f"names another parameter (a hierarchical prior)")
        return cls(dist=dist, args=clean, dims=tuple(dims), centered=centered)

    @property
    def is_numeric(self) -> bool:
        """True when every argument is a number (not a hierarchical prior)."""
        return not self.references

    @property
    def references(self) -> tuple[str, ...]:
        """Names of the parameters this prior's arguments refer to."""
        return tuple(v for v in self.args.values() if isinstance(v, str))

    @property
    def support(self) -> str:
        """``"real"``, ``"positive"``, ``"unit"`` or ``"interval"``."""
        return DISTRIBUTIONS[self.dist][1]

    def to_spec(self) -> dict[str, Any]:
        """Return the prior as a plain dict, the inverse of :meth:`from_spec`."""
        return {"dist": self.dist, **self.args, **({"dims": list(self.dims)} if self.dims else {}),
                **({} if self.centered else {"centered": False})}

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v}" if isinstance(v, str) else f"{k}={v:g}" for k, v in self.args.items())
        return f"{self.dist}({inner})" + (f" per {', '.join(self.dims)}" if self.dims else "")

    def median(self) -> float:
        """The median of 2,001 draws with seed 0: where the sampler's chains start (same for every law)."""
        return float(np.median(self.draw(2001, seed=0)))

    def draw(self, size: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Draw from the prior with NumPy (for prior-vs-posterior plots and tests)."""
        if not self.is_numeric:
            raise PriorError(f"{self} depends on other parameters ({', '.join(self.references)}); draw those first")
        rng = np.random.default_rng(seed)
        a = self.args
        match self.dist:
            case "Normal":
                return rng.normal(a["mu"], a["sigma"], size)
            case "StudentT":
                return a["mu"] + a["sigma"] * rng.standard_t(a["nu"], size)
            case "Cauchy":
                return a["alpha"] + a["beta"] * rng.standard_cauchy(size)
            case "Uniform":
                return rng.uniform(a["lower"], a["upper"], size)
            case "TruncatedNormal":
                from scipy.special import ndtr, ndtri

                lo = ndtr((a["lower"] - a["mu"]) / a["sigma"])
                hi = ndtr((a["upper"] - a["mu"]) / a["sigma"])
                return a["mu"] + a["sigma"] * ndtri(rng.uniform(lo, hi, size))
            case "HalfNormal":
                return np.abs(rng.normal(0.0, a["sigma"], size))
            case "HalfStudentT":
                return np.abs(a["sigma"] * rng.standard_t(a["nu"], size))
            case "HalfCauchy":
                return np.abs(a["beta"] * rng.standard_cauchy(size))
            case "LogNormal":
                return rng.lognormal(a["mu"], a["sigma"], size)
            case "Gamma":
                return rng.gamma(a["alpha"], 1.0 / a["beta"], size)
            case "InverseGamma":
                return 1.0 / rng.gamma(a["alpha"], 1.0 / a["beta"], size)
            case "Exponential":
                return rng.exponential(1.0 / a["lam"], size)
            case "Beta":
                return rng.beta(a["alpha"], a["beta"], size)
        raise PriorError(f"no sampler for {self.dist}")  # unreachable: dist is checked


def merge_priors(
    defaults: Mapping[str, Prior], overrides: Mapping[str, Mapping[str, Any]], source: str = "priors"
) -> dict[str, Prior]:
    """Merge user overrides over default priors.

    An override with a ``dist`` key replaces the default; one without it changes only the
    arguments it names. A name that is not among the defaults is an error.

    Parameters
    ----------
    defaults : mapping
        Parameter name -> default prior.
    overrides : mapping
        Parameter name -> partial or full prior spec.
    source : str
        Where the overrides came from, for messages.
    """
    unknown = set(overrides) - set(defaults)
    if unknown:
        raise PriorError(
            f"{source}: unknown parameter(s) {sorted(unknown)}; this law's parameters are "
            f"{sorted(defaults)}"
        )
    merged = dict(defaults)
    for name, spec in overrides.items():
        if not isinstance(spec, Mapping):
            raise PriorError(f"{source}: the prior of {name!r} must be a table of dist and arguments")
        full = dict(spec) if "dist" in spec else {**defaults[name].to_spec(), **spec}
        merged[name] = Prior.from_spec(full, f"parameter {name!r} in {source}")
    return merged


def read_prior_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a prior override file (``.toml`` or ``.json``): a table per parameter."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PriorError(f"cannot read prior file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise PriorError(f"prior file {path} is not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise PriorError(f"prior file {path} must hold one table per parameter")
    return data
