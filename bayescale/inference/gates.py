"""Convergence gates: R-hat, bulk ESS and divergences, checked on every fit."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

__all__ = ["Gates", "check_gates", "labelled_draws", "RHAT_LIMIT", "ESS_LIMIT"]

#: Largest acceptable rank-normalized split R-hat.
RHAT_LIMIT = 1.01
#: Smallest acceptable bulk effective sample size, for every parameter.
ESS_LIMIT = 400.0


@dataclass(frozen=True)
class Gates:
    """The verdict of the convergence gates.

    Attributes
    ----------
    r_hat, ess_bulk : dict
        Per parameter.
    divergences : int
        Divergent transitions after warm-up, all chains together.
    """

    r_hat: dict[str, float]
    ess_bulk: dict[str, float]
    divergences: int
    rhat_limit: float = RHAT_LIMIT
    ess_limit: float = ESS_LIMIT
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every gate passed."""
        return not self.failures

    def to_dict(self) -> dict:
        """Plain dict (for JSON and provenance)."""
        return {**asdict(self), "passed": self.passed}

    @classmethod
    def from_dict(cls, data: dict) -> Gates:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: v for k, v in data.items() if k != "passed"})

    def __str__(self) -> str:
        worst_rhat = max(self.r_hat.values())
        worst_ess = min(self.ess_bulk.values())
        head = "PASSED" if self.passed else "FAILED"
        lines = [
            f"convergence gates {head}: max R-hat {worst_rhat:.3f} (≤ {self.rhat_limit}), "
            f"min bulk ESS {worst_ess:.0f} (≥ {self.ess_limit:.0f}), divergences {self.divergences} (= 0)"
        ]
        lines += [f"  - {failure}" for failure in self.failures]
        return "\n".join(lines)


def labelled_draws(posterior: xr.Dataset) -> dict[str, np.ndarray]:
    """``(chain, draw)`` draws of every scalar in ``posterior``.

    A parameter with a dim gives one entry per level, labelled ``name[level]``.
    """
    out: dict[str, np.ndarray] = {}
    for name in posterior.data_vars:
        da = posterior[name].transpose("chain", "draw", ...)
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        if not extra:
            out[str(name)] = da.to_numpy()
            continue
        stacked = da.stack(_cell=extra).transpose("chain", "draw", "_cell")
        for i, cell in enumerate(stacked["_cell"].to_numpy()):
            label = ",".join(str(c) for c in (cell if isinstance(cell, tuple) else (cell,)))
            out[f"{name}[{label}]"] = stacked.isel(_cell=i).to_numpy()
    return out


def check_gates(
    posterior: xr.Dataset,
    diverging: xr.DataArray,
    rhat_limit: float = RHAT_LIMIT,
    ess_limit: float = ESS_LIMIT,
) -> Gates:
    """Check R-hat, bulk ESS and divergences.

    Parameters
    ----------
    posterior : xarray.Dataset
        Parameters with dims ``(chain, draw)``, and at most one more (checked level by level).
    diverging : xarray.DataArray
        Boolean divergence flags, dims ``(chain, draw)``.
    """
    from bayescale.inference.diagnostics import ess_bulk as bulk
    from bayescale.inference.diagnostics import rhat

    draws = labelled_draws(posterior)
    r_hat = {k: rhat(v) for k, v in draws.items()}
    ess_bulk = {k: bulk(v) for k, v in draws.items()}
    divergences = int(diverging.sum())
    failures = [f"R-hat of {k} is {v:.3f} > {rhat_limit}" for k, v in r_hat.items() if not v <= rhat_limit]
    failures += [f"bulk ESS of {k} is {v:.0f} < {ess_limit:.0f}" for k, v in ess_bulk.items() if not v >= ess_limit]
    if divergences:
        failures.append(f"{divergences} divergent transitions")
    return Gates(r_hat, ess_bulk, divergences, rhat_limit, ess_limit, failures)
