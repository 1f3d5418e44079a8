"""How N was counted (with or without the embeddings) is recorded, shown, saved and checked."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from conftest import ROOT, fake_fit

from bayescale.data.reading import read_runs
from bayescale.errors import BayescaleError


def test_runs_record_and_show_the_convention():
    runs = read_runs(ROOT / "data" / "example_runs.csv", n_convention="non-embedding")
    assert runs.n_convention == "non-embedding"
    assert "non-embedding count" in runs.describe()
    assert read_runs(ROOT / "data" / "example_runs.csv").n_convention == "unstated"
    with pytest.raises(BayescaleError, match="unknown N convention 'embedded'.*total"):
        read_runs(ROOT / "data" / "example_runs.csv", n_convention="embedded")


def test_a_saved_fit_keeps_the_convention_and_its_optimum_says_it(tmp_path):
    from bayescale.results.fitted import Fit

    runs = read_runs(ROOT / "data" / "example_runs.csv", n_convention="total")
    path = fake_fit(runs, draws=50).save(tmp_path / "f.nc")
    fit = Fit.load(path)
    assert fit.runs.n_convention == "total"
    record = fit.optimum([1e22]).to_records()[0]
    assert record["units"]["N_opt"] == "parameters (total)"


def test_mixed_conventions_warn_once_and_unstated_agrees_with_any(caplog):
    from bayescale.decisions.comparison import warn_mixed_conventions

    def source(conv, ident):
        return SimpleNamespace(runs=SimpleNamespace(n_convention=conv), id=ident)

    with caplog.at_level(logging.WARNING, logger="bayescale"):
        assert not warn_mixed_conventions([source("total", "a"), source("unstated", "b")])
        assert warn_mixed_conventions([source("total", "c"), source("non-embedding", "d")])
        assert warn_mixed_conventions([source("total", "c"), source("non-embedding", "d")])
    warned = [r for r in caplog.records if "count N differently" in r.getMessage()]
    assert len(warned) == 1 and "non-embedding and total" in warned[0].getMessage()


def test_a_plan_on_non_embedding_counts_says_its_costs_are_lower_bounds():
    import bayescale as bs
    from bayescale.planning.published import PublishedLaw

    kaplan_style = PublishedLaw("chinchilla", {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
                                n_convention="non-embedding")
    plan = bs.plan(kaplan_style, gpus=1024, gpu="h100", mfu=0.4, days=30)
    assert any("lower bounds" in note for note in plan.notes)
    assert plan.units["N_opt"] == "parameters (non-embedding)"
    unstated = bs.plan(PublishedLaw("chinchilla", dict(kaplan_style.params)), gpus=1024, gpu="h100", mfu=0.4, days=30)
    assert not any("lower bounds" in note for note in unstated.notes)
    with pytest.raises(BayescaleError, match="unknown N convention"):
        PublishedLaw("chinchilla", dict(kaplan_style.params), n_convention="with")


def test_summary_says_units_convention_and_selection(tmp_path, capsys):
    import json

    from bayescale.cli import main

    runs = read_runs(ROOT / "data" / "example_runs.csv", n_convention="total")
    path = fake_fit(runs, draws=50).save(tmp_path / "f.nc")
    assert main(["summary", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_convention"] == "total" and out["selection"] == ""
    assert out["units"]["alpha"] == "dimensionless" and out["units"]["E"] == "nats/token"
    assert main(["summary", str(path)]) == 0
    text = capsys.readouterr().out
    assert "N counted total" in text and "dimensionless" in text
