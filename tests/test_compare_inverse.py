"""compare, backtest scoring, inverse questions and units, on fake posteriors (no sampler)."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
from conftest import TRUE, fake_fit

from bayescale.cli import main
from bayescale.data.units import UnitError, convert_loss, convert_runs
from bayescale.decisions.backtesting import score_holdout, split_by_compute
from bayescale.decisions.comparison import CompareError, compare_fits
from bayescale.decisions.inverse import compute_for_loss, tokens_for_loss
from bayescale.errors import BayescaleError
from bayescale.laws.law import Scales
from bayescale.laws.law_file import load_law
from bayescale.results.optimum import compute_optimum

TRUTH = {k: np.array([v]) for k, v in TRUE.items()}


def true_loss(n, d):
    return TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]


def test_compare_prefers_the_sharper_true_posterior():
    good, vague = fake_fit(seed=1, spread=0.002), fake_fit(seed=2, spread=0.05)
    comparison = compare_fits([good, vague], labels=["good", "vague"])
    table = comparison.table
    assert list(table.index) == ["good", "vague"]
    assert table.loc["good", "elpd_loo"] > table.loc["vague", "elpd_loo"]
    assert table.loc["good", "weight"] > table.loc["vague", "weight"]
    assert table.loc["vague", "elpd_diff"] < 0 and table.loc["good", "elpd_diff"] == 0
    data = comparison.to_dict()
    assert set(data["fits"]["good"]) >= {"elpd_loo", "se", "elpd_diff", "dse", "weight", "bad_k"}
    assert "PSIS-LOO" in str(comparison)
    # the numbers are arviz-stats' own, unrounded
    from arviz_stats import loo

    for label, fit in (("good", good), ("vague", vague)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pareto-k warnings; compare_fits reports them in words
            assert table.loc[label, "elpd_loo"] == pytest.approx(loo(fit.loo_tree()).elpd, rel=1e-12)
    assert table["weight"].sum() == pytest.approx(1.0, abs=1e-9)


def test_compare_refuses_different_data_and_units():
    from conftest import ROOT

    from bayescale.data.reading import read_runs

    runs = read_runs(ROOT / "data" / "example_runs.csv")
    other = replace(runs, frame=runs.frame.iloc[:-1].reset_index(drop=True))
    with pytest.raises(CompareError, match="different runs") as exc:
        compare_fits([fake_fit(runs), fake_fit(other)])
    assert f"{runs.n_runs} runs" in str(exc.value) and f"{runs.n_runs - 1} runs" in str(exc.value)
    assert "data hash" in str(exc.value)
    same = fake_fit(runs)
    with pytest.raises(CompareError, match="the same fit is given twice"):
        compare_fits([same, same])
    bits = convert_runs(runs, "bits/token")
    with pytest.raises(CompareError, match="different runs|different loss units"):
        compare_fits([fake_fit(runs), fake_fit(bits)])
    with pytest.raises(CompareError, match="at least two"):
        compare_fits([fake_fit(runs)])


def test_compare_cli_json(tmp_path, capsys):
    a = fake_fit(seed=1, spread=0.002).save(tmp_path / "a.nc")
    b = fake_fit(seed=2, spread=0.05).save(tmp_path / "b.nc")
    assert main(["compare", str(a), str(b), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["fits"]) == 2  # same law twice: labels carry the fit id
    assert all("[" in label for label in data["fits"])


def test_compute_for_loss_inverts_the_optimum():
    fit = fake_fit(spread=0.002)
    result = compute_for_loss(fit, [2.3, 2.0])
    for record in result.to_dict():
        compute = record["C"]["median"]
        true_l = compute_optimum(load_law("chinchilla"), TRUTH, Scales(), [compute]).L_opt[0, 0]
        assert true_l == pytest.approx(record["loss"], rel=2e-3)
        assert record["C"]["lower"] < compute < record["C"]["upper"]
        assert record["D_opt"]["median"] == pytest.approx(compute / (6 * record["N_opt"]["median"]), rel=0.05)


def test_unreachable_loss_is_said_not_guessed(tmp_path, capsys):
    from bayescale.decisions.inverse import UnreachableLossError

    fit = fake_fit()
    with pytest.raises(UnreachableLossError, match="out of reach for 100% .*floor"):
        compute_for_loss(fit, [1.5])  # below the floor E = 1.69 in every draw
    # near the floor some draws reach it and some do not: answer, and say which share cannot
    result = compute_for_loss(fit, [1.71])
    record = result.to_dict()[0]
    assert 0.1 < record["unreachable"] < 0.5
    assert record["C"]["upper"] is None and record["C"]["median"] > 1e20
    assert "never reach" in str(result)
    path = fit.save(tmp_path / "f.nc")
    assert main(["inverse", str(path), "--target-loss", "1.5"]) == 2
    assert "out of reach" in capsys.readouterr().err


def test_tokens_for_loss_recovers_the_tokens():
    fit = fake_fit(spread=0.002)
    n, d = 1e9, 4e10
    result = tokens_for_loss(fit, true_loss(n, d), n)
    record = result.to_dict()[0]
    # (1e9, 4e10) is 0.38 decades beyond the runs' compute: a few draws of the law's discrepancy
    # bend the curve away from the loss before it is reached, so the upper end may be "unreachable"
    assert record["D"]["lower"] < d and (record["D"]["upper"] is None or d < record["D"]["upper"])
    assert record.get("unreachable", 0.0) < 0.05
    assert record["D"]["median"] == pytest.approx(d, rel=0.15)
    assert record["tokens_per_param"]["median"] == pytest.approx(record["D"]["median"] / n)
    assert record["D_per_N"] == record["tokens_per_param"]  # the old key, kept for scripts
    assert record["units"]["tokens_per_param"] == "tokens/param"


def test_inverse_cli(tmp_path, capsys):
    path = fake_fit().save(tmp_path / "f.nc")
    assert main(["inverse", str(path), "--target-loss", "2.2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["C"]["median"] > 1e20
    assert main(["inverse", str(path), "--observed-loss", "2.4", "--n", "1e9"]) == 0
    assert "training tokens" in capsys.readouterr().out
    assert main(["inverse", str(path), "--observed-loss", "2.4"]) == 2
    assert "--n" in capsys.readouterr().err
    # a loss below what a model of that size reaches with any number of tokens: refused, as for
    # --target-loss, instead of printing an "unreachable" median with exit 0
    assert main(["inverse", str(path), "--observed-loss", "1.0", "--n", "1e9"]) == 2
    assert "out of reach" in capsys.readouterr().err
    assert main(["inverse", str(path)]) == 2


def test_split_by_compute_keeps_budgets_whole():
    from conftest import ROOT

    from bayescale.data.reading import read_runs

    runs = read_runs(ROOT / "data" / "example_runs.csv")  # 7 budgets x 9 runs
    train, held, cutoff = split_by_compute(runs, 0.2)
    assert train.n_runs + held.n_runs == runs.n_runs
    assert train.C.max() < cutoff <= held.C.min()
    assert held.n_runs % 9 == 0  # whole budgets
    with pytest.raises(BayescaleError, match="fraction"):
        split_by_compute(runs, 1.5)


def test_score_holdout_rewards_the_truth():
    from conftest import ROOT

    from bayescale.data.reading import read_runs

    runs = read_runs(ROOT / "data" / "example_runs.csv")
    train, held, _ = split_by_compute(runs, 0.3)
    good = score_holdout(fake_fit(spread=0.002), held)
    assert good["coverage"] >= 0.8
    assert good["median_rel_error"] < 0.02
    bad = fake_fit(spread=0.002)
    shifted = replace(held, frame=held.frame.assign(loss=held.frame["loss"] * 1.1))
    worse = score_holdout(bad, shifted)
    assert worse["elpd"] < good["elpd"] and worse["coverage"] < good["coverage"]


def test_units():
    assert convert_loss(1.0, "nats/token", "bits/token") == pytest.approx(1 / np.log(2))
    assert convert_loss(2.0, "bits/token", "bits/token") == 2.0
    with pytest.raises(UnitError, match="tokenizer"):
        convert_loss(1.0, "nats/token", "bits/char")
    with pytest.raises(UnitError, match="unknown"):
        convert_loss(1.0, "nats", "bits/token")


def test_compute_for_a_run_is_wider_than_for_the_law(example_fake_fit):
    """C_run (one run trained at the optimum reaching the loss) carries noise and discrepancy: wider than C."""
    from bayescale.decisions.inverse import compute_for_loss

    result = compute_for_loss(example_fake_fit, [2.0])
    law = np.log(np.nanquantile(result.values["C"][:, 0], [0.1, 0.9]))
    run = np.log(np.nanquantile(result.values["C_run"][:, 0], [0.1, 0.9]))
    assert run[1] - run[0] > law[1] - law[0]
    assert np.exp(law[0]) < np.nanmedian(result.values["C_run"][:, 0]) < np.exp(law[1])
