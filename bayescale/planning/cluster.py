"""Accelerators and clusters as data, and the arithmetic between FLOPs, GPUs, days and dollars.

Peak throughput is the *dense* figure per data type from the catalogue shipped with the package
(``accelerators.toml``, each number with its source); model FLOPs utilisation (MFU) counts the
6·N·D FLOPs of training, hardware utilisation (HFU) the FLOPs actually executed (8·N·D with full
activation recomputation, as Narayanan et al. 2021 count them).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bayescale.errors import BayescaleError
from bayescale.laws.flops import FLOPS_PER_PARAM_TOKEN

__all__ = ["Accelerator", "Cluster", "PlanError", "accelerators", "get_accelerator", "implied_utilisation"]

SECONDS_PER_DAY = 86_400.0
DTYPES = ("bf16", "fp16", "fp8")


class PlanError(BayescaleError, ValueError):
    """A planning question that cannot be answered as asked (bad cluster, unknown accelerator, …)."""


@dataclass(frozen=True)
class Accelerator:
    """One accelerator: dense peak TFLOP/s per data type and where each number comes from."""

    id: str
    name: str
    peak_tflops: dict[str, float]
    source: str
    sparse_tflops: dict[str, float] = field(default_factory=dict)

    def peak_flops(self, dtype: str = "bf16") -> float:
        """Dense peak FLOP/s for ``dtype`` (fp16 reads the bf16 figure: the tensor cores match)."""
        key = "bf16" if dtype == "fp16" else dtype
        if key not in self.peak_tflops:
            raise PlanError(f"{self.id} has no {dtype} figure in the catalogue (it has {', '.join(self.peak_tflops)}); "
                            "choose another --dtype or give --peak-flops")
        return self.peak_tflops[key] * 1e12


def accelerators(path: str | os.PathLike | None = None) -> dict[str, Accelerator]:
    """The catalogue: the one shipped with bayescale, or a user's TOML file of the same form."""
    if path is None:
        from importlib.resources import files

        text = files("bayescale.planning").joinpath("accelerators.toml").read_text()
        where = "the shipped catalogue"
    else:
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise PlanError(f"cannot read the accelerator file {path}: {exc}") from None
        where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{where} is not valid TOML: {exc}") from None
    out = {}
    for key, entry in data.items():
        if key == "schema":
            continue
        if not isinstance(entry, dict) or not any(isinstance(entry.get(d), int | float) for d in DTYPES):
            raise PlanError(f"{where}: [{key}] needs a dense peak in TFLOP/s, e.g. bf16 = 989.4, and a source")
        peaks = {d: float(entry[d]) for d in DTYPES if isinstance(entry.get(d), int | float)}
        if any(not np.isfinite(v) or v <= 0 for v in peaks.values()):
            raise PlanError(f"{where}: [{key}] peaks must be positive numbers of TFLOP/s")
        sparse = {d: float(entry[f"{d}_sparse"]) for d in DTYPES if f"{d}_sparse" in entry}
        out[key.lower()] = Accelerator(key.lower(), str(entry.get("name", key)), peaks, str(entry.get("source", "")), sparse)
    return out


def get_accelerator(name: str, path: str | os.PathLike | None = None) -> Accelerator:
    """Look an accelerator up by id, case-insensitively (``H100`` = ``h100``, the SXM part)."""
    catalogue = accelerators(path)
    try:
        return catalogue[str(name).lower()]
    except KeyError:
        raise PlanError(f"unknown accelerator {name!r}; known: {', '.join(sorted(catalogue))} "
                        "(or give its dense peak with --peak-flops, or add it with --accelerators FILE)") from None


@dataclass(frozen=True)
class Cluster:
    """GPUs × dense peak × utilisation: the FLOP/s a training run actually gets.

    Attributes
    ----------
    gpus : int
    peak_flops : float
        Dense peak FLOP/s per GPU.
    mfu : float
        Model FLOPs utilisation, in (0, 1].
    label : str
        E.g. ``"1024 × a100 (bf16)"``.
    """

    gpus: int
    peak_flops: float
    mfu: float
    label: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.gpus, int | np.integer) and self.gpus > 0):
            raise PlanError(f"--gpus (gpus= in Python) must be a positive whole number, got {self.gpus!r}")
        if not (np.isfinite(self.peak_flops) and self.peak_flops > 0):
            raise PlanError(f"the peak must be a positive number of FLOP/s, got {self.peak_flops!r}")
        if not (0 < self.mfu <= 1):
            raise PlanError(f"--mfu (mfu= in Python) must lie in (0, 1], e.g. 0.4; got {self.mfu!r}")

    @property
    def flops_per_second(self) -> float:
        """Sustained model FLOP/s of the whole cluster."""
        return self.gpus * self.peak_flops * self.mfu

    def compute(self, days: float) -> float:
        """Training FLOPs done in ``days``."""
        return self.flops_per_second * days * SECONDS_PER_DAY

    def days(self, compute: np.ndarray | float) -> np.ndarray:
        """Days to do ``compute`` FLOPs."""
        return np.asarray(compute, dtype=float) / self.flops_per_second / SECONDS_PER_DAY

    def gpu_hours(self, compute: np.ndarray | float) -> np.ndarray:
        """GPU-hours to do ``compute`` FLOPs."""
        return self.days(compute) * 24.0 * self.gpus


def implied_utilisation(n_params: float, tokens: float, gpus: int, peak_flops: float, days: float,
                        flops_per_token: float = FLOPS_PER_PARAM_TOKEN) -> float:
    """Utilisation implied by a run: (flops_per_token · N · D) / (GPUs · peak · seconds).

    With ``flops_per_token = 6`` it is the MFU; with 8 (full activation recomputation) the HFU.
    """
    for name, value in (("--n", n_params), ("--d", tokens), ("--days", days), ("--gpus", gpus)):
        if not (np.isfinite(value) and value > 0):
            raise PlanError(f"{name} must be a positive number, got {value!r}")
    return flops_per_token * n_params * tokens / (gpus * peak_flops * days * SECONDS_PER_DAY)
