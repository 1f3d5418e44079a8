"""How far new points lie beyond the fitted runs, and the prior of how fast a law misses there.

Distances are in decades, zero inside the fitted runs' range:

- ``compute``: log10 C beyond the largest (or below the smallest) fitted compute;
- ``ratio``: log10 of tokens per parameter D/N outside the fitted runs' range of D/N;
- ``size``: log10 N beyond the fitted model sizes;
- ``tokens``: log10 D beyond the fitted token counts.

and positions: ``centered_compute``, log10 C minus the fitted runs' mean log10 C (signed);
``ratio_offset``, decades of D/N from the fitted runs' median D/N (either side, inside their range
too); ``compute_ratio_offset``, the product ``compute · ratio_offset``: beyond the runs' compute, a
law misses faster for runs far from the tokens per parameter it was fitted on (the shipped prior
weighs it: ``bench/README.md``, Honest intervals).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["distances", "extrapolation_prior", "discrepancy_scale", "discrepancy_draws"]


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

    given = [np.asarray(v, dtype=float) for v in (N, D, C) if v is not None]
    shape = np.broadcast_shapes(*(v.shape for v in given)) if given else ()
    if C is None and N is not None and D is not None:
        C = training_flops(np.asarray(N, dtype=float), np.asarray(D, dtype=float))
    far = {key: np.zeros(shape) for key in ("compute", "ratio", "size", "tokens", "centered_compute", "ratio_offset",
                                            "compute_ratio_offset")}
    ratio = None if N is None or D is None else np.asarray(D, dtype=float) / np.asarray(N, dtype=float)
    points = {"compute": C, "ratio": ratio, "size": N, "tokens": D}
    fitted = {"compute": runs.C, "ratio": runs.D / runs.N, "size": runs.N, "tokens": runs.D}
    for key, values in points.items():
        if values is not None:
            log_x, log_f = np.log10(np.asarray(values, dtype=float)), np.log10(fitted[key])
            far[key] = np.broadcast_to(_outside(log_x, log_f.min(), log_f.max()), shape)
    if C is not None:
        far["centered_compute"] = np.broadcast_to(np.log10(np.asarray(C, dtype=float)) - np.log10(runs.C).mean(), shape)
    if ratio is not None:
        offset = np.abs(np.log10(ratio) - np.median(np.log10(fitted["ratio"])))
        far["ratio_offset"] = np.broadcast_to(offset, shape)
        far["compute_ratio_offset"] = far["compute"] * far["ratio_offset"]
    return far


def extrapolation_prior() -> dict:
    """The learned prior of the discrepancy term (``extrapolation_prior.json``, shipped with the package).

    ``log k ~ Normal(mu, omega)``: beyond the fitted runs, a law's log-loss prediction drifts from
    the truth with standard deviation ``k · sigma`` per decade of ``g = sum_f weights[f] · d_f``
    (``sigma`` the fit's own scatter when ``relative``). The rest is provenance: which ladders,
    how, when, and the leave-one-source-out scores.
    """
    import json

    return json.loads(_prior_text())


@functools.cache
def _prior_text() -> str:
    """The shipped prior file, read once per process (every prediction beyond the runs asks for it)."""
    from importlib.resources import files

    return files("bayescale.laws").joinpath("extrapolation_prior.json").read_text()


def discrepancy_scale(context: Mapping[str, np.ndarray] | None, shape: tuple[int, ...], rng: np.random.Generator,
                      sigma: Any = 1.0, prior: Mapping[str, Any] | None = None) -> np.ndarray:
    """Standard deviation of the discrepancy term on log loss, per sample and point.

    Parameters
    ----------
    context : mapping or None
        Distances from :func:`distances`; ``None`` (no idea where the points are) gives zeros.
    shape : tuple
        Shape ``(sample, …, point)`` of the draws it scales. Each sample gets one rate ``k``
        from the prior: a draw's points agree on how fast the law is failing.
    sigma : float or ndarray
        The fit's noise scale per sample (broadcasting with ``shape``), for a relative prior.
    prior : mapping, optional
        By default :func:`extrapolation_prior`.
    """
    if not context:
        return np.zeros(shape)
    prior = prior or extrapolation_prior()
    # a distance the context does not hold (e.g. D/N for points given by compute only) is zero
    g = sum(float(w) * np.asarray(context.get(f, 0.0), dtype=float) for f, w in prior["weights"].items())
    k = np.exp(prior["mu"] + prior["omega"] * rng.standard_normal(shape[:1] + (1,) * (len(shape) - 1)))
    rate = k * np.asarray(sigma, dtype=float) if prior.get("relative", False) else k
    return rate * np.broadcast_to(g, shape)


def discrepancy_draws(context: Mapping[str, np.ndarray] | None, shape: tuple[int, ...], rng: np.random.Generator,
                      sigma: Any = 1.0, prior: Mapping[str, Any] | None = None) -> np.ndarray:
    """Draws of the discrepancy term on log loss (see :func:`discrepancy_scale`), one per element of ``shape``."""
    return discrepancy_scale(context, shape, rng, sigma, prior) * rng.standard_normal(shape)
