"""How far new points lie beyond the fitted runs, and the prior of how fast a law misses there.

Distances are in decades, zero inside the fitted runs' range:

- ``compute``: log10 C beyond the largest (or below the smallest) fitted compute;
- ``ratio``: log10 of tokens per parameter D/N outside the fitted runs' range of D/N;
- ``size``: log10 N beyond the fitted model sizes;
- ``tokens``: log10 D beyond the fitted token counts.

and positions: ``centered_compute``, log10 C minus the fitted runs' mean log10 C (signed);
``ratio_shift``, log10 D/N minus the fitted runs' median log10 D/N (signed: above the median is
positive), and ``ratio_offset``, its size; ``compute_ratio_shift`` and ``compute_ratio_offset``, their
products with ``compute`` (the shift held within the range of shifts the shipped prior was learned
on, ``ratio_shift_range``: a tilt learned on runs up to 2.3 decades from the fitted ratio says
nothing of runs 5 decades away, and an unbounded linear tilt would carry every far-out optimum to
the edge of the search). Beyond the runs' compute, a law tilts along its isoFLOP curves, missing
one way for runs with more tokens per parameter than it was fitted on and the other way for runs
with fewer (the shipped prior's tilt: ``bench/README.md``, Honest intervals).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["at_learned_edge", "distances", "extrapolation_prior", "Miss", "draw_miss", "discrepancy_scale",
           "discrepancy_draws"]


def _outside(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.maximum(x - hi, 0.0) + np.maximum(lo - x, 0.0)


def distances(runs: Any, N: Any = None, D: Any = None, C: Any = None) -> dict[str, np.ndarray]:
    """Decades by which points (N, D, C) lie outside the fitted runs, in compute and in D/N.

    Parameters
    ----------
    runs : Runs
        The fitted runs.
    N, D, C : array_like, optional
        The new points, physical units (broadcasting). C defaults to 6ND; without N and D
        the distance in tokens per parameter is zero.
    """
    from bayescale.laws.flops import training_flops

    if C is None and N is not None and D is not None:
        C = training_flops(np.asarray(N, dtype=float), np.asarray(D, dtype=float))
    if not runs.has_sizes:  # runs of compute and loss only: distances in compute alone
        N = D = None
    given = [np.asarray(v, dtype=float) for v in (N, D, C) if v is not None]
    shape = np.broadcast_shapes(*(v.shape for v in given)) if given else ()
    far = {key: np.zeros(shape) for key in ("compute", "ratio", "size", "tokens", "centered_compute", "ratio_shift",
                                            "ratio_offset", "compute_ratio_shift", "compute_ratio_offset")}
    ratio = None if N is None or D is None else np.asarray(D, dtype=float) / np.asarray(N, dtype=float)
    points = {"compute": C, "ratio": ratio, "size": N, "tokens": D}
    fitted = {"compute": runs.C} | ({"ratio": runs.D / runs.N, "size": runs.N, "tokens": runs.D} if runs.has_sizes else {})
    for key, values in points.items():
        if values is not None:
            log_x, log_f = np.log10(np.asarray(values, dtype=float)), np.log10(fitted[key])
            far[key] = np.broadcast_to(_outside(log_x, log_f.min(), log_f.max()), shape)
    if C is not None:
        far["centered_compute"] = np.broadcast_to(np.log10(np.asarray(C, dtype=float)) - np.log10(runs.C).mean(), shape)
    if ratio is not None:
        shift = np.broadcast_to(np.log10(ratio) - np.median(np.log10(fitted["ratio"])), shape)
        far["ratio_shift"], far["ratio_offset"] = shift, np.abs(shift)
        # the tilt is known only over the shifts it was learned on: flat beyond them
        far["compute_ratio_shift"] = far["compute"] * np.clip(shift, *_learned_shift_range())
        far["compute_ratio_offset"] = far["compute"] * far["ratio_offset"]
    return far


def extrapolation_prior() -> dict:
    """The learned prior of the discrepancy term (``extrapolation_prior.json``, shipped with the package).

    Beyond the fitted runs a law misses by a smooth function of where the point lies,
    ``delta = k · sqrt(sigma² + sigma_floor²) · sum_f a_f · weights[f] · d_f`` (``form``
    "coherent"): one rate ``log k ~ Normal(mu, omega)`` and one coefficient ``a_f ~ Normal(0, 1)``
    per feature, drawn once per posterior draw, so that a draw's points share its miss (a level,
    and a tilt along the isoFLOP curves). ``sigma`` is the fit's own scatter, ``sigma_floor``
    (absent: 0) a floor under it, and ``ratio_shift_range`` the shifts of D/N the tilt was learned
    on (:func:`distances` holds shifts within it). The rest is provenance: which ladders, how,
    when, and the leave-one-source-out scores.
    """
    import json

    return json.loads(_prior_text())


def at_learned_edge(runs: Any, N: Any, D: Any, tolerance: float = 0.02) -> np.ndarray:
    """Where points (N, D) lie against the shifts of D/N the shipped tilt was learned on: -1 on
    the lower edge (fewer tokens per parameter than the fitted runs' median; within ``tolerance``
    decades), -2 beyond it, +1 on the upper edge, +2 beyond it, 0 between. An optimum of the law
    plus its miss that stops on an edge stops at the kink where the tilt is held flat, not where
    the runs put it; one beyond an edge is the law's own optimum there (the tilt is flat)."""
    shift = np.log10(np.asarray(D, dtype=float) / np.asarray(N, dtype=float)) - np.median(np.log10(runs.D / runs.N))
    low, high = _learned_shift_range()
    with np.errstate(invalid="ignore"):
        code = np.where(shift < low - tolerance, -2, np.where(shift <= low + tolerance, -1, 0))
        code = np.where(shift > high + tolerance, 2, np.where(shift >= high - tolerance, 1, code))
    return code.astype(np.int8)


@functools.cache
def _learned_shift_range() -> tuple[float, float]:
    """The shifts in log10 D/N (from the fitted median) of the runs the shipped prior was learned on."""
    low, high = extrapolation_prior().get("ratio_shift_range", (-np.inf, np.inf))
    return float(low), float(high)


@functools.cache
def _prior_text() -> str:
    """The shipped prior file, read once per process (every prediction beyond the runs asks for it)."""
    from importlib.resources import files

    return files("bayescale.laws").joinpath("extrapolation_prior.json").read_text()


@dataclass(frozen=True)
class Miss:
    """Draws of the law's miss beyond the fitted runs: one smooth function per posterior sample.

    ``miss(context, shape)`` is ``k · sigma' · sum_f a_f · weights[f] · d_f`` at the points of
    ``context`` (distances from :func:`distances`), for draws of shape ``(sample, …, point)``; zero
    inside the runs, where every distance is zero. Made by :func:`draw_miss`.
    """

    rate: np.ndarray  #: ``k · sigma'`` (sigma' = sqrt(sigma² + sigma_floor²)), one per sample
    coefficients: Mapping[str, np.ndarray]  #: ``a_f · weights[f]`` per feature, one per sample

    def __call__(self, context: Mapping[str, np.ndarray] | None, shape: tuple[int, ...]) -> np.ndarray:
        if not context:
            return np.zeros(shape)
        lead = shape[:1] + (1,) * (len(shape) - 1)
        # a distance the context does not hold (e.g. D/N for points given by compute only) is zero
        total = sum(np.reshape(c, lead) * np.asarray(context.get(f, 0.0), dtype=float) for f, c in self.coefficients.items())
        return np.broadcast_to(np.reshape(self.rate, lead) * total, shape)


def _miss_scale(sigma: Any, prior: Mapping[str, Any]) -> Any:
    """The scale the rate k multiplies: the fit's noise sigma, with the prior's floor
    ``sigma_floor`` (on log loss) added in quadrature: a table whose runs scatter very little
    about the law (digitized points of one recipe) still misses beyond them by at least the floor's
    share. Priors without the key (before the fourth session) have no floor."""
    floor = float(prior.get("sigma_floor", 0.0))
    return np.sqrt(np.asarray(sigma, dtype=float) ** 2 + floor**2) if floor else sigma


def draw_miss(samples: int, rng: np.random.Generator, sigma: Any = 1.0, prior: Mapping[str, Any] | None = None) -> Miss:
    """Draw the law's miss for ``samples`` posterior samples (:class:`Miss`).

    Parameters
    ----------
    samples : int
        Number of posterior samples: each gets its own rate and coefficients.
    rng : numpy.random.Generator
    sigma : float or ndarray
        The fit's noise scale, one per sample (or a scalar).
    prior : mapping, optional
        By default :func:`extrapolation_prior`.
    """
    prior = prior or extrapolation_prior()
    if prior.get("form", "coherent") != "coherent":
        raise ValueError(f"the extrapolation prior's form is {prior['form']!r}; this version draws the 'coherent' "
                         "form (bench/learn_extrapolation.py --form coherent writes one)")
    k = np.exp(prior["mu"] + prior["omega"] * rng.standard_normal(samples))
    sigma = np.asarray(sigma, dtype=float)
    rate = k * _miss_scale(float(sigma.reshape(-1)[0]) if sigma.size == 1 else sigma.reshape(samples, -1)[:, 0], prior)
    coefficients = {f: float(w) * rng.standard_normal(samples) for f, w in prior["weights"].items()}
    return Miss(rate, coefficients)


def discrepancy_scale(context: Mapping[str, np.ndarray] | None, shape: tuple[int, ...], rng: np.random.Generator,
                      sigma: Any = 1.0, prior: Mapping[str, Any] | None = None) -> np.ndarray:
    """Standard deviation of the discrepancy term on log loss given each sample's rate ``k``, per point:
    ``k · sigma' · sqrt(sum_f (weights[f] · d_f)²)`` with sigma' = sqrt(sigma² + sigma_floor²),
    the spread of :func:`draw_miss`'s draws there.

    Parameters
    ----------
    context : mapping or None
        Distances from :func:`distances`; ``None`` (no idea where the points are) gives zeros.
    shape : tuple
        Shape ``(sample, …, point)``; each sample gets one rate ``k`` from the prior.
    sigma : float or ndarray
        The fit's noise scale per sample (broadcasting with ``shape``).
    prior : mapping, optional
        By default :func:`extrapolation_prior`.
    """
    if not context:
        return np.zeros(shape)
    prior = prior or extrapolation_prior()
    g = np.sqrt(sum((float(w) * np.asarray(context.get(f, 0.0), dtype=float)) ** 2 for f, w in prior["weights"].items()))
    k = np.exp(prior["mu"] + prior["omega"] * rng.standard_normal(shape[:1] + (1,) * (len(shape) - 1)))
    return k * _miss_scale(np.asarray(sigma, dtype=float), prior) * np.broadcast_to(g, shape)


def discrepancy_draws(context: Mapping[str, np.ndarray] | None, shape: tuple[int, ...], rng: np.random.Generator,
                      sigma: Any = 1.0, prior: Mapping[str, Any] | None = None) -> np.ndarray:
    """Draws of the discrepancy term on log loss, of ``shape`` ``(sample, …, point)``: one miss
    per sample shared by its points (:func:`draw_miss`)."""
    if not context:
        return np.zeros(shape)
    return draw_miss(shape[0], rng, sigma, prior)(context, shape)
