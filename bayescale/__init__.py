"""bayescale: Bayesian scaling laws and compute-optimal allocation with credible intervals.

>>> import bayescale as bs
>>> runs = bs.read_runs("data/example_runs.csv")
>>> fit = bs.fit(runs, "chinchilla", settings=bs.SamplerSettings(seed=1))
>>> print(fit.optimum([1e21, 5.76e23]))

The public API is the names below; each lives in a subpackage by concern (``laws``, ``data``,
``inference``, ``results``, ``decisions``, ``report``). No public name here is also the name of
a module or package directly under ``bayescale``, so importing a submodule never rebinds one.
Heavy modules (PyMC, PyTensor, nutpie) load only when a fit is made.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.2.0"

_LAZY = {
    # errors: every error bayescale raises on bad input or a failed fit derives from this one
    "BayescaleError": "bayescale.errors",
    # data
    "read_runs": "bayescale.data.reading",
    "runs_from_frame": "bayescale.data.reading",
    "Runs": "bayescale.data.runs",
    "convert_runs": "bayescale.data.units",
    "near_optimum": "bayescale.data.selection",
    # laws
    "load_law": "bayescale.laws.law_file",
    "available_laws": "bayescale.laws.law_file",
    "law_from_text": "bayescale.laws.law_file",
    "Law": "bayescale.laws.law",
    "Prior": "bayescale.laws.priors",
    "training_flops": "bayescale.laws.flops",
    # inference
    "SamplerSettings": "bayescale.inference.sampling",
    "error_models": "bayescale.laws.noise",
    "get_error_model": "bayescale.laws.noise",
    # results
    "fit": "bayescale.results.fitting",
    "Fit": "bayescale.results.fitted",
    "Optimum": "bayescale.results.optimum",
    "compute_optimum": "bayescale.results.optimum",
    # decisions
    "compare_fits": "bayescale.decisions.comparison",
    "backtest": "bayescale.decisions.backtesting",
    "calibrate": "bayescale.decisions.calibration",
    "ensemble": "bayescale.decisions.ensemble",
    "Ensemble": "bayescale.decisions.ensemble",
    "Calibration": "bayescale.decisions.calibration",
    "compute_for_loss": "bayescale.decisions.inverse",
    "tokens_for_loss": "bayescale.decisions.inverse",
    "fit_isoflop": "bayescale.decisions.isoflop",
    "IsoflopFit": "bayescale.decisions.isoflop",
    "backtest_isoflop": "bayescale.decisions.isoflop_backtest",
    "IsoflopBacktest": "bayescale.decisions.isoflop_backtest",
    "simulate_isoflop": "bayescale.decisions.simulation",
    "suggest": "bayescale.decisions.suggest",
    "compare_families": "bayescale.decisions.families",
    "family_optima": "bayescale.decisions.families",
    "Suggestion": "bayescale.decisions.suggest",
    # planning
    "plan": "bayescale.planning.plan",
    "Plan": "bayescale.planning.plan",
    "get_accelerator": "bayescale.planning.cluster",
    "PublishedLaw": "bayescale.planning.published",
    # report
    "write_report": "bayescale.report.writer",
}
__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # cache: later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'bayescale' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
