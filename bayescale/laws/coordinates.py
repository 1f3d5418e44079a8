"""The coordinates NUTS samples a law in: the loss at the reference point in shares, and slopes.

Runs that span a short range of N (or of D) pin the loss at their centre, ``E + A + B`` in the
normalized units, and its slope there, ``alpha·A``, but barely where the rest goes: E, A and
alpha then trade off along a ridge, ``E = L0 − B − s/alpha``, that is curved in the log
coordinates a sampler would use (log E, log A, log alpha) and defeats its mass-matrix adaptation
(misfitting_li: bulk ESS of 22–155 from 2,000 draws). A law file may name its additive positive
terms and the exponent that each one's slope carries::

    [sampling]
    shares = ["E", "A", "B"]
    slopes = { alpha = "A", beta = "B" }

and the sampler then draws ``log(E + A + B)``, ``log(A/E)``, ``log(B/E)``, ``log(alpha·A)`` and
``log(beta·B)``: along the ridge only ``log(A/E)`` moves, and both of its ends (E → 0, A → 0)
are smooth tails, not walls. The priors stay on the law's parameters: in log space this change
of variables has unit Jacobian, so the posterior is the same (a test holds the two log
densities equal), only easier to sample. Parameters whose priors are not scalar, numeric and
positive (a user's override, per-family parameters) are sampled as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bayescale.laws.priors import Prior

__all__ = ["Coordinates", "coordinates_from_table", "LEVEL"]

#: The sampler's free variable ``log`` of the sum of the shares (the loss at the reference point).
LEVEL = "log_level"


@dataclass(frozen=True)
class Coordinates:
    """A law's sampling coordinates (see the module's docstring).

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

    @property
    def names(self) -> tuple[str, ...]:
        """The law parameters these coordinates replace: the shares, then the exponents."""
        return self.shares + tuple(self.slopes)

    def applies(self, priors: Mapping[str, Prior]) -> bool:
        """Whether every parameter named has a scalar, numeric prior on the positive numbers."""
        return all(name in priors and priors[name].is_numeric and not priors[name].dims
                   and priors[name].support == "positive" for name in self.names)

    @property
    def ratio_variables(self) -> dict[str, str]:
        """Each share after the first -> the name of its free variable, ``log(share / first)``."""
        return {n: f"log_{n}_over_{self.shares[0]}" for n in self.shares[1:]}

    @property
    def slope_variables(self) -> dict[str, str]:
        """Each exponent -> the name of its free variable, ``log(exponent * share)``."""
        return {e: f"log_{e}_{t}" for e, t in self.slopes.items()}

    def variables(self) -> tuple[str, ...]:
        """Names of the sampler's free variables, in order: level, ratios, slopes."""
        return (LEVEL, *self.ratio_variables.values(), *self.slope_variables.values())

    def to_sampler(self, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The sampler's coordinates of a point of the law's parameters (the inverse map)."""
        value = {n: np.asarray(params[n], dtype=float) for n in self.names}
        out = {LEVEL: np.log(sum(value[n] for n in self.shares))}
        out |= {v: np.log(value[n] / value[self.shares[0]]) for n, v in self.ratio_variables.items()}
        out |= {v: np.log(value[e] * value[self.slopes[e]]) for e, v in self.slope_variables.items()}
        return out

    def to_table(self) -> dict[str, Any]:
        """As a law file's ``[sampling]`` table."""
        return {"shares": list(self.shares), "slopes": dict(self.slopes)}


def coordinates_from_table(table: Any, parameters: Mapping[str, Prior], fail) -> Coordinates:
    """Read and check a law file's ``[sampling]`` table; ``fail(message)`` makes the error."""
    example = '[sampling] shares = ["E", "A", "B"] and slopes = { alpha = "A", beta = "B" }'
    if not isinstance(table, dict):
        raise fail(f"[sampling] must be a table, e.g. {example}")
    extra = set(table) - {"shares", "slopes"}
    if extra:
        raise fail(f"[sampling]: unknown key(s) {sorted(extra)}; allowed: shares, slopes")
    shares, slopes = table.get("shares"), table.get("slopes", {})
    if not isinstance(shares, list) or len(shares) < 2 or not all(isinstance(s, str) for s in shares):
        raise fail(f"[sampling] shares must list two or more of the law's parameters, e.g. {example}")
    if len(set(shares)) != len(shares):
        raise fail(f"[sampling] shares names a parameter twice: {shares}")
    if not isinstance(slopes, dict) or not all(isinstance(t, str) for t in slopes.values()):
        raise fail(f"[sampling] slopes must map an exponent to the share it scales, e.g. {example}")
    found = Coordinates(tuple(shares), dict(slopes))
    unknown = [n for n in found.names if n not in parameters]
    if unknown:
        raise fail(f"[sampling] names {unknown}, which are not parameters of the law")
    for exponent, term in slopes.items():
        if exponent in shares or term not in shares:
            raise fail(f"[sampling] slopes: {exponent} = {term!r} must map an exponent that is not a share to one "
                       f"of the shares {shares}")
    if not found.applies(parameters):
        raise fail(f"[sampling] needs scalar parameters with numeric priors on the positive numbers (such as "
                   f"LogNormal) for {list(found.names)}")
    return found
