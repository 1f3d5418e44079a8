"""Every built-in law on a real table that suits it (slow lane; skipped without ../shared/data).

The Chinchilla runs digitized by Epoch (240 runs, outliers left out) for the laws in N and D; the
compression leaderboard (bits per character of open models) for the compute-only laws. The
data-constrained law and the compute log-linear law are fitted in test_laws_variants.py, the
isoFLOP analysis in test_isoflop.py, Chinchilla itself in test_nuts.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CHINCHILLA, SHARED

from bayescale.errors import OptimumError

COMPRESSION = SHARED / "compression_bpc_hkust" / "compression_bpc_with_N_D.csv"
CHINCHILLA_LAWS = ("chinchilla", "chinchilla_tied", "kaplan", "kaplan_floor")

pytestmark = [pytest.mark.slow, pytest.mark.nuts]


def _fit(runs, law: str):
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import fit

    return fit(runs, law, settings=SamplerSettings(seed=1, progressbar=False))


@pytest.fixture(scope="module")
def chinchilla_fits():
    if not CHINCHILLA.exists():
        pytest.skip("../shared/data/chinchilla_epoch is not available")
    from bayescale.data.reading import read_runs

    runs = read_runs(CHINCHILLA, exclude_where=["epoch_excluded_outlier=1"])
    return {law: _fit(runs, law) for law in CHINCHILLA_LAWS}


@pytest.mark.parametrize("law", CHINCHILLA_LAWS)
def test_laws_in_n_and_d_fit_the_chinchilla_runs(chinchilla_fits, law):
    result = chinchilla_fits[law]
    assert result.gates.passed, str(result.gates)
    record = result.optimum([5.76e23]).to_records()[0]
    for key in ("N_opt", "D_opt", "L_opt"):
        r = record[key]
        assert 0 < r["lower"] < r["median"] < r["upper"] < np.inf
    # the allocation spends the budget: 6 N* D* = C for every draw
    opt = result.optimum([5.76e23])
    np.testing.assert_allclose(6 * opt.N_opt * opt.D_opt, 5.76e23, rtol=1e-9)


def test_loo_on_the_chinchilla_runs_needs_an_irreducible_loss(chinchilla_fits):
    """Kaplan's joint law has no floor: the loss tends to 0 with N and D, which the runs (down to
    2.08 nats) do not support. Hoffmann et al. 2022 (section 3.3, D.2) argue so; here PSIS-LOO
    measures it: Kaplan's law is worse than Chinchilla's by more than two standard errors."""
    from bayescale.decisions.comparison import compare_fits

    comparison = compare_fits(list(chinchilla_fits.values()))
    table = comparison.table
    assert set(table.index) == set(CHINCHILLA_LAWS)
    assert table["weight"].sum() == pytest.approx(1.0, abs=1e-6)
    diff = table.loc["kaplan", "elpd_loo"] - table.loc["chinchilla", "elpd_loo"]
    assert diff < -2 * table.loc["kaplan", "dse"]


@pytest.fixture(scope="module")
def compression_runs():
    if not COMPRESSION.exists():
        pytest.skip("../shared/data/compression_bpc_hkust is not available")
    from bayescale.data.reading import read_runs

    return read_runs(COMPRESSION, n_col="N_active_billions", d_col="D_trillions", loss_col="bpc_average",
                     units={"N": "billion", "D": "trillion"}, loss_unit="bits/char",
                     exclude_where=["D_confidence=low", "D_confidence=none"])


def test_compute_power_law_fits_the_compression_table(compression_runs):
    assert compression_runs.n_runs == 20
    assert 1e22 < compression_runs.C.min() < compression_runs.C.max() < 1e26  # real FLOPs, 6ND
    result = _fit(compression_runs, "compute_power")
    assert result.gates.passed, str(result.gates)
    assert result.runs.loss_unit == "bits/char"
    with pytest.raises(OptimumError, match="trade-off"):
        result.optimum([1e24])


def test_compute_power_law_fits_gadres_compute_optimal_runs():
    """Gadre et al. 2024's C4 runs trained at 20 tokens per parameter (chinchilla_multiplier = 1):
    six models from 1.3e16 to 5.7e21 FLOPs along the compute-efficient frontier that L(C)
    describes. The irreducible loss must lie below every observed loss."""
    path = SHARED / "overtrain_gadre" / "overtrain_runs.csv"
    if not path.exists():
        pytest.skip("../shared/data/overtrain_gadre is not available")
    from bayescale.data.reading import read_runs

    others = [f"chinchilla_multiplier={m}" for m in (0.25, 0.5, 2.0, 4.0, 8.0, 16.0, 32.0)]
    runs = read_runs(path, c_col="C_flops_6ND", loss_col="loss_c4_val",
                     exclude_where=["dataset=rpj", "dataset=rw_original", *others])
    assert runs.n_runs == 6
    result = _fit(runs, "compute_power")
    assert result.gates.passed, str(result.gates)
    floor = result.summary().physical.loc["E"]
    assert 0 < floor["lower"] < floor["upper"] < runs.loss.min()
