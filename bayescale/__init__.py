"""bayescale: Bayesian scaling laws and compute-optimal allocation with credible intervals.

>>> import bayescale as bs
>>> runs = bs.read_runs("data/example_runs.csv")
>>> fit = bs.fit(runs, "chinchilla", settings=bs.SamplerSettings(seed=1))
>>> print(fit.optimum([1e21, 5.76e23]))

Heavy modules (PyMC, PyTensor, nutpie) load only when a fit is made.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read_runs": "bayescale.runs",
    "runs_from_frame": "bayescale.runs",
    "Runs": "bayescale.runs",
    "load_law": "bayescale.law",
    "available_laws": "bayescale.law",
    "Law": "bayescale.law",
    "Prior": "bayescale.priors",
    "fit": "bayescale.fit",
    "SamplerSettings": "bayescale.sampling",
    "Fit": "bayescale.result",
    "Optimum": "bayescale.optimum",
    "compute_optimum": "bayescale.optimum",
    "simulate_isoflop": "bayescale.simulate",
}
__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bayescale' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
