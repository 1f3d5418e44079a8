"""How far new points lie beyond the fitted runs, and the prior of how fast a law misses there.

Distances are in decades, zero inside the fitted runs' range:

- ``compute``: log10 C beyond the largest (or below the smallest) fitted compute;
- ``ratio``: log10 of tokens per parameter D/N outside the fitted runs' range of D/N;
- ``size``: log10 N beyond the fitted model sizes;
- ``tokens``: log10 D beyond the fitted token counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["distances"]


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
    far = {key: np.zeros(shape) for key in ("compute", "ratio", "size", "tokens")}
    if C is not None:
        log_c = np.log10(runs.C)
        far["compute"] = np.broadcast_to(_outside(np.log10(np.asarray(C, dtype=float)), log_c.min(), log_c.max()), shape)
    if N is not None and D is not None:
        log_r = np.log10(runs.D / runs.N)
        ratio = np.log10(np.asarray(D, dtype=float) / np.asarray(N, dtype=float))
        far["ratio"] = np.broadcast_to(_outside(ratio, log_r.min(), log_r.max()), shape)
    for key, given, fitted in (("size", N, runs.N), ("tokens", D, runs.D)):
        if given is not None:
            log_f = np.log10(fitted)
            far[key] = np.broadcast_to(_outside(np.log10(np.asarray(given, dtype=float)), log_f.min(), log_f.max()), shape)
    return far
