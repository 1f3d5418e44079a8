"""Fit: save/load, provenance, corrupt and foreign files, summary, predict (fake posteriors)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import TRUE, fake_fit

from bayescale.errors import FitFileError
from bayescale.results.fitted import SCHEMA_VERSION, Fit

OLD_FILES = Path(__file__).parent / "data"


def test_save_load_round_trip(example_fake_fit, tmp_path):
    path = example_fake_fit.save(tmp_path / "fit.nc")
    loaded = Fit.load(path)
    assert loaded.id == example_fake_fit.id
    assert loaded.runs.data_hash == example_fake_fit.runs.data_hash
    for name, values in example_fake_fit.draws().items():
        np.testing.assert_array_equal(loaded.draws()[name], values)
    assert loaded.law.formula.source == example_fake_fit.law.formula.source
    assert loaded.gates.passed


def test_provenance_attributes(example_fake_fit):
    attrs = example_fake_fit.attrs
    assert attrs["bayescale_schema"] == SCHEMA_VERSION
    assert "E + A / N^alpha" in attrs["law_text"]
    assert attrs["law_sha256"].startswith("sha256:")
    assert attrs["data_hash"] == example_fake_fit.runs.data_hash
    assert json.loads(attrs["priors_json"])["E"]["dist"] == "LogNormal"
    assert "pymc" in json.loads(attrs["versions_json"])
    assert json.loads(attrs["sampler_json"])["chains"] == 4


def test_save_is_atomic(example_fake_fit, tmp_path, monkeypatch):
    path = example_fake_fit.save(tmp_path / "fit.nc")
    before = path.read_bytes()

    def broken(self, target, **kwargs):
        Path(target).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.DataTree, "to_netcdf", broken)
    with pytest.raises(KeyboardInterrupt):
        example_fake_fit.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]  # no temporary file left behind


def test_corrupt_file_gets_clear_error(example_fake_fit, tmp_path):
    path = example_fake_fit.save(tmp_path / "fit.nc")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(FitFileError, match="corrupt|truncated"):
        Fit.load(path)


def test_foreign_files_get_clear_errors(tmp_path):
    text = tmp_path / "notes.nc"
    text.write_text("hello")
    with pytest.raises(FitFileError, match="not a readable netCDF"):
        Fit.load(text)
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("i", np.arange(3.0))}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(FitFileError, match="not a bayescale fit"):
        Fit.load(foreign)
    with pytest.raises(FitFileError, match="no fit file"):
        Fit.load(tmp_path / "missing.nc")


def test_newer_schema_is_refused(example_fake_fit, tmp_path):
    tree = example_fake_fit.tree.copy()
    tree.attrs["bayescale_schema"] = SCHEMA_VERSION + 1
    path = tmp_path / "future.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    with pytest.raises(FitFileError, match="upgrade bayescale"):
        Fit.load(path)


def test_altered_data_is_detected(example_fake_fit, tmp_path):
    tree = example_fake_fit.tree.copy()
    tree.attrs["data_hash"] = "sha256:0"
    path = tmp_path / "altered.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    with pytest.raises(FitFileError, match="altered"):
        Fit.load(path)


@pytest.mark.parametrize("old", sorted(OLD_FILES.glob("fit_schema*.nc")), ids=lambda p: p.name)
def test_old_saved_files_still_load(old, tmp_path):
    fit = Fit.load(shutil.copy(old, tmp_path))
    assert fit.law.name == "chinchilla"
    records = fit.optimum([1e21]).to_records()
    assert 1e8 < records[0]["N_opt"]["median"] < 1e11


def test_old_files_exist():
    assert list(OLD_FILES.glob("fit_schema1*.nc")), "keep one saved fit per schema version in tests/data"


def test_summary_contains_truth_and_gates(example_fake_fit):
    summary = example_fake_fit.summary(0.95)
    table = summary.table
    assert list(table.columns) == ["median", "lower", "upper", "r_hat", "ess_bulk"]
    assert table.loc["alpha", "lower"] < TRUE["alpha"] < table.loc["alpha", "upper"]
    physical = summary.physical
    assert physical.loc["A", "lower"] < TRUE["A"] < physical.loc["A", "upper"]
    data = summary.to_dict()
    assert data["gates"]["passed"] is True
    assert set(data["parameters"]["E"]) == {"median", "lower", "upper", "r_hat", "ess_bulk"}
    assert "PASSED" in str(summary)


def test_failed_gates_are_reported(unconverged_fake_fit):
    gates = unconverged_fake_fit.gates
    assert not gates.passed
    assert gates.divergences == 3
    assert any("R-hat" in f for f in gates.failures)
    assert "FAILED" in str(unconverged_fake_fit.summary())


def test_predict_intervals(example_fake_fit):
    prediction = example_fake_fit.predict(N=[1e8, 1e9], D=2e10)
    records = prediction.to_records()
    assert len(records) == 2
    for record, n in zip(records, [1e8, 1e9]):
        true = TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / 2e10 ** TRUE["beta"]
        law, new = record["loss"], record["predictive"]
        assert law["lower"] < true < law["upper"]
        assert new["lower"] < law["lower"] and new["upper"] > law["upper"]  # noise widens it
        assert record["C"] == pytest.approx(6 * n * 2e10)


def test_predict_is_seeded(example_fake_fit):
    a = example_fake_fit.predict(N=1e9, D=2e10, seed=3).predictive
    b = example_fake_fit.predict(N=1e9, D=2e10, seed=3).predictive
    np.testing.assert_array_equal(a, b)


def test_optimum_of_fake_fit_covers_truth(example_fake_fit):
    from bayescale.laws.law import Scales
    from bayescale.laws.law_file import load_law
    from bayescale.results.optimum import compute_optimum

    truth = compute_optimum(load_law("chinchilla"), {k: np.array([v]) for k, v in TRUE.items()}, Scales(), [1e21])
    record = example_fake_fit.optimum([1e21]).to_records()[0]
    assert record["N_opt"]["lower"] < truth.N_opt[0, 0] < record["N_opt"]["upper"]



def test_column_units_survive_save_and_load(tmp_path):
    import pandas as pd
    from conftest import ROOT

    from bayescale.data.reading import runs_from_frame
    from bayescale.results.fitted import Fit

    df = pd.read_csv(ROOT / "data" / "example_runs.csv").drop(columns=["C"])
    runs = runs_from_frame(df.assign(N=df["N"] / 1e6), units={"N": "million"})
    fit = fake_fit(runs)
    loaded = Fit.load(fit.save(tmp_path / "fit.nc"))
    assert loaded.runs.multipliers == {"N": 1e6}
    assert loaded.runs.data_hash == runs.data_hash


def test_a_fit_keeps_the_sampler_statistics_that_diagnose_it_and_not_nutpies_internals():
    """nutpie reports its adaptation's internals and each divergence's message as strings; a fit
    keeps the standard diagnostics only (divergences, tree depth, energy, step size, …)."""
    from conftest import ROOT

    from bayescale.data.reading import read_runs
    from bayescale.inference.trace import SAMPLE_STATS
    from bayescale.results.fitting import _assemble

    runs = read_runs(ROOT / "data" / "example_runs.csv")
    posterior = xr.Dataset({"E": (("chain", "draw"), np.ones((2, 3)))})
    stats = xr.Dataset({name: (("chain", "draw"), np.zeros((2, 3))) for name in
                        (*SAMPLE_STATS, "divergence_message", "fisher_distance", "transformation_update_id")})
    kept = set(_assemble(runs, posterior, stats)["sample_stats"].data_vars)
    assert kept == set(SAMPLE_STATS)
