"""Error models: how an observed log loss scatters about the law. A registry of small objects.

Each error model is one class that knows its parameters and their default priors, its NumPy log
density (for the pointwise log-likelihood), its predictive draws (what a new run would score) and
how to add its likelihood to a PyMC model. Everything that depends on the error model (the law
file's ``[noise]`` table, ``--noise``, the PyMC graph, the log-likelihood, predictions, inverse
questions, the report's text) asks the registry, never a string switch.

Adding one: subclass :class:`ErrorModel`, set ``name``, ``parameters`` and ``defaults``, write the
three methods, and decorate the class with :func:`register`.

This module imports no PyMC at import time (it is part of the bottom layer); ``observe`` imports
it when a model is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from bayescale.errors import LawFileError

__all__ = ["ErrorModel", "error_models", "get_error_model", "register", "DEFAULT_NOISE", "NOISE_UNIT"]

#: The unit of every error-model parameter: they act on log loss, so they have none.
NOISE_UNIT = "dimensionless, on log loss"

#: The error model of a law file that names none. Chosen by leave-future-out scores on real
#: ladders (bench/learn_extrapolation.py; the README's "Honest intervals" section).
DEFAULT_NOISE = "discrepancy"

_REGISTRY: dict[str, ErrorModel] = {}


class ErrorModel:
    """Base class of error models on the log-loss scale: ``log L_obs = log L_law(N, D) + ε``.

    Attributes
    ----------
    name : str
        Registry key, as given to ``--noise`` and in law files (``[noise] family = NAME``).
    title : str
        One line for listings and reports.
    equation : str
        How ``ε`` is distributed, in words and symbols, for the report.
    parameters : tuple of str
        Names of the error model's own parameters (each gets a prior).
    defaults : dict
        Default prior spec of each parameter.
    descriptions : dict
        One phrase per parameter.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    equation: ClassVar[str] = ""
    parameters: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    descriptions: ClassVar[dict[str, str]] = {}
    #: Names of per-run data the error model reads besides the log losses (see :meth:`run_data`).
    data_names: ClassVar[tuple[str, ...]] = ()

    def run_data(self, runs: Any) -> dict[str, np.ndarray]:
        """Per-run data the likelihood needs besides the losses (e.g. group codes), by name."""
        return {}

    def logpdf(self, y: np.ndarray, mu: np.ndarray, params: Mapping[str, np.ndarray],
               data: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Pointwise log density of observed log losses ``y`` given the law's log loss ``mu``.

        For independent errors this is the density of each run; where runs are correlated
        (grouped effects) it is each run's density given the other runs (its leave-one-out term).
        """
        raise NotImplementedError

    def draw(self, mu: np.ndarray, params: Mapping[str, np.ndarray], rng: np.random.Generator,
             context: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Draw log losses of new runs about ``mu`` (the posterior predictive, one per element).

        ``context`` describes where the new runs lie relative to the fitted ones (see
        :func:`bayescale.laws.extrapolation.distances`, from :meth:`Fit.context`); error models that widen away
        from the data read it, others ignore it.
        """
        raise NotImplementedError

    def observe(self, name: str, mu: Any, params: Mapping[str, Any], observed: Any,
                data: Mapping[str, Any] | None = None) -> Any:
        """Add the likelihood of ``observed`` (log losses) to the PyMC model in context."""
        raise NotImplementedError

    def curve_draws(self, mu: np.ndarray, params: Mapping[str, np.ndarray], rng: np.random.Generator,
                    context: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Draws of one run's log loss along a curve of configurations ``mu`` of shape ``(sample, point)``.

        Unlike :meth:`draw`, each sample gets one deviate shared by every point of its curve (the
        same run, asked "where along the curve would it reach the target?"), so curves keep their
        shape. By default the run-to-run noise of :meth:`draw` at one point, added along the curve.
        """
        mu = np.asarray(mu, dtype=float)
        offset = self.draw(np.zeros(mu.shape[:-1] + (1,)), {k: np.asarray(v)[..., :1] for k, v in params.items()}, rng)
        return mu + offset

    def miss(self, params: Mapping[str, np.ndarray], rng: np.random.Generator, samples: int) -> Any:
        """Draws of the law's own miss beyond the fitted runs, one smooth function per sample (a
        :class:`bayescale.laws.extrapolation.Miss`, called with a context and a shape), for error
        models that change the surface itself; None for the others (the default)."""
        return None

    def predictive_prior(self) -> dict[str, Any] | None:
        """What predictions use beyond the fit itself (e.g. a prior learned on other tables), for
        ``summary`` to say; None when predictions use the fit alone (the default)."""
        return None

    def new_run_logpdf(self, y: np.ndarray, mu: np.ndarray, params: Mapping[str, np.ndarray],
                       rng: np.random.Generator, context: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Log density of the log losses ``y`` of new runs (a new configuration each, at ``context``):
        the density :meth:`draw` samples from. Independent errors: :meth:`logpdf`."""
        return self.logpdf(y, mu, params)

    def __repr__(self) -> str:
        return f"<ErrorModel {self.name}: {', '.join(self.parameters)}>"


def register(cls: type[ErrorModel]) -> type[ErrorModel]:
    """Class decorator: add an error model to the registry under ``cls.name``."""
    if not cls.name or cls.name in _REGISTRY:
        raise ValueError(f"error model name {cls.name!r} is empty or taken")
    _REGISTRY[cls.name] = cls()
    return cls


def error_models() -> dict[str, ErrorModel]:
    """Every registered error model, by name."""
    return dict(_REGISTRY)


def get_error_model(name: str) -> ErrorModel:
    """Look an error model up by name.

    Raises
    ------
    LawFileError
        If no error model has that name; the message lists the ones there are.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise LawFileError(f"unknown error model {name!r}; choose one of {', '.join(sorted(_REGISTRY))} "
                           "(--noise NAME, or [noise] family = NAME in a law file)") from None


def normal_logpdf(y: Any, mu: Any, scale: Any) -> np.ndarray:
    """Log density of Normal(mu, scale) at y, broadcasting."""
    z = (np.asarray(y, dtype=float) - mu) / scale
    return -0.5 * z**2 - np.log(scale) - 0.5 * np.log(2 * np.pi)


_SIGMA = {"dist": "HalfNormal", "sigma": 0.1}
_SIGMA_TEXT = "noise scale of log loss (dimensionless)"


@register
class Normal(ErrorModel):
    """Independent Normal noise on log loss (log-normal on loss)."""

    name = "normal"
    title = "independent Normal noise on log loss"
    equation = "log L_obs = log L + sigma·ε, ε ~ Normal(0, 1)"
    parameters = ("sigma",)
    defaults = {"sigma": _SIGMA}
    descriptions = {"sigma": _SIGMA_TEXT}

    def logpdf(self, y, mu, params, data=None):
        return normal_logpdf(y, mu, params["sigma"])

    def draw(self, mu, params, rng, context=None):
        mu = np.asarray(mu, dtype=float)
        return mu + params["sigma"] * rng.standard_normal(mu.shape)

    def observe(self, name, mu, params, observed, data=None):
        import pymc as pm

        return pm.Normal(name, mu=mu, sigma=params["sigma"], observed=observed)


@register
class StudentT(ErrorModel):
    """Student-t noise on log loss: a few runs may miss the law by far more than the rest."""

    name = "student_t"
    title = "Student-t noise on log loss (heavy tails)"
    equation = "log L_obs = log L + sigma·ε, ε ~ Student-t(nu)"
    parameters = ("sigma", "nu")
    defaults = {"sigma": _SIGMA, "nu": {"dist": "Gamma", "alpha": 2.0, "beta": 0.1}}
    descriptions = {"sigma": _SIGMA_TEXT, "nu": "Student-t degrees of freedom (dimensionless)"}

    def logpdf(self, y, mu, params, data=None):
        from scipy.special import gammaln

        sigma, nu = params["sigma"], params["nu"]
        z = (y - mu) / sigma
        return (gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
                - np.log(sigma) - (nu + 1) / 2 * np.log1p(z**2 / nu))

    def draw(self, mu, params, rng, context=None):
        mu = np.asarray(mu, dtype=float)
        nu = np.broadcast_to(params["nu"], mu.shape)
        return mu + params["sigma"] * rng.standard_t(nu)

    def observe(self, name, mu, params, observed, data=None):
        import pymc as pm

        return pm.StudentT(name, nu=params["nu"], mu=mu, sigma=params["sigma"], observed=observed)


# error models with grouped effects and extrapolation discrepancy register themselves on import
from bayescale.laws import approximate as _approximate  # noqa: E402,F401
