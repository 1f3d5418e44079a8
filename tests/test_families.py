"""Families: the pooled law a family column makes, per-family answers, which family wins, bad input.

Answers are checked on synthetic posteriors (no sampler): a family whose irreducible loss E is
lower must win at every budget, with a compute-equivalent gain above 1.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import ROOT, TRUE

from bayescale.cli import main
from bayescale.data.reading import runs_from_frame
from bayescale.decisions.families import (
    NEW_FAMILY,
    FamilyAnswerError,
    compare_families,
    family_optima,
    new_family_draws,
)
from bayescale.inference.model import scales_of
from bayescale.laws.families import FamilyError, choose_pooling, family_law, for_families
from bayescale.laws.law_file import law_from_text, load_law
from bayescale.results.fitting import assemble_fit

FAMILIES = ("mix_a", "mix_b", "mix_c")


def _runs(families=FAMILIES):
    frame = pd.read_csv(ROOT / "data" / "example_runs.csv")
    frame["mix"] = np.array(families)[np.arange(len(frame)) % len(families)]
    return runs_from_frame(frame, family_col="mix")


def _fake_family_fit(separate=(), e_offsets=(0.0, 0.1, 0.2), seed=0, closed_form=True):
    """A converged-looking family fit: per-family E raised by ``e_offsets`` (mix_a lowest); without
    ``closed_form``, the law has no ``[optimum]`` table (its optimum is found numerically)."""
    import re

    runs = _runs()
    base = load_law("chinchilla")
    if not closed_form:  # the same file without its [optimum] table
        base = law_from_text(re.sub(r"\[optimum\][^\n]*\nN = [^\n]*\n", "", base.source_text))
    law = for_families(base, runs, separate=list(separate))
    scales = scales_of(runs)
    center = {"E": TRUE["E"], "A": TRUE["A"] / scales.N_ref ** TRUE["alpha"], "alpha": TRUE["alpha"],
              "B": TRUE["B"] / scales.D_ref ** TRUE["beta"], "beta": TRUE["beta"]}
    rng = np.random.default_rng(seed)
    shape, nf = (4, 300), len(FAMILIES)
    post = {"sigma": (("chain", "draw"), 0.01 * np.exp(0.05 * rng.standard_normal(shape)))}
    for name, value in center.items():
        per = value + (np.array(e_offsets) if name == "E" else np.zeros(nf))
        post[name] = (("chain", "draw", "family"), per * np.exp(0.01 * rng.standard_normal((*shape, nf))))
        if law.priors[name].centered is False:
            post[f"{name}_mu"] = (("chain", "draw"), np.log(value) + 0.01 * rng.standard_normal(shape))
            post[f"{name}_sigma"] = (("chain", "draw"), 0.05 * np.exp(0.1 * rng.standard_normal(shape)))
    coords = {"chain": np.arange(4), "draw": np.arange(300), "family": list(FAMILIES)}
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros(shape, bool))}, coords=coords)
    return assemble_fit(law, runs, scales, xr.Dataset(post, coords=coords), stats, {"fake": True})


def test_default_pooling_depends_on_the_number_of_families():
    law = load_law("chinchilla")
    three = choose_pooling(law, 3)
    assert three.of("pooled") == law.parameters and not three.notes
    two = choose_pooling(law, 2, share=["alpha", "beta"])
    assert two.of("shared") == ("alpha", "beta") and two.of("separate") == ("E", "A", "B")
    assert "pooling needs at least 3" in two.notes[0]


def test_the_family_law_indexes_pooled_and_separate_parameters_and_reparses():
    law = load_law("chinchilla")
    fam = family_law(law, choose_pooling(law, 3, share=["beta"], separate=["B"]))
    assert fam.formula.source == "E[family] + A[family] / N^alpha[family] + B[family] / D^beta"
    assert fam.priors["E"].dims == ("family",) and fam.priors["E"].centered is False
    assert fam.priors["B"].is_numeric and fam.priors["B"].dims == ("family",)
    assert {"E_mu", "E_sigma", "alpha_mu", "alpha_sigma"} <= set(fam.parameters) and "beta_mu" not in fam.parameters
    assert fam.priors["alpha_sigma"].args["sigma"] == pytest.approx(0.25 * law.priors["alpha"].args["sigma"])
    again = law_from_text(fam.source_text)  # what a saved fit reads back
    assert again.priors == fam.priors and again.formula.source == fam.formula.source


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pool": ["gamma"]}, "unknown parameter"),
    ({"pool": ["E"], "share": ["E"]}, "more than one"),
])
def test_bad_pooling_options_are_refused(kwargs, message):
    with pytest.raises(FamilyError, match=message):
        for_families(load_law("chinchilla"), _runs(), **kwargs)


def test_too_few_families_or_runs_are_refused():
    with pytest.raises(FamilyError, match="at least 3 families"):
        for_families(load_law("chinchilla"), _runs(("a", "b")), pool=["E"])
    with pytest.raises(FamilyError, match="at least 2"):
        for_families(load_law("chinchilla"), _runs(("only",)))
    frame = pd.read_csv(ROOT / "data" / "example_runs.csv")
    frame["mix"] = ["tiny"] * 3 + ["big"] * (len(frame) - 3)
    with pytest.raises(FamilyError, match="tiny \\(3 runs\\).*share some"):
        for_families(load_law("chinchilla"), runs_from_frame(frame, family_col="mix"))
    with pytest.raises(FamilyError, match="--family-col"):
        for_families(load_law("chinchilla"), runs_from_frame(frame), pool=["E"])


def test_family_answers_and_a_new_family_from_the_population():
    fit = _fake_family_fit()
    found = family_optima(fit, [1e21, 1e23])
    assert list(found) == [*FAMILIES, NEW_FAMILY]
    l_a, l_c = (np.median(found[f].L_opt[:, 1]) for f in ("mix_a", "mix_c"))
    assert l_c - l_a == pytest.approx(0.2, abs=0.01)  # E differs by 0.2 at any budget
    new = found[NEW_FAMILY]
    width = lambda o: np.subtract(*np.quantile(o.L_opt[:, 1], [0.975, 0.025]))  # noqa: E731
    assert width(new) > width(found["mix_a"])  # a new family is less known than a fitted one
    separate = _fake_family_fit(separate=["B"])
    assert NEW_FAMILY not in family_optima(separate, [1e21])
    with pytest.raises(FamilyAnswerError, match="separate per family"):
        new_family_draws(separate)


def test_compare_families_probability_gap_and_compute_gain():
    fit = _fake_family_fit()
    result = compare_families(fit, [1e21, 1e23], ["mix_a", "mix_c"])
    assert len(result.records) == 2
    first = result.records[0]
    assert set(first) == {"compute", "family_a", "family_b", "p_better", "loss_gap", "compute_gain"}
    assert first["p_better"] == 1.0 and first["loss_gap"]["median"] == pytest.approx(-0.2, abs=0.01)
    assert first["compute_gain"]["median"] > 1.0  # mix_c needs more compute to match mix_a
    back = compare_families(fit, [1e21], ["mix_c", "mix_a"]).records[0]
    assert back["p_better"] == 0.0 and back["compute_gain"]["upper"] < 1.0
    assert len(compare_families(fit, [1e21]).records) == 6  # every ordered pair
    with pytest.raises(FamilyAnswerError, match="no family 'mix_z'"):
        compare_families(fit, [1e21], ["mix_a", "mix_z"])


def test_cli_compare_families_and_optimum_per_family(tmp_path, capsys):
    path = tmp_path / "fam.nc"
    _fake_family_fit().save(path)
    assert main(["compare-families", str(path), "-c", "1e22", "--families", "mix_b", "mix_a", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["family_a"] == "mix_b" and record["p_better"] == 0.0
    assert main(["optimum", str(path), "-c", "1e22", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["family"] for r in rows] == [*FAMILIES, NEW_FAMILY]
    assert main(["compare-families", str(path), "-c", "1e22", "--families", "mix_a", "nope"]) == 2
    assert "its families are mix_a, mix_b, mix_c" in capsys.readouterr().err


def test_suggest_runs_for_one_family():
    from bayescale.decisions.suggest import suggest

    fit = _fake_family_fit()
    chosen = suggest(fit, 1e24, 1e21, k=2, min_gain=0.0, family="mix_b")
    assert 1 <= len(chosen.runs) <= 2 and chosen.width_now > 0
    with pytest.raises(Exception, match="say which family"):
        suggest(fit, 1e24, 1e21)


def test_compare_breaks_elpd_down_by_family():
    from bayescale.decisions.comparison import compare_fits

    pooled, separate = _fake_family_fit(), _fake_family_fit(separate=["E", "A", "alpha", "B", "beta"], seed=1)
    result = compare_fits([pooled, separate])
    assert list(result.per_family.index) == list(FAMILIES)
    for label in result.table.index:  # the families' elpd add up to the fit's
        assert result.per_family[label].sum() == pytest.approx(result.table.loc[label, "elpd_loo"], rel=1e-9)
    assert "elpd_loo of each family's runs" in str(result) and set(result.to_dict()["per_family"]) == set(FAMILIES)


def test_cli_fit_refuses_bad_pooling_before_sampling(tmp_path, capsys):
    frame = pd.read_csv(ROOT / "data" / "example_runs.csv")
    frame["mix"] = np.array(FAMILIES)[np.arange(len(frame)) % 3]
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "fam.nc"
    assert main(["fit", str(path), "--family-col", "mix", "--pool", "gamma", "--out", str(out)]) == 2
    assert "unknown parameter(s) ['gamma']" in capsys.readouterr().err and not out.exists()
    assert main(["fit", str(path), "--pool", "alpha", "--out", str(out)]) == 2
    assert "--family-col" in capsys.readouterr().err


def test_a_family_fit_gets_a_report_with_a_families_page(tmp_path):
    from bayescale.report.writer import write_report

    path = write_report([_fake_family_fit()], tmp_path / "families.pdf", budgets=[1e21, 1e23])
    pages = len(__import__("re").findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))
    assert pages == 1 + 6 + 1 + 2  # page 1 (which family wins), a fit's main pages, the families page, the appendix


def test_a_backtest_scores_each_family_apart():
    from bayescale.decisions.backtesting import Backtest, score_holdout, split_by_compute

    fit = _fake_family_fit()  # mix_a's E is the truth of the runs, mix_c's is 0.2 too high
    _, held, cutoff = split_by_compute(_runs(), 0.25)
    score = score_holdout(fit, held)
    per = score["per_family"]
    assert set(per) == set(FAMILIES) and sum(f["runs"] for f in per.values()) == held.n_runs
    assert per["mix_a"]["elpd_per_run"] > per["mix_c"]["elpd_per_run"]
    assert per["mix_a"]["coverage"] > per["mix_c"]["coverage"]
    table = pd.DataFrame({"chinchilla": {k: v for k, v in score.items() if k != "per_family"}}).T
    result = Backtest(table, cutoff, 0, held.n_runs, 0.95, per_family={"chinchilla": per})
    assert "per family, chinchilla: mix_a" in str(result) and result.to_dict()["per_family"]["chinchilla"] == per


def test_a_family_fit_gets_a_front_page_naming_the_winner():
    from bayescale.decisions.families import compare_families
    from bayescale.report.front import family_front_results, front_page

    fit = _fake_family_fit()  # mix_a's E is lowest: it wins everywhere
    budgets = [1e21, 1e23]
    front = family_front_results(fit, budgets, compare_families(fit, budgets))
    assert [a["family"] for a in front.answers] == ["mix_a", "mix_a"]
    assert all(a["runner_up"] == "mix_b" and a["p_better"] > 0.9 for a in front.answers)
    assert {row[1] for row in front.rows} >= {"family mix_a", "family mix_b", "family mix_c"}
    text = " ".join(t.get_text() for sub in front_page(front).subfigs for t in sub.texts)
    assert "family mix_a reaches the lowest loss" in text


def test_a_law_with_pooled_parameters_starts_where_the_retries_would_end():
    """Pooled parameters make a funnel: the first attempt samples at target acceptance 0.99 with
    1,000 draws a chain (more if asked); a law without hierarchical priors keeps the settings."""
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.laws.families import choose_pooling, family_law
    from bayescale.laws.law_file import load_law
    from bayescale.results.fitting import _first_attempt

    law = load_law("chinchilla")
    pooled = family_law(law, choose_pooling(law, 3))
    asked = SamplerSettings(seed=5, draws=500, target_accept=0.9)
    first = _first_attempt(pooled, asked)
    assert (first.target_accept, first.draws, first.seed) == (0.99, 1000, 5)
    assert _first_attempt(pooled, SamplerSettings(draws=3000)).draws == 3000
    assert _first_attempt(law, asked) == asked
    separate = family_law(law, choose_pooling(law, 2))  # two families: separate, no hierarchy
    assert _first_attempt(separate, asked) == asked


def test_the_samplers_gradient_is_right_with_per_family_parameters():
    """The function NUTS calls (compiled with our mode) returns the log density and gradient that
    PyTensor's plain FAST_COMPILE mode returns, for a law whose parameters are indexed per family.
    A compile mode that dropped PyTensor's in-place rewrites once gave a gradient off by 50-1800
    here while Chinchilla's unshaped law was bit-identical; the ColPret pooled fit stopped mixing."""
    import pytensor
    from pytensor.graph import clone_replace

    from bayescale.inference.model import build_model
    from bayescale.inference.sampling import compile_model

    runs = _runs()
    law = for_families(load_law("chinchilla"), runs, pool=["alpha", "beta"], separate=["E", "A", "B"])
    model = build_model(law, runs)
    compiled = compile_model(model, law.priors)
    values = [model.rvs_to_values[rv] for rv in model.free_RVs]
    flat = pytensor.tensor.dvector("flat")
    shapes = [tuple(model.initial_point()[v.name].shape) for v in values]
    offsets = np.concatenate([[0], np.cumsum([int(np.prod(s)) for s in shapes])]).astype(int)
    logp = model.logp()
    grad = pytensor.tensor.concatenate([g.ravel() for g in pytensor.grad(logp, values)])
    outputs = clone_replace([logp, grad], {v: flat[offsets[i]:offsets[i + 1]].reshape(shapes[i])
                                           for i, v in enumerate(values)})
    reference = pytensor.function([flat], outputs, mode="FAST_COMPILE")
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = compiled.center + rng.normal(0.0, 0.3, compiled.center.size)
        ours, theirs = compiled.function(x), reference(x)
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-8, atol=1e-8)


def test_a_compute_gain_prints_the_figures_its_interval_supports():
    from bayescale.decisions.families import format_summary

    assert format_summary({"median": 0.9951, "lower": 0.4968, "upper": 2.437}, "ratio") == "1.0 [0.50, 2.4]"
    assert format_summary({"median": 1.234, "lower": 1.101, "upper": 1.398}, "ratio") == "1.23 [1.10, 1.40]"
    assert format_summary({"median": None, "lower": 3.2, "upper": None}, "ratio") == ">1e4 [3.2, >1e4]"


def _fake_compute_family_fit(l0_offsets=(0.0, 0.0, 0.0)):
    """A family fit of compute_power on the example runs' compute and loss alone; family i's L0
    raised by ``l0_offsets[i]``."""
    runs = _runs()
    mix = [runs.levels["family"][code] for code in runs.frame["family"]]
    runs = runs_from_frame(runs.frame[["C", "loss"]].assign(mix=mix), family_col="mix")
    law = for_families(load_law("compute_power"), runs)
    rng = np.random.default_rng(0)
    shape, nf = (2, 300), len(FAMILIES)
    center = {"L0": 2.3, "f": 0.75, "gamma": 0.1, "sigma": 0.03}
    post = {}
    for name, value in center.items():
        if "family" in law.priors[name].dims:
            per = value + (np.array(l0_offsets) if name == "L0" else np.zeros(nf))
            post[name] = (("chain", "draw", "family"), per * np.exp(0.02 * rng.standard_normal((*shape, nf))))
            post[f"{name}_mu"] = (("chain", "draw"), np.log(value) + 0.01 * rng.standard_normal(shape))
            post[f"{name}_sigma"] = (("chain", "draw"), 0.05 * np.exp(0.1 * rng.standard_normal(shape)))
        else:
            post[name] = (("chain", "draw"), value * np.exp(0.02 * rng.standard_normal(shape)))
    coords = {"chain": np.arange(2), "draw": np.arange(300), "family": list(FAMILIES)}
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros(shape, bool))}, coords=coords)
    return assemble_fit(law, runs, scales_of(runs), xr.Dataset(post, coords=coords), stats, {"fake": True})


def test_a_family_fit_of_a_law_in_compute_alone_gets_a_report(tmp_path):
    """Families of a law with no N/D trade-off (here on a table of compute and loss alone): the
    report draws each shaped parameter's levels against its prior and has no families page, which
    compares optima the law does not have (both once failed with a traceback)."""
    from bayescale.report.contents import family_results, fit_results
    from bayescale.report.writer import write_report

    fit = _fake_compute_family_fit()
    assert [name for name in fit.law.parameters if "family" in fit.law.priors[name].dims]  # shaped ones
    assert "compare-families FIT.nc --compute C" in fit_results(fit, np.array([1e22])).optimum_error  # no dead link
    assert family_results(fit, np.array([1e22])) is None
    path = write_report([fit], tmp_path / "compute_families.pdf")
    assert path.exists() and path.stat().st_size > 10_000


def test_families_of_a_law_in_compute_alone_are_compared_at_the_budget():
    """Without an optimum, which family wins is read off the law's loss at C (it once raised
    'no compute-optimal allocation')."""
    fit = _fake_compute_family_fit(l0_offsets=(0.0, 0.1, 0.2))
    result = compare_families(fit, [1e22], ["mix_a", "mix_c"])
    record = result.to_records()[0]
    assert record["p_better"] > 0.99 and record["loss_gap"]["upper"] < 0
    assert record["compute_gain"]["lower"] > 1.0  # mix_c needs more compute to match mix_a


def test_families_of_a_law_without_a_closed_form_optimum_are_compared_at_their_optima():
    """A law in N and D whose file has no [optimum] table (data_constrained, most users' own) still
    has optima: families are compared there, and the report keeps its families page."""
    from bayescale.report.contents import family_results

    closed, numeric = _fake_family_fit(), _fake_family_fit(closed_form=False)
    assert not numeric.law.optimum and numeric.law.trades_size_for_tokens
    a = compare_families(closed, [1e21], ["mix_a", "mix_c"]).to_records()[0]
    b = compare_families(numeric, [1e21], ["mix_a", "mix_c"]).to_records()[0]
    assert b["p_better"] == pytest.approx(a["p_better"], abs=0.02)
    assert b["loss_gap"]["median"] == pytest.approx(a["loss_gap"]["median"], rel=0.02)
    assert family_results(numeric, np.array([1e21])) is not None


def test_an_inference_aware_plan_of_a_family_fit_is_refused_with_the_way_out():
    """The lifetime optimum per family is not built: a clear refusal (a broadcasting error once)."""
    from bayescale.planning.cluster import PlanError
    from bayescale.planning.plan import plan

    with pytest.raises(PlanError, match="not yet answered for laws with per-family parameters.*--family"):
        plan(_fake_family_fit(), target_loss=2.5, inference_tokens=1e12)
