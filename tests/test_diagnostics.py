"""bayescale's R-hat and bulk ESS give the numbers of arviz-stats, and the gates judge them."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bayescale.diagnostics import ess_bulk, rhat
from bayescale.gates import check_gates


def ar1(chains: int, draws: int, phi: float, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((chains, draws))
    noise = rng.standard_normal((chains, draws))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    x[0] += shift
    return x


@pytest.mark.parametrize("phi, shift", [(0.0, 0.0), (0.5, 0.0), (0.9, 0.0), (0.3, 1.5)])
@pytest.mark.parametrize("draws", [101, 500])
def test_same_numbers_as_arviz_stats(phi, shift, draws):
    arviz_stats = pytest.importorskip("arviz_stats")
    x = ar1(4, draws, phi, seed=draws, shift=shift)
    ds = xr.Dataset({"x": (("chain", "draw"), x)})
    assert rhat(x) == pytest.approx(float(arviz_stats.rhat(ds)["x"]), rel=1e-10)
    assert ess_bulk(x) == pytest.approx(float(arviz_stats.ess(ds, method="bulk")["x"]), rel=1e-10)


def test_ties_are_ranked_like_arviz_stats():
    arviz_stats = pytest.importorskip("arviz_stats")
    x = np.round(ar1(4, 200, 0.4, seed=1), 1)  # many ties
    ds = xr.Dataset({"x": (("chain", "draw"), x)})
    assert rhat(x) == pytest.approx(float(arviz_stats.rhat(ds)["x"]), rel=1e-10)
    assert ess_bulk(x) == pytest.approx(float(arviz_stats.ess(ds, method="bulk")["x"]), rel=1e-10)


def test_gates_flag_each_failure():
    coords = {"chain": np.arange(4), "draw": np.arange(300)}
    good = xr.Dataset({"a": (("chain", "draw"), ar1(4, 300, 0.0, seed=2))}, coords=coords)
    no_div = xr.DataArray(np.zeros((4, 300), bool), dims=("chain", "draw"))
    assert check_gates(good, no_div).passed
    sticky = xr.Dataset({"a": (("chain", "draw"), ar1(4, 300, 0.97, seed=3))}, coords=coords)
    gates = check_gates(sticky, no_div)
    assert not gates.passed and any("ESS" in f for f in gates.failures)
    shifted = xr.Dataset({"a": (("chain", "draw"), ar1(4, 300, 0.0, seed=4, shift=1.0))}, coords=coords)
    assert any("R-hat" in f for f in check_gates(shifted, no_div).failures)
    divergent = no_div.copy()
    divergent[0, 5] = True
    gates = check_gates(good, divergent)
    assert gates.divergences == 1 and "1 divergent transitions" in gates.failures

