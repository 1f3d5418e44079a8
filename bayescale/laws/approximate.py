"""Error models that admit the law is an approximation: grouped effects, and a discrepancy that grows
away from the fitted runs.

``grouped``: runs that share a configuration (by default a model size N; or the runs' group
column) share an offset on log loss::

    log L_obs[i] = log L(N_i, D_i) + u[g(i)] + sigma·ε_i,    u[g] ~ Normal(0, tau)

The offsets are integrated out in closed form (each group's runs are jointly Normal with
covariance sigma² I + tau² 11ᵀ), so the sampler sees two noise parameters and no funnel. A new
configuration (every extrapolated model size) draws a new offset, so predictions carry tau.

``discrepancy``: independent Normal noise in the fitted runs, and predictions beyond them widen
by a discrepancy term whose rate was learned across real ladders (:mod:`bayescale.laws.extrapolation`).
In the fitted runs the distance is zero, so the data say nothing about that term: its prior is
everything, which is why it is learned from other tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayescale.errors import RunsError
from bayescale.laws.noise import _SIGMA, _SIGMA_TEXT, ErrorModel, Normal, normal_logpdf, register

__all__ = ["noise_groups", "grouped_logpdf"]

#: The data the grouped likelihood reads: a group code per run and the size of each group.
GROUP, GROUP_SIZE = "noise_group", "noise_group_size"


def noise_groups(runs: Any) -> np.ndarray:
    """Group code of each run: the runs' ``group`` column when there is one, else its model size N."""
    if "group" in getattr(runs, "levels", {}):
        return np.asarray(runs.codes("group"), dtype=np.int64)
    if "N" not in runs.frame:
        raise RunsError("the grouped error model shares an offset among runs of one model size, and these runs give "
                        "compute and loss only: name the column of the runs' configurations with --group-col "
                        "(group_col= in Python), or choose another error model (--noise)")
    _, codes = np.unique(runs.frame["N"].to_numpy(dtype=float), return_inverse=True)
    return codes.astype(np.int64)


def _group_sums(r: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-group sums of ``r`` along its last axis, and each run's own group's sum (same shape as r)."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sums = np.add.reduceat(r[..., order], starts, axis=-1)
    return sums, sums[..., np.searchsorted(sorted_codes[starts], codes)]


def grouped_logpdf(y: np.ndarray, mu: np.ndarray, sigma: Any, tau: Any, codes: np.ndarray) -> np.ndarray:
    """Each run's log density given the other runs of its group (the non-factorized LOO term).

    With the group offset integrated out, run i's loss given the other m runs of its group is
    Normal with mean mu_i + tau² S/(sigma² + m tau²) and variance sigma² + sigma² tau²/(sigma² + m tau²),
    where S is the sum of their residuals (Bürkner, Gabry and Vehtari 2021, for such models).
    """
    r = np.asarray(y, dtype=float) - np.asarray(mu, dtype=float)
    codes = np.asarray(codes, dtype=np.int64)
    _, own = _group_sums(r, codes)
    m = np.bincount(codes)[codes] - 1.0
    s2, t2 = np.asarray(sigma, dtype=float) ** 2, np.asarray(tau, dtype=float) ** 2
    denominator = s2 + m * t2
    mean = t2 * (own - r) / denominator
    var = s2 + s2 * t2 / denominator
    return -0.5 * (r - mean) ** 2 / var - 0.5 * np.log(2 * np.pi * var)


@register
class Grouped(ErrorModel):
    """Normal noise with a shared offset per configuration (model size, or the group column)."""

    name = "grouped"
    title = "grouped effects: runs of one configuration share an offset on log loss"
    equation = "log L_obs = log L + u[config] + sigma·ε, u ~ Normal(0, tau), ε ~ Normal(0, 1)"
    parameters = ("sigma", "tau")
    defaults = {"sigma": _SIGMA, "tau": {"dist": "HalfNormal", "sigma": 0.05}}
    descriptions = {"sigma": _SIGMA_TEXT, "tau": "scale of the offsets shared by runs of one configuration"}
    data_names = (GROUP, GROUP_SIZE)

    def run_data(self, runs):
        from bayescale.errors import RunsError

        codes = noise_groups(runs)
        sizes = np.bincount(codes)
        what = "group column" if "group" in getattr(runs, "levels", {}) else "model size N (the default grouping)"
        if sizes.size < 2:
            raise RunsError(f"the grouped error model needs at least two groups, but every run has the same {what}; "
                            "name a column that tells configurations apart with --group-col (group_col=...), or use "
                            "--noise discrepancy")
        if sizes.max() < 2:
            raise RunsError(f"the grouped error model needs groups of several runs, but every run has its own {what} "
                            f"({sizes.size} groups of one); name a coarser column with --group-col (group_col=...), "
                            "or use --noise discrepancy")
        return {GROUP: codes, GROUP_SIZE: sizes.astype(float)}

    def logpdf(self, y, mu, params, data=None):
        if not data or GROUP not in data:
            raise ValueError("the grouped error model needs each run's group code (run_data)")
        return grouped_logpdf(y, mu, params["sigma"], params["tau"], data[GROUP])

    def new_run_logpdf(self, y, mu, params, rng, context=None):
        scale = np.hypot(params["sigma"], params["tau"])
        return normal_logpdf(y, mu, scale)

    def draw(self, mu, params, rng, context=None):
        mu = np.asarray(mu, dtype=float)
        # every predicted point is taken as a new configuration: a fresh offset and fresh noise
        return mu + params["tau"] * rng.standard_normal(mu.shape) + params["sigma"] * rng.standard_normal(mu.shape)

    def observe(self, name, mu, params, observed, data=None):
        import pymc as pm
        import pytensor.tensor as pt

        codes, sizes = data[GROUP], data[GROUP_SIZE]
        r = observed - mu
        sums = pt.inc_subtensor(pt.zeros_like(sizes)[codes], r)
        s2, t2 = params["sigma"] ** 2, params["tau"] ** 2
        spread = s2 + sizes * t2
        quadratic = (pt.sum(r**2) - pt.sum(t2 * sums**2 / spread)) / s2
        n, groups = r.shape[0], sizes.shape[0]
        log_det = (n - groups) * pt.log(s2) + pt.sum(pt.log(spread))
        return pm.Potential(name, -0.5 * (quadratic + log_det + n * np.log(2 * np.pi)))


@register
class Discrepancy(Normal):
    """Independent Normal noise in the fitted runs; beyond them, a law discrepancy that grows.

    The likelihood is :class:`~bayescale.laws.noise.Normal`'s (in the fitted runs the distance is
    zero). Beyond them each posterior draw gets one smooth miss
    (:func:`bayescale.laws.extrapolation.draw_miss`): a level ``k · σ' · a · d`` and a tilt
    ``k · σ' · b · w · d · s`` along the isoFLOP curves, ``d`` the decades of compute beyond the
    fitted runs and ``s`` the signed decades of D/N from their median (held within the shifts the
    prior was learned on). ``σ' = sqrt(sigma² + c²)``: the fit's own scatter (a law that fits its
    runs worse fails faster outside them) with a floor ``c`` (0.005 on log loss: runs that scatter
    very little about the law still miss beyond them), ``a, b ~ Normal(0, 1)``, and the rate ``k``,
    weight ``w`` and floor ``c`` come from a prior learned by leave-future-out on real ladders
    (:func:`bayescale.laws.extrapolation.extrapolation_prior`). Points of one prediction share
    their draw's miss, so curves and differences between points keep its shape.
    """

    name = "discrepancy"
    title = "Normal noise + a law discrepancy that grows beyond the fitted runs (rate learned on real ladders)"
    equation = ("log L_obs = log L + delta + sigma·ε, ε ~ Normal(0, 1); beyond the fitted runs "
                "delta = k·sqrt(sigma² + c²)·d·(a + w·b·s), a, b ~ Normal(0, 1) once per posterior draw (a level and a tilt), "
                "d = decades of compute beyond the runs, s = decades of D/N from the runs' median (signed), "
                "log k ~ Normal(mu, omega), w and the floor c from real ladders")

    def predictive_prior(self):
        """The shipped extrapolation prior's form, values and provenance: a saved fit's predictions
        beyond its runs use the prior of the installed version, not of the version that fitted it."""
        from bayescale.laws.extrapolation import extrapolation_prior

        prior = extrapolation_prior()
        return {key: prior[key] for key in ("form", "mu", "omega", "weights", "sigma_floor", "date", "ladders") if key in prior}

    def miss(self, params, rng, samples):
        """One smooth miss per posterior sample (:func:`bayescale.laws.extrapolation.draw_miss`)."""
        from bayescale.laws.extrapolation import draw_miss

        return draw_miss(samples, rng, params["sigma"])

    def draw(self, mu, params, rng, context=None):
        from bayescale.laws.extrapolation import discrepancy_draws

        new_run = super().draw(mu, params, rng)
        return new_run + discrepancy_draws(context, new_run.shape, rng, params["sigma"])

    def curve_draws(self, mu, params, rng, context=None):
        from bayescale.laws.extrapolation import discrepancy_draws

        mu = np.asarray(mu, dtype=float)
        return super().curve_draws(mu, params, rng) + discrepancy_draws(context, mu.shape, rng, params["sigma"])

    def new_run_logpdf(self, y, mu, params, rng, context=None):
        from bayescale.laws.extrapolation import discrepancy_scale

        shape = np.broadcast_shapes(np.shape(y), np.shape(mu), np.shape(params["sigma"]))
        scale = np.hypot(params["sigma"], discrepancy_scale(context, shape, rng, params["sigma"]))
        return normal_logpdf(y, mu, scale)


#: The data the heteroskedastic likelihood reads: log10 C of each run minus the runs' mean.
CENTERED_COMPUTE = "centered_compute"


@register
class Heteroskedastic(ErrorModel):
    """Normal noise whose scale changes with compute: sigma · exp(sigma_trend · (log10 C − mean log10 C))."""

    name = "hetero"
    title = "Normal noise on log loss with a scale that grows or shrinks with compute"
    equation = "log L_obs = log L + sigma·exp(sigma_trend·x)·ε, x = log10 C − mean log10 C of the runs, ε ~ Normal(0, 1)"
    parameters = ("sigma", "sigma_trend")
    defaults = {"sigma": _SIGMA, "sigma_trend": {"dist": "Normal", "mu": 0.0, "sigma": 0.5}}
    descriptions = {"sigma": _SIGMA_TEXT + " at the runs' mean compute",
                    "sigma_trend": "change of log noise scale per decade of compute"}
    data_names = (CENTERED_COMPUTE,)

    def run_data(self, runs):
        log_c = np.log10(runs.C)
        return {CENTERED_COMPUTE: log_c - log_c.mean()}

    @staticmethod
    def _scale(params, x):
        return params["sigma"] * np.exp(params["sigma_trend"] * np.asarray(x, dtype=float))

    def logpdf(self, y, mu, params, data=None):
        if not data or CENTERED_COMPUTE not in data:
            raise ValueError("the hetero error model needs each run's compute (run_data)")
        scale = self._scale(params, data[CENTERED_COMPUTE])
        return normal_logpdf(y, mu, scale)

    def draw(self, mu, params, rng, context=None):
        mu = np.asarray(mu, dtype=float)
        x = 0.0 if not context else context.get(CENTERED_COMPUTE, 0.0)
        return mu + self._scale(params, x) * rng.standard_normal(mu.shape)

    def new_run_logpdf(self, y, mu, params, rng, context=None):
        x = 0.0 if not context else context.get(CENTERED_COMPUTE, 0.0)
        return self.logpdf(y, mu, params, {CENTERED_COMPUTE: np.broadcast_to(x, np.shape(y))})

    def observe(self, name, mu, params, observed, data=None):
        import pymc as pm
        import pytensor.tensor as pt

        scale = params["sigma"] * pt.exp(params["sigma_trend"] * data[CENTERED_COMPUTE])
        return pm.Normal(name, mu=mu, sigma=scale, observed=observed)
