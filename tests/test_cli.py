"""The command line: JSON shapes, exit codes and messages for bad input (no sampling)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import CHINCHILLA, ROOT

from bayescale.cli import EXIT_INPUT, main

GOOD = "N,D,loss\n" + "\n".join(
    f"{n:g},{d:g},{2 + 400 / n**0.34 + 400 / d**0.28:.5f}" for n in (1e7, 3e7, 1e8) for d in (1e9, 3e9, 1e10)
)


@pytest.fixture(scope="module")
def saved_fit(tmp_path_factory):
    from conftest import fake_fit

    return str(fake_fit().save(tmp_path_factory.mktemp("fits") / "fit.nc"))


@pytest.fixture(scope="module")
def failed_fit(tmp_path_factory):
    from conftest import fake_fit

    return str(fake_fit(stuck_chain=True).save(tmp_path_factory.mktemp("fits") / "bad.nc"))


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_optimum_json(saved_fit, capsys):
    code, out, _ = run(capsys, "optimum", saved_fit, "--compute", "1e21", "5.76e23", "--prob", "0.9", "--json")
    assert code == 0
    records = json.loads(out)
    assert [r["compute"] for r in records] == [1e21, 5.76e23]
    for r in records:
        assert r["prob"] == 0.9
        for key in ("N_opt", "D_opt", "L_opt", "tokens_per_param"):
            assert r[key]["lower"] <= r[key]["median"] <= r[key]["upper"]
        assert r["D_opt"]["median"] == pytest.approx(r["compute"] / (6 * r["N_opt"]["median"]), rel=0.05)


def test_optimum_text_and_methods(saved_fit, capsys):
    code, closed, _ = run(capsys, "optimum", saved_fit, "--compute", "1e22")
    assert code == 0 and "closed form" in closed and "N_opt" in closed
    code, numeric, _ = run(capsys, "optimum", saved_fit, "--compute", "1e22", "--method", "numeric")
    assert code == 0 and "numeric" in numeric
    assert closed.splitlines()[2] == numeric.splitlines()[2]  # same N_opt line


def test_optimum_with_the_miss(saved_fit, capsys):
    code, out, _ = run(capsys, "optimum", saved_fit, "--compute", "1e24", "--json")
    assert code == 0 and "N_opt_predictive" in json.loads(out)[0]  # the default error model has a miss
    code, out, _ = run(capsys, "optimum", saved_fit, "--compute", "1e24", "--law-only", "--json")
    assert code == 0 and "N_opt_predictive" not in json.loads(out)[0] and "N_opt" in json.loads(out)[0]
    code, _, err = run(capsys, "optimum", saved_fit, saved_fit, "--compute", "1e24", "--with-miss")
    assert code == 2 and "give one fit file" in err
    code, _, err = run(capsys, "optimum", saved_fit, "--compute", "1e24", "--with-miss", "--law-only")
    assert code == 2 and "not allowed with" in err


def test_summary_json(saved_fit, capsys):
    code, out, _ = run(capsys, "summary", saved_fit, "--json")
    data = json.loads(out)
    assert code == 0
    assert set(data["parameters"]) == {"E", "A", "alpha", "B", "beta", "sigma"}
    for row in data["parameters"].values():
        assert set(row) == {"median", "lower", "upper", "r_hat", "ess_bulk"}
    assert data["gates"]["passed"] is True
    # the fake fit has the default error model, whose predictions use a prior learned elsewhere: say which
    assert data["noise"] == "discrepancy" and data["predictive_prior"]["form"] == "coherent"
    _, text, _ = run(capsys, "summary", saved_fit)
    assert "extrapolation prior of" in text


def test_predict_json(saved_fit, capsys):
    code, out, _ = run(capsys, "predict", saved_fit, "--n", "7e10", "--d", "1.4e12", "--json")
    record = json.loads(out)[0]
    assert code == 0
    assert record["N"] == 7e10 and record["D"] == 1.4e12
    assert record["predictive"]["lower"] < record["loss"]["median"] < record["predictive"]["upper"]


def test_failed_fit_warns_loudly(failed_fit, capsys):
    code, out, err = run(capsys, "optimum", failed_fit, "--compute", "1e21")
    assert code == 0 and "N_opt" in out
    assert "FAILED its convergence gates" in err


@pytest.mark.parametrize(
    "content, expected",
    [
        ("N,D,loss\n1e7,1e9,abc\n" + GOOD.split("\n", 1)[1], "line 2"),
        ("N,D,loss\n1e7,1e9,nan\n" + GOOD.split("\n", 1)[1], "line 2"),
        ("N,D,loss\n1e7,-1e9,3.0\n" + GOOD.split("\n", 1)[1], "line 2"),
        (GOOD + "\n" + GOOD.splitlines()[1], "duplicate"),
        ("N,loss\n1e7,3.0\n2e7,2.9\n", "--d-col"),
        ("D,loss\n1e9,3.0\n2e9,2.9\n", "--n-col"),
        ("N,D,loss\n1e7,1e9,3.0\n1e7,2e9,2.9\n1e7,3e9,2.8\n1e7,4e9,2.7\n1e7,5e9,2.6\n1e7,6e9,2.5\n1e7,7e9,2.4\n1e7,8e9,2.3\n", "single"),
        ("N,D,loss\n1e7,1e9,3.0\n2e7,2e9,2.9\n", "fewer runs than parameters"),
    ],
    ids=["non-numeric", "nan", "negative", "duplicate", "no-D-or-C", "no-N", "single-size", "too-few"],
)
def test_bad_runs_give_clear_errors(tmp_path, capsys, content, expected):
    path = tmp_path / "runs.csv"
    path.write_text(content)
    code, _, err = run(capsys, "fit", path, "--out", tmp_path / "f.nc")
    assert code == EXIT_INPUT
    assert expected.lower() in err.lower()
    assert "Traceback" not in err
    assert not (tmp_path / "f.nc").exists()


def test_bad_options_give_clear_errors(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    path.write_text(GOOD)
    law = tmp_path / "law.toml"
    law.write_text('name = "x"\nformula = "E + A / N^alpha + import(os)"\n[parameters.E]\nprior = { dist = "Normal", mu = 0, sigma = 1 }\n')
    priors = tmp_path / "p.toml"
    priors.write_text("[zeta]\ndist = 'Normal'\nmu = 0\nsigma = 1\n")
    cases = [
        (["fit", tmp_path / "missing.csv"], "missing.csv"),
        (["fit", path, "--law", "nosuchlaw"], "chinchilla"),
        (["fit", path, "--law", law], "law.toml"),
        (["fit", path, "--priors", priors], "zeta"),
        (["fit", path, "--exclude-where", "N~3"], "COLUMN=VALUE"),
        (["fit", path, "--n-col", "params"], "--n-col"),
        (["fit", path, "--draws", "5"], "too small"),
        (["summary", path], "not a readable netCDF"),
    ]
    for argv, expected in cases:
        code, _, err = run(capsys, *argv)
        assert code == EXIT_INPUT, argv
        assert expected in err, (argv, err)
        assert "Traceback" not in err


@pytest.mark.parametrize("value", ["-1", "-1e21", "0", "ten", "inf"])
def test_bad_budgets_are_refused_with_a_reason(saved_fit, capsys, value):
    """-1e21 was once swallowed by argparse as an unknown option ('expected one argument')."""
    assert main(["optimum", saved_fit, "--compute", value]) == 2
    err = capsys.readouterr().err
    assert "positive" in err or "not a number" in err
    assert "expected" not in err


@pytest.mark.parametrize("command", ["fit", "optimum", "predict", "summary", "laws"])
def test_help_for_every_command(command, capsys):
    assert main([command, "--help"]) == 0
    assert "usage: bayescale " + command in capsys.readouterr().out


def test_laws_lists_chinchilla(capsys):
    code, out, _ = run(capsys, "laws")
    assert code == 0 and out.startswith("chinchilla")
    code, out, _ = run(capsys, "laws", "chinchilla")
    assert "alpha" in out and "Hoffmann" in out


def test_one_shot_commands_run_without_the_cyclic_collector_and_give_it_back(monkeypatch, capsys):
    """A one-shot command runs with the collector off (imports and a compile: 0.35 s of a fit);
    one that refits in a loop runs with it on; either way the caller's setting comes back."""
    import gc

    import bayescale.cli.app as app

    seen = {}
    monkeypatch.setattr(app, "_cmd_laws", lambda args: seen.setdefault("laws", gc.isenabled()) and 0)
    monkeypatch.setattr(app, "_cmd_backtest", lambda args: seen.setdefault("backtest", gc.isenabled()) and 0)
    was = gc.isenabled()
    try:
        gc.enable()
        main(["laws"])
        assert seen["laws"] is False and gc.isenabled()
        gc.disable()  # as the console script leaves it
        main(["backtest", "runs.csv"])
        assert seen["backtest"] is True and not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_console_script_is_installed():
    exe = shutil.which("bayescale", path=str(ROOT / ".venv" / "bin")) or shutil.which("bayescale")
    if exe is None:
        pytest.skip("bayescale console script not on PATH (package not installed)")
    result = subprocess.run([exe, "laws"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "chinchilla" in result.stdout


def test_bottom_layers_import_without_pymc():
    code = (
        "import sys; sys.modules['pymc'] = None; sys.modules['pytensor'] = None\n"
        "import bayescale.data.runs, bayescale.laws.law, bayescale.laws.expr, bayescale.laws.priors, bayescale.results.optimum, bayescale.results.fitted\n"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.stdout.strip() == "ok", result.stderr


def test_exclude_where_on_real_table(tmp_path, capsys):
    if not CHINCHILLA.exists():
        pytest.skip("shared Chinchilla data not present")
    from bayescale.data.reading import read_runs

    runs = read_runs(CHINCHILLA, exclude_where=["epoch_excluded_outlier=1"])
    assert runs.n_runs == 240 and runs.excluded == 5


@pytest.mark.parametrize("argv, expected", [
    (["--gpus", "8", "--gpu", "v100", "--n", "1e9", "--d", "2e10", "--days", "1"], "unknown accelerator 'v100'; known:"),
    (["--gpus", "8", "--gpu", "h100", "--n", "1e9", "--d", "2e10", "--mfu", "1.5"], "--mfu (mfu= in Python) must lie in (0, 1]"),
    (["--gpus", "8", "--gpu", "h100", "--n", "1e9", "--d", "2e10", "--days", "0"], "--days must be a positive"),
    (["--gpus", "8", "--n", "1e9", "--d", "2e10", "--days", "1"], "name the accelerator with --gpu"),
    (["--n", "1e9"], "give the run: --n PARAMETERS --d TOKENS"),
])
def test_plan_bad_input_exits_2_with_a_reason(capsys, argv, expected):
    code, out, err = run(capsys, "plan", *argv)
    assert code == 2 and expected in err and "Traceback" not in err


def test_plan_arithmetic_json_is_one_object_of_numbers(capsys):
    code, out, err = run(capsys, "plan", "--n", "175e9", "--d", "300e9", "--gpus", "1024", "--gpu", "a100",
                         "--days", "34", "--price-per-gpu-hour", "1.5", "--json")
    data = json.loads(out)
    assert code == 0 and data["compute"] == pytest.approx(3.15e23) and data["cost"] == pytest.approx(1024 * 34 * 24 * 1.5)
    assert 0.33 < data["mfu"] < 0.34


def test_plan_from_a_fit_and_stacked_optimum(saved_fit, capsys):
    code, out, err = run(capsys, "plan", saved_fit, "--gpus", "64", "--gpu", "h100", "--mfu", "0.4", "--days", "10", "--json")
    record = json.loads(out)[0]
    assert code == 0 and set(record["N_opt"]) == {"median", "lower", "upper"} and record["days"] == 10


def test_optimum_from_published_constants(capsys):
    code, out, err = run(capsys, "optimum", "--law", "chinchilla", "--params", "E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28",
                         "-c", "5.76e23", "--json")
    record = json.loads(out)[0]
    assert code == 0 and record["N_opt"]["lower"] == record["N_opt"]["median"] == record["N_opt"]["upper"]
    assert 3e10 < record["N_opt"]["median"] < 3.5e10  # Hoffmann et al.'s Approach-3 constants, closed form
    code, out, err = run(capsys, "optimum", "-c", "1e23")
    assert code == 2 and "give a fit file" in err


def test_a_reader_that_stops_early_is_not_an_error(monkeypatch, capsys):
    from bayescale.cli import app

    def closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(app, "_cmd_laws", closed_pipe)
    assert main(["laws"]) == 141
    assert "error" not in capsys.readouterr().err
