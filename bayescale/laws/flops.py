"""Training compute: the one place the ``C = 6 N D`` rule is written.

Kaplan et al. (2020, section 2.1) count about 6 FLOPs per parameter per training token (2 for
the forward pass, 4 for the backward pass); Hoffmann et al. (2022) use the same rule. Every
conversion between N, D and C in bayescale goes through these functions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FLOPS_PER_PARAM_TOKEN", "training_flops", "tokens_for_compute", "params_for_compute"]

#: Training FLOPs per parameter per token.
FLOPS_PER_PARAM_TOKEN = 6.0


def training_flops(N, D):
    """Training compute ``6 N D`` in FLOPs for ``N`` parameters and ``D`` tokens."""
    return FLOPS_PER_PARAM_TOKEN * np.asarray(N, dtype=float) * np.asarray(D, dtype=float)


def tokens_for_compute(C, N):
    """Tokens ``C / (6 N)`` that a budget of ``C`` FLOPs buys for a model of ``N`` parameters."""
    return np.asarray(C, dtype=float) / (FLOPS_PER_PARAM_TOKEN * np.asarray(N, dtype=float))


def params_for_compute(C, D):
    """Parameters ``C / (6 D)`` that a budget of ``C`` FLOPs allows when training on ``D`` tokens."""
    return np.asarray(C, dtype=float) / (FLOPS_PER_PARAM_TOKEN * np.asarray(D, dtype=float))
