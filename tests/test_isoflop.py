"""isoFLOP analysis (Chinchilla Approach 2).

Tier 0: binning runs into budgets, bracketing checks and the refusals, none of which samples.
Tier 3 (``nuts``): one CLI run on the example table, shared by the tests that read it; it is
judged against the true law and against the classical two-step least-squares Approach 2.
``slow``: Porian et al.'s isoFLOP points.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SHARED, TRUE

from bayescale.data.reading import read_runs, runs_from_frame
from bayescale.decisions.isoflop import IsoflopError, bin_budgets, budget_problems, fit_isoflop

EXAMPLE = ROOT / "data" / "example_runs.csv"
PORIAN = SHARED / "porian_isoflops" / "porian_isoflop_points.csv"


def least_squares_approach_2(N: np.ndarray, loss: np.ndarray, ids: np.ndarray, C: np.ndarray) -> float:
    """Hoffmann et al.'s Approach 2 by least squares: a parabola in log N per budget, then a
    straight line through the vertices in (log C, log N*). Returns the slope a."""
    log_c, log_n = [], []
    for b in np.unique(ids):
        x, y = np.log(N[ids == b]), np.log(loss[ids == b])
        c2, c1, _ = np.polyfit(x, y, 2)
        log_n.append(-c1 / (2 * c2))
        log_c.append(np.log(C[ids == b]).mean())
    return float(np.polyfit(log_c, log_n, 1)[0])


# --- Tier 0 ---------------------------------------------------------------------------------------


def test_bin_budgets_groups_within_tolerance_in_order_of_compute():
    C = np.array([1e19, 1e18, 1.02e18, 0.99e19, 1e20, 1e18])
    np.testing.assert_array_equal(bin_budgets(C, 0.05), [1, 0, 0, 1, 2, 0])
    # at a tolerance below the 2 % jitter, the jittered runs are budgets of their own
    assert bin_budgets(C, 0.001).max() == 4


def test_bin_budgets_refuses_a_chain_wider_than_the_tolerance():
    C = 1e18 * 1.04 ** np.arange(6)  # each within 5 % of the next, 22 % end to end
    with pytest.raises(IsoflopError) as err:
        bin_budgets(C, 0.05)
    assert "--tolerance" in str(err.value) and "chain together" in str(err.value)
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(IsoflopError, match="positive number"):
            bin_budgets(C, bad)


def test_budget_problems_name_what_is_missing():
    N = np.array([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2], dtype=float)
    loss = np.array([3, 2, 3, 1, 2, 3, 3, 2, 1, 2, 1], dtype=float)
    ids = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3])
    problems = budget_problems(N, loss, ids, np.array([1e18, 1e19, 1e20, 1e21]))
    assert set(problems) == {1, 2, 3}
    assert "smallest model" in problems[1] and "add smaller models" in problems[1]
    assert "largest model" in problems[2] and "add larger models" in problems[2]
    assert "2 distinct model size(s)" in problems[3]


def _sweep(drop_small_side_of: float | None = None) -> pd.DataFrame:
    df = pd.read_csv(EXAMPLE)
    if drop_small_side_of is not None:  # leave that budget's minimum unbracketed on the small side
        budget = df["C"] == drop_small_side_of
        best = df.loc[budget, "N"][df.loc[budget, "loss"].idxmin()]
        df = df[~(budget & (df["N"] < best))]
    return df


def test_an_unbracketed_budget_is_refused_with_the_way_out():
    runs = runs_from_frame(_sweep(drop_small_side_of=1e18))
    with pytest.raises(IsoflopError) as err:
        fit_isoflop(runs)
    text = str(err.value)
    assert "1 of 7 budgets" in text and "C = 1e+18" in text and "smallest model" in text
    assert "--exclude-where C=1e+18" in text


def test_too_few_usable_budgets_are_refused_before_sampling():
    df = _sweep()
    runs = runs_from_frame(df[df["C"] <= 3.2e17])
    with pytest.raises(IsoflopError, match="at least 3"):
        fit_isoflop(runs)


def test_unknown_priors_are_refused():
    with pytest.raises(IsoflopError, match="unknown isoFLOP prior"):
        fit_isoflop(runs_from_frame(_sweep()), priors={"slope": None})


def test_cli_refusal_is_a_message_not_a_traceback(tmp_path, capsys):
    from bayescale.cli import main

    path = tmp_path / "runs.csv"
    _sweep(drop_small_side_of=1e18).to_csv(path, index=False)
    assert main(["isoflop", str(path)]) == 2
    err = capsys.readouterr().err
    assert "do not bracket their minimum" in err and "--drop-unusable" in err and "Traceback" not in err


# --- Tier 3 ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_isoflop_json():
    """``bayescale isoflop data/example_runs.csv --compute 1e21 --json``, run once."""
    import contextlib
    import io

    from bayescale.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["isoflop", str(EXAMPLE), "--compute", "1e21", "--json", "--seed", "3"])
    return code, json.loads(out.getvalue())


@pytest.mark.nuts
def test_example_isoflop_passes_gates_and_covers_the_truth(example_isoflop_json):
    """The example runs come from Chinchilla's law with alpha = 0.34, beta = 0.28, whose
    compute-optimal N* grows as C^(beta / (alpha + beta)) (Hoffmann et al. 2022, eq. 4)."""
    code, data = example_isoflop_json
    assert code == 0 and data["gates"]["passed"]
    a = data["power_law"]["a"]
    true_a = TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"])
    assert a["lower"] < true_a < a["upper"]
    b = data["power_law"]["b"]
    assert b["median"] == pytest.approx(1 - a["median"], abs=1e-9)
    assert len(data["budgets"]) == 7 and all(row["runs"] == 9 for row in data["budgets"])
    (at,) = data["at_compute"]
    assert at["compute"] == 1e21 and at["N_opt"]["lower"] < at["N_opt"]["median"] < at["N_opt"]["upper"]
    assert at["D_opt"]["median"] == pytest.approx(1e21 / (6 * at["N_opt"]["median"]), rel=1e-6)


@pytest.mark.nuts
def test_example_isoflop_agrees_with_least_squares(example_isoflop_json):
    _, data = example_isoflop_json
    runs = read_runs(EXAMPLE)
    ids = bin_budgets(runs.C, 0.05)
    a_ls = least_squares_approach_2(runs.N, runs.loss, ids, runs.C)
    assert data["power_law"]["a"]["lower"] < a_ls < data["power_law"]["a"]["upper"]


@pytest.mark.slow
@pytest.mark.nuts
def test_porian_isoflop_points():
    """Porian et al. 2024's points for RefinedWeb with tuned hyper-parameters, short warm-up and a
    constant schedule, counting embedding parameters (config 4 in SOURCE.md): 12 budgets. The
    Bayesian exponent must pass the gates and contain the two-step least-squares estimate."""
    if not PORIAN.exists():
        pytest.skip("../shared/data/porian_isoflops is not available")
    runs = read_runs(PORIAN, c_col="flops_budget", where=["config_id=4"])
    assert runs.n_runs == 121
    from bayescale.inference.sampling import SamplerSettings

    result = fit_isoflop(runs, settings=SamplerSettings(draws=1000, seed=1, progressbar=False))
    assert result.gates.passed, str(result.gates)
    a_ls = least_squares_approach_2(runs.N, runs.loss, bin_budgets(runs.C, 0.05), runs.C)
    lo, hi = np.quantile(result.a, [0.025, 0.975])
    assert lo < a_ls < hi
    assert result.budgets.size == 12


def test_cli_exit_status_follows_the_gates(tmp_path, monkeypatch, capsys):
    """A failed gate is exit 3 with the verdict on stderr, unless --allow-unconverged."""
    import bayescale.decisions.isoflop as isoflop
    from bayescale.cli import main
    from bayescale.inference.gates import Gates

    one = np.ones(4)
    failed = isoflop.IsoflopFit(
        a=0.5 * one, b=0.5 * one, G=one, A=one / 6, tau=0.1 * one, sigma=0.01 * one,
        budgets=np.array([1e18, 1e19, 1e20]), runs_per_budget=np.array([9, 9, 9]),
        N_opt=np.ones((4, 3)), D_opt=np.ones((4, 3)), L_opt=np.ones((4, 3)), tolerance=0.05,
        gates=Gates({"a": 1.2}, {"a": 50.0}, 0, failures=["R-hat of a is 1.200 > 1.01"]))
    monkeypatch.setattr(isoflop, "fit_isoflop", lambda *args, **kwargs: failed)
    assert main(["isoflop", str(EXAMPLE)]) == 3
    assert "did not converge" in capsys.readouterr().err
    assert main(["isoflop", str(EXAMPLE), "--allow-unconverged", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gates"]["passed"] is False


def test_the_cli_passes_drop_unusable(tmp_path, monkeypatch, capsys):
    """--drop-unusable reaches fit_isoflop (the refusal names it); without it, it stays off."""
    import bayescale.decisions.isoflop as isoflop
    from bayescale.cli import main

    seen = []
    monkeypatch.setattr(isoflop, "fit_isoflop", lambda *a, **k: seen.append(k["drop_unusable"]) or _fake_isoflop())
    assert main(["isoflop", str(EXAMPLE), "--drop-unusable", "--json"]) == 0
    assert main(["isoflop", str(EXAMPLE), "--json"]) == 0
    assert seen == [True, False]


def _fake_isoflop(passed: bool = True):
    import bayescale.decisions.isoflop as isoflop
    from bayescale.inference.gates import Gates

    rng = np.random.default_rng(0)
    a = 0.5 + 0.01 * rng.standard_normal(40)
    gates = Gates({"a": 1.001}, {"a": 900.0}, 0) if passed else Gates({"a": 1.2}, {"a": 50.0}, 0, failures=["R-hat"])
    return isoflop.IsoflopFit(
        a=a, b=1 - a, G=np.full(40, 0.1), A=np.full(40, 1 / 0.6), tau=np.full(40, 0.05), sigma=np.full(40, 0.01),
        budgets=np.array([1e18, 1e19, 1e20]), runs_per_budget=np.array([9, 8, 9]),
        N_opt=rng.uniform(1e8, 2e8, (40, 3)), D_opt=rng.uniform(1e9, 2e9, (40, 3)), L_opt=rng.uniform(3, 4, (40, 3)),
        tolerance=0.05, gates=gates, notes=("left out C = 1e17",),
        provenance={"data_source": "runs.csv", "data_hash": "sha256:abc", "id": "0123456789ab"})


def test_an_analysis_saves_and_loads_with_its_provenance(tmp_path, capsys):
    from bayescale.cli import main
    from bayescale.decisions.isoflop import IsoflopFit
    from bayescale.errors import FitFileError

    result = _fake_isoflop()
    loaded = IsoflopFit.load(result.save(tmp_path / "iso.nc"))
    for name in ("a", "G", "N_opt", "L_opt", "budgets", "runs_per_budget"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(result, name))
    assert loaded.provenance == result.provenance and loaded.notes == result.notes and loaded.id == "0123456789ab"
    assert loaded.gates.passed
    assert main(["isoflop", str(tmp_path / "iso.nc"), "-c", "1e21", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "0123456789ab" and data["at_compute"][0]["compute"] == 1e21
    (tmp_path / "junk.nc").write_bytes(b"not netcdf")
    with pytest.raises(FitFileError, match="not a readable netCDF"):
        IsoflopFit.load(tmp_path / "junk.nc")


def test_an_analysis_given_where_a_fit_is_expected_says_what_it_is(tmp_path, capsys):
    """Where one fit of a law is needed, an isoFLOP file is refused with what it is and what reads
    it; one without its runs cannot join an ensemble (tests/test_isoflop_weigh.py stacks one with laws)."""
    from bayescale.cli import main
    from bayescale.errors import FitFileError
    from bayescale.results.fitted import Fit

    path = _fake_isoflop().save(tmp_path / "iso.nc")
    with pytest.raises(FitFileError, match="is an isoFLOP analysis") as err:
        Fit.load(path)
    assert "bayescale isoflop" in str(err.value) and "bayescale optimum FIT.nc ISO.nc" in str(err.value)
    assert main(["summary", str(path)]) == 2
    assert "isoFLOP analysis" in capsys.readouterr().err
    assert main(["optimum", str(path), "--compute", "1e21"]) == 0  # alone, it answers with its own N*
    assert "(the power law)" in capsys.readouterr().out
    assert main(["optimum", str(path), str(path), "--compute", "1e21"]) == 2
    assert "saved without its runs" in capsys.readouterr().err  # the fake has none


def test_a_failed_analysis_does_not_replace_a_saved_one(tmp_path, monkeypatch, capsys):
    import bayescale.decisions.isoflop as isoflop
    from bayescale.cli import main

    path = tmp_path / "iso.nc"
    path.write_bytes(b"a good earlier analysis")
    monkeypatch.setattr(isoflop, "fit_isoflop", lambda *args, **kwargs: _fake_isoflop(passed=False))
    assert main(["isoflop", str(EXAMPLE), "--out", str(path)]) == 3
    assert "NOT saved" in capsys.readouterr().err and path.read_bytes() == b"a good earlier analysis"


def test_repeated_sizes_with_different_losses_are_flagged():
    from bayescale.decisions.isoflop import mixed_budgets

    N = np.array([1e8, 2e8, 4e8, 1e8, 2e8, 4e8])
    ids = np.zeros(6, dtype=int)
    found = mixed_budgets(N, np.array([3.0, 2.9, 3.0, 3.2, 3.1, 3.2]), ids, np.array([1e19]))
    assert len(found) == 1 and "N = 1e+08 appears 2 times" in found[0]
    assert mixed_budgets(N, np.array([3.0, 2.9, 3.0, 3.001, 2.9, 3.0]), ids, np.array([1e19])) == []


def test_the_isoflop_command_samples_as_the_python_default():
    """The command's sampler matches fit_isoflop's default (1000 draws, a diagonal mass matrix),
    not the law fits' 500 draws: with 40-odd parameters R-hat misses 1.01 by chance at 500."""
    from bayescale.cli.parser import _parser
    from bayescale.decisions.isoflop import DEFAULT_SETTINGS

    assert _parser().parse_args(["isoflop", "runs.csv"]).draws == DEFAULT_SETTINGS.draws == 1000
    assert _parser().parse_args(["fit", "runs.csv"]).draws == 500
    assert DEFAULT_SETTINGS.adaptation == "diag"


@pytest.mark.nuts
def test_the_notes_of_reading_stay_with_an_isoflop_analysis(tmp_path):
    """A sweep written as budgets and tokens (N derived as C/(6D)) says so in the analysis and in its
    saved file, as a fit does."""
    from bayescale.decisions.isoflop_file import load_isoflop
    from bayescale.inference.sampling import SamplerSettings

    runs = runs_from_frame(_sweep()[["C", "D", "loss"]])
    assert any("N is derived" in note for note in runs.notes)
    result = fit_isoflop(runs, settings=SamplerSettings(draws=200, tune=200, seed=1, progressbar=False))
    assert any("N is derived" in note for note in result.notes) and "N is derived" in str(result)
    path = result.save(tmp_path / "iso.nc")
    assert any("N is derived" in note for note in load_isoflop(path).notes)
