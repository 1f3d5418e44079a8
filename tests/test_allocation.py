"""The allocation fit: on isoFLOP sweeps, N*, D*, L* come from the law refitted near each optimum."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, fake_fit

from bayescale.data.reading import read_runs
from bayescale.data.selection import near_optimum
from bayescale.inference.sampling import SamplerSettings
from bayescale.results.fitted import Fit
from bayescale.results.fitting import _with_allocation


def _with_child(full: Fit, child: Fit) -> Fit:
    tree = full.tree.copy()
    tree["allocation"] = child.tree
    return Fit(tree)


@pytest.fixture(scope="module")
def pair():
    runs = read_runs(ROOT / "data" / "example_runs.csv")
    full = fake_fit(runs)
    child = fake_fit(near_optimum(runs, 0.1), seed=3, spread=0.05)
    return full, child, _with_child(full, child)


def test_the_optimum_answers_from_the_allocation_fit_and_says_so(pair):
    full, child, both = pair
    found = both.optimum([1e22, 1e23])
    np.testing.assert_allclose(found.N_opt, child.optimum([1e22, 1e23]).N_opt)
    assert f"the {child.runs.n_runs} of {full.runs.n_runs} runs" in found.basis
    assert found.basis in found.format() and found.to_records()[0]["basis"] == found.basis
    mine = both.optimum([1e22, 1e23], all_runs=True)
    np.testing.assert_allclose(mine.N_opt, full.optimum([1e22, 1e23]).N_opt)
    assert mine.basis == "" and "basis" not in mine.to_records()[0]
    # predictions stay with the fit of every run
    np.testing.assert_allclose(both.predict(N=1e9, D=2e10).mean, full.predict(N=1e9, D=2e10).mean)


def test_the_allocation_fit_is_saved_and_loaded_with_its_fit(pair, tmp_path):
    _, child, both = pair
    loaded = Fit.load(both.save(tmp_path / "fit.nc"))
    assert loaded.allocation is not None and loaded.allocation.id == child.id
    assert loaded.allocation.runs.n_runs == child.runs.n_runs
    np.testing.assert_allclose(loaded.optimum([1e23]).N_opt, both.optimum([1e23]).N_opt)
    assert Fit.load(fake_fit().save(tmp_path / "plain.nc")).allocation is None


def test_no_refit_when_few_runs_lie_far_from_their_optimum():
    near = near_optimum(read_runs(ROOT / "data" / "example_runs.csv"), 0.1)  # nothing left to leave out
    plain = fake_fit(near)
    assert _with_allocation(plain, SamplerSettings(), 0) is plain


def test_a_plan_and_the_cli_name_the_allocation_fit(pair):
    import bayescale as bs
    from bayescale.cli.fit_commands import _allocation_record, _allocation_text

    full, child, both = pair
    assert any(f"refitted to the {child.runs.n_runs} of {full.runs.n_runs}" in n for n in bs.plan(both, compute=1e23).notes)
    assert not any("refitted" in n for n in bs.plan(full, compute=1e23).notes)
    record = _allocation_record(both)
    assert record["runs"] == child.runs.n_runs and record["fit_id"] == child.id and record["gates"]["passed"]
    assert _allocation_record(full) is None
    assert "--no-allocation-refit" in _allocation_text(both)


def test_the_option_turns_the_refit_off():
    from bayescale.cli.parser import _parser

    parser = _parser()
    assert parser.parse_args(["fit", "runs.csv"]).allocation_refit is True
    assert parser.parse_args(["fit", "runs.csv", "--no-allocation-refit"]).allocation_refit is False


@pytest.mark.nuts
def test_a_fit_of_sweeps_carries_an_allocation_fit_of_the_runs_near_each_optimum(example_nuts_fit):
    # data/example_runs.csv: 8 of its 63 runs lie more than 10% above their budget's lowest loss
    runs = example_nuts_fit.runs
    allocation = example_nuts_fit.allocation
    assert allocation is not None and allocation.gates.passed
    assert allocation.runs.n_runs == near_optimum(runs, 0.1).n_runs < runs.n_runs
    assert "within 10%" in allocation.runs.selection


def test_inverse_answers_from_the_allocation_fit_and_says_so(pair):
    from bayescale.decisions.inverse import compute_for_loss

    full, child, both = pair
    answer = compute_for_loss(both, [2.5])
    assert "refitted to the runs near each budget's optimum" in str(answer)
    np.testing.assert_allclose(answer.values["C"], compute_for_loss(child, [2.5]).values["C"])
    assert "refitted" not in str(compute_for_loss(full, [2.5]))


def test_laws_with_unique_tokens_are_not_refitted():
    # runs of one budget with more repetitions of their data lie higher: the data-constrained law needs them
    from dataclasses import replace

    from bayescale.laws.law_file import load_law

    runs = read_runs(ROOT / "data" / "example_runs.csv")
    plain = fake_fit(runs)
    constrained = load_law("data_constrained")
    assert "U" in constrained.variables

    class WithU:  # all _with_allocation reads before deciding
        law = replace(plain.law, variables=constrained.variables)
        gates = plain.gates

    assert _with_allocation(WithU, SamplerSettings(), 0) is WithU


def test_the_notebook_table_puts_the_basis_in_its_caption_not_in_a_column(pair):
    _, _, both = pair
    html = both.optimum([1e23])._repr_html_()
    caption = html.split("</caption>")[0]
    assert "refitted to the" in caption and "<th>basis" not in html


def test_a_refit_that_cannot_be_made_keeps_the_fit_of_every_run(monkeypatch, caplog):
    import bayescale.results.fitting as fitting
    from bayescale.errors import RunsError

    plain = fake_fit(read_runs(ROOT / "data" / "example_runs.csv"))  # 8 of 63 runs far from their optimum

    def refuse(*args, **kwargs):
        raise RunsError("the kept runs cannot carry this error model")

    monkeypatch.setattr(fitting, "fit", refuse)
    assert _with_allocation(plain, SamplerSettings(), 0) is plain
    assert "could not be made" in caplog.text
