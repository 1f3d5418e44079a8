"""The coordinates NUTS samples a law in: the loss at the reference point, its split, its slopes.

Runs that span a short range of N (or of D) pin the loss at their centre (the reference point,
where the normalized N and D are 1) and its slopes there, but barely where the rest goes: for
Chinchilla's law E, A and alpha trade off along a ridge, ``E = L0 − B − s/alpha``, that is curved
in the log coordinates a sampler would use (log E, log A, log alpha) and defeats its mass-matrix
adaptation (misfitting_li: bulk ESS of 22–155 from 2,000 draws). A law file may say which
coordinates straighten its ridge; two forms are known (:data:`FORMS`):

``shares`` — a sum of positive terms, each a share of the loss at the reference point::

    [sampling]
    shares = ["E", "A", "B"]
    slopes = { alpha = "A", beta = "B" }

The sampler draws ``log(E + A + B)``, ``log(A/E)``, ``log(B/E)``, ``log(alpha·A)`` and
``log(beta·B)``: along the ridge only ``log(A/E)`` moves, and both of its ends (E → 0, A → 0)
are smooth tails, not walls. In log space this change of variables has unit Jacobian.

``bracket`` — a floor plus a powered bracket, ``E + ((Nc/N)^(alpha_N/alpha_D) + Dc/D)^alpha_D``
(Kaplan's law with a floor)::

    [sampling]
    floor = "E"
    bracket = ["Nc", "Dc"]
    exponents = ["alpha_N", "alpha_D"]

The sampler draws the loss at the reference point ``log L0``, the bracket's share of it over the
floor's ``log(R0/E)``, the split of the bracket between its N and D terms, and the loss's slopes
along log N and log D there (their logarithms). Its Jacobian in log space is ``alpha_N``.

In both, the priors stay on the law's parameters and the log-Jacobian is added, so the posterior
is the same (tests hold the log densities equal up to that term, and the term to a numerical
determinant), only easier to sample. Parameters whose priors are not scalar, numeric and
positive (a user's override, per-family parameters) are sampled as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from bayescale.laws.priors import Prior

__all__ = ["Coordinates", "Shares", "Bracket", "FORMS", "coordinates_from_table", "LEVEL"]

#: The sampler's free variable ``log`` of the loss at the reference point.
LEVEL = "log_level"


class Coordinates:
    """A law's sampling coordinates: a bijection between the logarithms of some of its
    parameters and as many free variables of the sampler.

    Subclasses define :attr:`names`, :meth:`variables`, :meth:`to_sampler` (parameters -> free
    variables, with NumPy), :meth:`log_parameters` (free variables -> the parameters'
    logarithms and the log-Jacobian, with NumPy or PyTensor) and :meth:`to_table`.
    """

    #: The key of a ``[sampling]`` table that selects this form.
    key: ClassVar[str] = ""

    @property
    def names(self) -> tuple[str, ...]:
        """The law parameters these coordinates replace."""
        raise NotImplementedError

    def variables(self) -> tuple[str, ...]:
        """Names of the sampler's free variables."""
        raise NotImplementedError

    def to_sampler(self, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The sampler's coordinates of a point of the law's parameters."""
        raise NotImplementedError

    def log_parameters(self, free: Mapping[str, Any], xp: ModuleType) -> tuple[dict[str, Any], Any]:
        """The logarithms of :attr:`names` at the free variables ``free`` and ``log |det d(log
        parameters) / d(free)|``, computed with ``xp`` (``numpy`` or ``pytensor.tensor``)."""
        raise NotImplementedError

    def to_table(self) -> dict[str, Any]:
        """As a law file's ``[sampling]`` table."""
        raise NotImplementedError

    def applies(self, priors: Mapping[str, Prior]) -> bool:
        """Whether every parameter named has a scalar, numeric prior on the positive numbers."""
        return all(name in priors and priors[name].is_numeric and not priors[name].dims
                   and priors[name].support == "positive" for name in self.names)


def _softplus(x, xp):
    # log(1 + e^x), elementwise: no log-sum-exp op, which would cost a C compiler's start-up in the
    # function that computes the draws (exp overflows only where a term is e^709 times another)
    return xp.log1p(xp.exp(x))


@dataclass(frozen=True)
class Shares(Coordinates):
    """Shares of the loss at the reference point, and slopes (see the module's docstring).

    Attributes
    ----------
    shares : tuple of str
        Positive parameters whose sum is sampled on the log scale, and each one's ratio to the
        first (``log(A/E)``, ``log(B/E)``).
    slopes : dict
        Exponent -> the share whose slope it carries: ``log(alpha·A)`` is sampled, not ``log alpha``.
    """

    shares: tuple[str, ...]
    slopes: dict[str, str] = field(default_factory=dict)
    key: ClassVar[str] = "shares"

    @property
    def names(self) -> tuple[str, ...]:
        return self.shares + tuple(self.slopes)

    @property
    def ratio_variables(self) -> dict[str, str]:
        """Each share after the first -> the name of its free variable, ``log(share / first)``."""
        return {n: f"log_{n}_over_{self.shares[0]}" for n in self.shares[1:]}

    @property
    def slope_variables(self) -> dict[str, str]:
        """Each exponent -> the name of its free variable, ``log(exponent * share)``."""
        return {e: f"log_{e}_{t}" for e, t in self.slopes.items()}

    def variables(self) -> tuple[str, ...]:
        return (LEVEL, *self.ratio_variables.values(), *self.slope_variables.values())

    def to_sampler(self, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
        value = {n: np.asarray(params[n], dtype=float) for n in self.names}
        out = {LEVEL: np.log(sum(value[n] for n in self.shares))}
        out |= {v: np.log(value[n] / value[self.shares[0]]) for n, v in self.ratio_variables.items()}
        out |= {v: np.log(value[e] * value[self.slopes[e]]) for e, v in self.slope_variables.items()}
        return out

    def log_parameters(self, free: Mapping[str, Any], xp: ModuleType) -> tuple[dict[str, Any], Any]:
        ratios = {n: free[v] for n, v in self.ratio_variables.items()}
        total = xp.log1p(sum(xp.exp(r) for r in ratios.values()))
        logs = {self.shares[0]: free[LEVEL] - total}
        logs |= {n: free[LEVEL] + r - total for n, r in ratios.items()}
        logs |= {e: free[v] - logs[self.slopes[e]] for e, v in self.slope_variables.items()}
        return logs, 0.0  # the level and ratios map to the shares' logs with determinant 1

    def to_table(self) -> dict[str, Any]:
        return {"shares": list(self.shares), "slopes": dict(self.slopes)}

    @classmethod
    def from_table(cls, table: dict, fail: Callable[[str], Exception]) -> Shares:
        """Read ``shares`` and ``slopes``; ``fail(message)`` makes the error."""
        example = '[sampling] shares = ["E", "A", "B"] and slopes = { alpha = "A", beta = "B" }'
        _only(table, {"shares", "slopes"}, fail)
        shares, slopes = table.get("shares"), table.get("slopes", {})
        if not isinstance(shares, list) or len(shares) < 2 or not all(isinstance(s, str) for s in shares):
            raise fail(f"[sampling] shares must list two or more of the law's parameters, e.g. {example}")
        if not isinstance(slopes, dict) or not all(isinstance(t, str) for t in slopes.values()):
            raise fail(f"[sampling] slopes must map an exponent to the share it scales, e.g. {example}")
        for exponent, term in slopes.items():
            if exponent in shares or term not in shares:
                raise fail(f"[sampling] slopes: {exponent} = {term!r} must map an exponent that is not a share "
                           f"to one of the shares {shares}")
        return cls(tuple(shares), dict(slopes))


@dataclass(frozen=True)
class Bracket(Coordinates):
    """A floor plus a powered bracket, ``floor + ((scale_N/N)^(exponent_N/power) + scale_D/D)^power``
    (see the module's docstring).

    Attributes
    ----------
    floor : str
        The additive constant (E).
    bracket : tuple of str
        The bracket's N scale and D scale (Nc, Dc).
    exponents : tuple of str
        N's exponent and the bracket's power (alpha_N, alpha_D).
    """

    floor: str
    bracket: tuple[str, str]
    exponents: tuple[str, str]
    key: ClassVar[str] = "bracket"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.floor, *self.bracket, *self.exponents)

    def variables(self) -> tuple[str, ...]:
        return (LEVEL, f"log_bracket_over_{self.floor}", "log_N_term_over_D_term", "log_slope_N", "log_slope_D")

    def to_sampler(self, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
        floor, n_scale, d_scale, exponent, power = (np.asarray(params[n], dtype=float) for n in self.names)
        a, b = np.log(n_scale) * exponent / power, np.log(d_scale)  # log of the N term and D term at N = D = 1
        log_x = np.logaddexp(a, b)  # log of the bracket
        log_r = power * log_x  # log of the reducible loss
        level, ratio, split, slope_n, slope_d = self.variables()
        return {level: np.log(floor + np.exp(log_r)), ratio: log_r - np.log(floor), split: a - b,
                slope_n: np.log(exponent) + (power - 1) * log_x + a, slope_d: np.log(power) + (power - 1) * log_x + b}

    def log_parameters(self, free: Mapping[str, Any], xp: ModuleType) -> tuple[dict[str, Any], Any]:
        level, ratio, split, slope_n, slope_d = (free[v] for v in self.variables())
        floor_share, d_share = _softplus(ratio, xp), _softplus(split, xp)  # -log(E / L0), -log(D term / bracket)
        log_floor = level - floor_share
        log_r = level + ratio - floor_share
        log_power = slope_d + d_share - log_r  # slope_D = power · R0 · (D term) / bracket
        log_x = log_r * xp.exp(-log_power)  # R0 = bracket^power
        b = log_x - d_share
        a = b + split
        log_exponent = slope_n + log_x - log_r - a  # slope_N = exponent · R0 · (N term) / bracket
        logs = {self.floor: log_floor, self.bracket[0]: a * xp.exp(log_power - log_exponent),
                self.bracket[1]: b, self.exponents[0]: log_exponent, self.exponents[1]: log_power}
        return logs, -log_exponent  # |d(free) / d(log parameters)| = exponent_N (tests check it)

    def to_table(self) -> dict[str, Any]:
        return {"floor": self.floor, "bracket": list(self.bracket), "exponents": list(self.exponents)}

    @classmethod
    def from_table(cls, table: dict, fail: Callable[[str], Exception]) -> Bracket:
        """Read ``floor``, ``bracket`` and ``exponents``; ``fail(message)`` makes the error."""
        example = '[sampling] floor = "E", bracket = ["Nc", "Dc"] and exponents = ["alpha_N", "alpha_D"]'
        _only(table, {"floor", "bracket", "exponents"}, fail)
        floor, bracket, exponents = table.get("floor"), table.get("bracket"), table.get("exponents")
        if not isinstance(floor, str) or not _pair(bracket) or not _pair(exponents):
            raise fail(f"[sampling] needs a floor, the bracket's two scales and two exponents, e.g. {example}")
        return cls(floor, tuple(bracket), tuple(exponents))


#: The ``[sampling]`` forms, by the key that selects each.
FORMS: dict[str, type] = {form.key: form for form in (Shares, Bracket)}


def _pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(s, str) for s in value)


def _only(table: dict, allowed: set[str], fail) -> None:
    extra = set(table) - allowed
    if extra:
        raise fail(f"[sampling]: unknown key(s) {sorted(extra)}; allowed with this form: {', '.join(sorted(allowed))}")


def coordinates_from_table(table: Any, parameters: Mapping[str, Prior], fail) -> Coordinates:
    """Read and check a law file's ``[sampling]`` table; ``fail(message)`` makes the error."""
    if not isinstance(table, dict):
        raise fail('[sampling] must be a table, e.g. [sampling] shares = ["E", "A", "B"]')
    forms = [key for key in FORMS if key in table]
    if len(forms) != 1:
        raise fail(f"[sampling] must name exactly one form of coordinates by its key, one of {sorted(FORMS)}; "
                   f"found {sorted(table) or 'none'}")
    found = FORMS[forms[0]].from_table(table, fail)
    if len(set(found.names)) != len(found.names):
        raise fail(f"[sampling] names a parameter twice: {list(found.names)}")
    unknown = [n for n in found.names if n not in parameters]
    if unknown:
        raise fail(f"[sampling] names {unknown}, which are not parameters of the law")
    if not found.applies(parameters):
        raise fail(f"[sampling] needs scalar parameters with numeric priors on the positive numbers (such as "
                   f"LogNormal) for {list(found.names)}")
    return found
