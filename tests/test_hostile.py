"""Hostile input: every case gets a clear message, exit status 2, no traceback and no clobbered file.

No case samples: each is refused before the sampler starts (or, for the unconverged fit, the
sampler is replaced by a fake fit that fails its gates).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import compute_only_fit, fake_fit

from bayescale.cli import EXIT_INPUT, EXIT_UNCONVERGED, main

RUNS = "N,D,loss\n" + "\n".join(
    f"{n:g},{d:g},{2 + 400 / n**0.34 + 400 / d**0.28:.5f}" for n in (1e7, 3e7, 1e8) for d in (1e9, 3e9, 1e10)
)
LAW = 'name = "x"\nformula = "{formula}"\n[parameters.E]\nprior = {{ dist = "Normal", mu = 0, sigma = 1 }}\n'
PRIOR_LINE = "[E]\ndist = 'Normal'\nmu = 0\nsigma = 1\n"


def _runs_files(tmp: Path) -> dict[str, tuple[str, str]]:
    """name -> (file name, content) of runs tables that must be refused."""
    lines = RUNS.splitlines()
    return {
        "empty file": ("empty.csv", ""),
        "header only": ("header.csv", "N,D,loss\n"),
        "semicolon separator": ("semi.csv", RUNS.replace(",", ";")),
        "text in a numeric column": ("text.csv", RUNS.replace("1e+07", "ten million", 1)),
        "NaN": ("nan.csv", RUNS + "\n2e8,1e10,nan"),
        "inf": ("inf.csv", RUNS + "\n2e8,1e10,inf"),
        "N of 1e300": ("huge_n.csv", RUNS + "\n1e300,1e10,2.5"),
        "loss of 1e300": ("huge_loss.csv", RUNS + "\n2e8,1e10,1e300"),
        "negative N": ("neg.csv", RUNS + "\n-2e8,1e10,2.5"),
        "loss of 0": ("zero_loss.csv", RUNS + "\n2e8,1e10,0"),
        "loss of 1e6": ("outlier.csv", RUNS + "\n2e8,1e10,1e6"),
        "losses times 1e6": ("scaled.csv", "N,D,loss\n" + "\n".join(
            f"{r.split(',')[0]},{r.split(',')[1]},{float(r.split(',')[2]) * 1e6:g}" for r in lines[1:])),
        "duplicate rows": ("dup.csv", RUNS + "\n" + lines[1]),
        "a column named twice": ("twice.csv", "N,D,loss,N\n" + "\n".join(f"{r},1" for r in lines[1:])),
        "one model size": ("one_n.csv", "N,D,loss\n1e8,1e9,3.1\n1e8,3e9,3.0\n1e8,1e10,2.9\n1e8,3e10,2.8\n1e8,1e11,2.7\n1e8,3e11,2.6"),
        "one token count": ("one_d.csv", "N,D,loss\n1e7,1e9,3.1\n3e7,1e9,3.0\n1e8,1e9,2.9\n3e8,1e9,2.8\n1e9,1e9,2.7\n3e9,1e9,2.6"),
        "fewer runs than parameters": ("few.csv", "\n".join(lines[:4])),
        "compute and loss only, with a law in N and D": ("frontier.csv", "C,loss\n1e18,3.5\n1e19,3.1\n1e20,2.8\n"
                                                          "1e21,2.6\n1e22,2.45\n1e23,2.3\n1e24,2.2"),
        "unknown extension": ("runs.xlsx", RUNS),
        "corrupt parquet": ("bad.parquet", "PAR1 not really"),
        "garbage": ("garbage.csv", (os.urandom(1 << 20)).decode("latin-1")),
        "N in billions, C in FLOPs": ("units.csv", "N,D,C,loss\n" + "\n".join(
            f"{n / 1e9:g},{d:g},{6 * n * d:g},{2 + 400 / n**0.34 + 400 / d**0.28:.5f}"
            for n in (1e7, 3e7, 1e8) for d in (1e9, 3e9, 1e10))),
    }


def _law_files() -> dict[str, str]:
    return {
        "TOML syntax error": 'name = "x\nformula = ',
        "formula syntax error": LAW.format(formula="E + A / N^"),
        "__import__": LAW.format(formula="E + __import__('os')"),
        "eval": LAW.format(formula="E + eval(N)"),
        "attribute access": LAW.format(formula="E + N.real"),
        "undefined parameter": LAW.format(formula="E + A / N"),
        "unknown distribution": 'name = "x"\nformula = "E + N"\n[parameters.E]\nprior = { dist = "Weird", mu = 0 }\n',
        "negative sigma": 'name = "x"\nformula = "E + N"\n[parameters.E]\nprior = { dist = "Normal", mu = 0, sigma = -1 }\n',
        "5000 nested parentheses": LAW.format(formula="(" * 5000 + "E + N" + ")" * 5000),
        "a 1 MB formula": LAW.format(formula="E + N" * 200_000),
        "a 999-term sum": LAW.format(formula="E + " + " + ".join(["N"] * 999)),
        "deep unary minus": LAW.format(formula="E + " + "-" * 1990 + "N"),
        "10^400": LAW.format(formula="E + 10^400 * N"),
        "a 1,500-digit number": LAW.format(formula="E + " + "7" * 1500 + " * N"),
    }


def _check(capsys, argv, expected=None, code=EXIT_INPUT):
    got = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert got == code, (argv, got, err[-500:])
    assert "Traceback" not in err + out
    assert err.strip(), "an error must say what went wrong"
    if expected:
        assert expected.lower() in err.lower(), (argv, err)
    return err


@pytest.mark.parametrize("case", list(_runs_files(Path("."))))
def test_bad_runs_tables(case, tmp_path, capsys):
    name, content = _runs_files(tmp_path)[case]
    path = tmp_path / name
    path.write_text(content, encoding="latin-1" if case == "garbage" else "utf-8")
    out = tmp_path / "fit.nc"
    err = _check(capsys, ["fit", path, "--out", out])
    assert not out.exists()
    if case == "semicolon separator":
        assert "';'" in err
    if case.startswith("compute and loss only"):  # the default law needs N and D: the laws that do not are named
        assert "needs the model size N and tokens D" in err and "--law compute_power" in err
    if case == "unknown extension":  # a spreadsheet is told how to get a table bayescale reads
        assert "save the sheet as CSV" in err
    if case == "a column named twice":  # pandas would have read the first 'N' and renamed the second
        assert "names the column 'N' twice (columns 1 and 4)" in err


@pytest.mark.parametrize("case", list(_law_files()))
def test_bad_law_files(case, tmp_path, capsys):
    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)
    law = tmp_path / "law.toml"
    law.write_text(_law_files()[case])
    _check(capsys, ["fit", runs, "--law", law, "--out", tmp_path / "fit.nc"], "law.toml")
    _check(capsys, ["laws", law], "law.toml")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return fake_fit().save(tmp_path_factory.mktemp("hostile") / "fit.nc")


def test_bad_files_and_options(saved, tmp_path, capsys):
    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)
    prior = tmp_path / "p.toml"
    prior.write_text(PRIOR_LINE.replace("[E]", "[gamma]"))
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    foreign = tmp_path / "foreign.nc"
    import xarray as xr

    xr.Dataset({"x": ("i", [1.0, 2.0])}).to_netcdf(foreign, engine="h5netcdf")
    corrupt = tmp_path / "corrupt.nc"
    corrupt.write_bytes(b"\x89HDF\r\n" + os.urandom(4000))
    newer = tmp_path / "newer.nc"
    tree = fake_fit().tree.copy()
    tree.attrs["bayescale_schema"] = 99
    tree.to_netcdf(newer, engine="h5netcdf")
    file_as_folder = tmp_path / "plain"
    file_as_folder.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = [
        (["fit", tmp_path / "missing.csv"], "no such file"),
        (["fit", tmp_path], "directory"),
        (["fit", runs, "--n-col", "params"], "--n-col"),
        (["fit", runs, "--exclude-where", "N"], "COLUMN=VALUE"),
        (["fit", runs, "--exclude-where", "loss~0"], "COLUMN=VALUE"),
        (["fit", runs, "--where", "loss>1000"], "no runs"),
        (["fit", runs, "--law", "nosuchlaw"], "chinchilla"),
        (["fit", runs, "--family-col", "N"], "read as both N (--n-col) and family (--family-col)"),
        (["fit", runs, "--priors", prior], "gamma"),
        (["fit", runs, "--draws", "0"], "too small"),
        (["fit", runs, "--chains", "0"], "too small"),
        (["fit", runs, "--draws", "100000000"], "too large"),
        (["fit", runs, "--seed", "1.5"], "whole number"),
        (["fit", runs, "--out", tmp_path], "directory"),
        (["fit", runs, "--out", "-"], "needs a file name"),
        (["fit", saved, "--out", tmp_path / "new.nc"], "a .nc file is a saved fit"),
        (["isoflop", saved], "is a fit of a law (bayescale fit --out), not an isoFLOP analysis"),
        (["fit", runs, "--out", file_as_folder / "fit.nc"], "not a folder"),
        (["fit", runs, "--out", tmp_path / "nowhere" / "fit.nc"], "does not exist"),
        (["summary", truncated], "not a readable"),
        (["summary", foreign], "not a bayescale fit"),
        (["summary", corrupt], "not a readable"),
        (["summary", newer], "schema 99"),
        (["optimum", saved, "--compute", "-1e21"], "positive"),
        (["optimum", saved, "--compute", "0"], "positive"),
        (["optimum", saved, "--compute", "lots"], "not a number"),
        (["optimum", saved, "--compute", "1e21", "--prob", "0"], "positive"),
        (["optimum", saved, "--compute", "1e21", "--prob", "1.5"], "between 0 and 1"),
        (["backtest", runs, "--holdout-top", "2"], "--holdout-top: '2' must be a fraction between 0 and 1"),
        (["predict", saved, "--n", "1e9"], "--d"),
        (["predict", saved, "--n", "1e300", "--d", "1e300"], "6ND too large"),
        (["compare", saved, saved], "same fit"),
        (["inverse", saved, "--target-loss", "1.0"], "out of reach"),
        (["report", saved, "-o", tmp_path / "missing" / "r.pdf"], "does not exist"),
        (["report", saved, "-o", file_as_folder / "r.pdf"], "not a folder"),
    ]
    if os.geteuid() != 0:  # root writes anywhere
        cases.append((["report", saved, "-o", locked / "r.pdf"], "not writable"))
    for argv, expected in cases:
        _check(capsys, argv, expected)
    assert not (tmp_path / "missing").exists()


def test_an_output_over_an_input_is_refused_and_the_input_kept(saved, tmp_path, capsys, monkeypatch):
    """``fit runs.csv --out runs.csv`` once replaced the table with the fit; a report over its fit,
    or the default report name equal to a --with file, did the same."""
    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)
    fit = tmp_path / "fit.nc"
    fit.write_bytes(saved.read_bytes())
    (tmp_path / "link.nc").symlink_to(fit)
    report_named_like_fit = tmp_path / "fit.pdf"
    report_named_like_fit.write_bytes(saved.read_bytes())
    before = {p: p.read_bytes() for p in (runs, fit, report_named_like_fit)}
    monkeypatch.chdir(tmp_path)
    for argv in (["fit", runs, "--out", runs], ["fit", runs, "--out", "./runs.csv"],
                 ["fit", runs, "--out", "p.toml", "--priors", "p.toml"],
                 ["isoflop", runs, "--out", runs], ["backtest", runs, "--out", runs],
                 ["calibrate", fit, "--out", fit], ["report", fit, "-o", "link.nc"],
                 ["report", "fit.pdf"]):
        if "p.toml" in argv:
            (tmp_path / "p.toml").write_text(PRIOR_LINE)
            before[tmp_path / "p.toml"] = (tmp_path / "p.toml").read_bytes()
        _check(capsys, argv, "a file this command reads")
    assert all(p.read_bytes() == content for p, content in before.items())


def test_an_unwritable_folder_is_refused_before_the_fit(tmp_path, capsys, monkeypatch):
    """Permission bits can say yes where writing fails (root on /proc, a read-only mount, a full
    disk): the output folder is tried with a file of its own before anything is sampled."""
    import errno
    import tempfile

    import bayescale.results.fitting as fitting

    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(fitting, "fit", lambda *a, **k: pytest.fail("sampled before checking the output folder"))
    _check(capsys, ["fit", runs, "--out", tmp_path / "fit.nc"], "Read-only file system")
    assert list(tmp_path.iterdir()) == [runs]


@pytest.mark.parametrize("options, expected", [
    (["--law", "data_constrained", "--compute", "1e24"], "--unique-tokens U"),  # its optimum needs U
    (["--compute", "1e24", "--unique-tokens", "1e10"], "does not use unique tokens"),
    (["--unique-tokens", "1e10"], "give those too"),
])
def test_an_optimum_a_law_cannot_give_is_refused_before_the_fit(options, expected, tmp_path, capsys, monkeypatch):
    import bayescale.results.fitting as fitting

    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)
    monkeypatch.setattr(fitting, "fit", lambda *a, **k: pytest.fail("sampled before checking --compute"))
    _check(capsys, ["fit", runs, *options, "--out", tmp_path / "fit.nc"], expected)
    assert list(tmp_path.iterdir()) == [runs]


def test_budgets_for_a_law_in_size_alone_are_refused_before_the_fit(tmp_path, capsys, monkeypatch):
    """A user's law in N alone has neither an optimum nor a loss at C: refused before sampling, as
    before a law in compute alone was given its own answer (it once fitted, saved, then failed)."""
    import bayescale.results.fitting as fitting

    runs, law = tmp_path / "runs.csv", tmp_path / "size.toml"
    runs.write_text(RUNS)
    law.write_text(LAW.format(formula="E + 1 / N"))
    monkeypatch.setattr(fitting, "fit", lambda *a, **k: pytest.fail("sampled before checking --compute"))
    _check(capsys, ["fit", runs, "--law", law, "--compute", "1e24", "--out", tmp_path / "fit.nc"], "no trade-off")
    assert not (tmp_path / "fit.nc").exists()


@pytest.mark.parametrize("given", [["compute_power", "compute_loglinear"], ["compute_power,compute_loglinear"]])
def test_backtest_laws_by_spaces_or_commas(given, tmp_path, monkeypatch):
    import bayescale.decisions.backtesting as backtesting

    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)
    seen = {}

    def record(runs, laws, **kwargs):
        seen["laws"] = [law.name for law in laws]
        raise SystemExit(0)

    monkeypatch.setattr(backtesting, "backtest", record)
    with pytest.raises(SystemExit):
        main(["backtest", str(runs), "--laws", *given])
    assert seen["laws"] == ["compute_power", "compute_loglinear"]


def test_a_failed_fit_does_not_replace_a_good_one(tmp_path, capsys, monkeypatch):
    import bayescale.results.fitting as fitting

    runs = tmp_path / "runs.csv"
    runs.write_text(RUNS)
    good = fake_fit().save(tmp_path / "fit.nc")
    before = good.read_bytes()
    monkeypatch.setattr(fitting, "fit", lambda *a, **k: fake_fit(stuck_chain=True, diverged=3))
    err = _check(capsys, ["fit", runs, "--out", good], "NOT saved", code=EXIT_UNCONVERGED)
    assert "untouched" in err
    # chains that disagree are not told to take more draws, which would not mend it
    assert "the chains disagree" in err and "more draws (--draws" not in err
    assert good.read_bytes() == before
    # with --allow-unconverged the user asked for it: saved, flagged, exit 0
    assert main(["fit", str(runs), "--out", str(good), "--allow-unconverged", "-q"]) == 0
    assert good.read_bytes() != before


def test_suspicious_values_warn_with_the_option_to_use(tmp_path, caplog):
    from bayescale.data.reading import read_runs

    path = tmp_path / "billions.csv"
    path.write_text("N,D,loss\n" + "\n".join(f"{n:g},{d:g},3.0" for n in (0.1, 0.3, 1.0) for d in (1e9, 1e10)))
    with caplog.at_level("WARNING", logger="bayescale"):
        read_runs(path)
    assert "--n-unit" in caplog.text
    outlier = tmp_path / "outlier.csv"
    outlier.write_text(RUNS + "\n2e8,1e10,30")
    caplog.clear()
    with caplog.at_level("WARNING", logger="bayescale"):
        read_runs(outlier)
    assert "line 11" in caplog.text and "median" in caplog.text
    assert "perplexity" not in caplog.text  # one outlier: the median is still a loss


@pytest.mark.parametrize("unit, value, warned", [("nats/token", 25.0, True), ("nats/token", 3.0, False),
                                                 ("bits/token", 18.0, False), ("bits/byte", 9.0, True)])
def test_a_perplexity_given_as_a_loss_is_named(unit, value, warned, tmp_path, caplog):
    """Perplexities of 10-90 pass the hard limit of 100, but no cross-entropy exceeds uniform guessing."""
    from bayescale.data.reading import read_runs

    path = tmp_path / "ppl.csv"
    path.write_text("N,D,loss\n" + "\n".join(f"{n:g},{d:g},{value * (1 + n / 1e10):.4f}"
                                            for n in (1e8, 3e8, 1e9) for d in (1e9, 1e10)))
    with caplog.at_level("WARNING", logger="bayescale"):
        read_runs(path, loss_unit=unit)
    assert ("perplexity" in caplog.text and unit in caplog.text) == warned


@pytest.mark.parametrize("points, warned", [(40, True), (9, False)])
def test_checkpoints_of_training_curves_are_named(points, warned, caplog):
    """A table of loss curves (each size at many token counts) is not a table of final losses;
    final-loss tables here have at most 16 token counts per size, curve tables 73 and more."""
    from bayescale.data.reading import runs_from_frame

    n, d = np.meshgrid([1e8, 3e8, 1e9], np.geomspace(1e9, 1e11, points))
    frame = pd.DataFrame({"N": n.ravel(), "D": d.ravel()})
    frame["loss"] = 2 + 400 / frame.N**0.3 + 400 / frame.D**0.3
    frame["run"] = [f"size {i % 3}" for i in range(len(frame))]  # names the runs: offered to --last-per
    frame["step_id"] = [str(i) for i in range(len(frame))]  # one value a row: names none
    with caplog.at_level("WARNING", logger="bayescale"):
        runs_from_frame(frame)
    assert ("checkpoints of training curves" in caplog.text and "final checkpoint" in caplog.text) == warned
    assert ("columns that may name the runs: 'run'" in caplog.text) == warned and "step_id" not in caplog.text


def test_a_bom_is_read(tmp_path):
    from bayescale.data.reading import read_runs

    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + RUNS.encode())
    assert read_runs(path).n_runs == 9


def test_comment_lines_above_the_header_are_skipped_and_counted_in_line_numbers(tmp_path, caplog):
    """A digitized table often opens with notes on its source ('# from Figure 2'); gzipped too."""
    import gzip

    from bayescale.data.reading import read_runs
    from bayescale.errors import RunsError

    path = tmp_path / "noted.csv"
    path.write_text("# digitized from Figure 2\n# units: parameters, tokens, nats\n" + RUNS)
    with caplog.at_level("WARNING", logger="bayescale"):
        assert read_runs(path).n_runs == 9
    assert "skipped 2 comment line(s)" in caplog.text
    zipped = tmp_path / "noted.csv.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    assert read_runs(zipped).n_runs == 9
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0] + ",oops"  # the third run, line 5 of the file
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunsError, match="line 5 "):
        read_runs(path)


def test_a_header_written_as_a_comment_is_read(tmp_path, caplog):
    """numpy.savetxt(..., header="N,D,loss") writes '# N,D,loss' above rows of numbers."""
    from bayescale.data.reading import read_runs
    from bayescale.errors import RunsError

    rows = np.array([[1e8, 2e9, 3.0], [2e8, 4e9, 2.9], [4e8, 8e9, 2.8], [8e8, 1.6e10, 2.7]])
    path = tmp_path / "saved.csv"
    np.savetxt(path, rows, delimiter=",", header="N,D,loss")
    with caplog.at_level("WARNING", logger="bayescale"):
        runs = read_runs(path)
    assert runs.n_runs == 4 and runs.columns["N"] == "N" and "'# N,D,loss'" in caplog.text
    rows[2, 2] = np.nan
    np.savetxt(path, rows, delimiter=",", header="from a sweep\nN,D,loss")
    with pytest.raises(RunsError, match="line 5 \\(loss\\)"):  # two comment lines, then rows 3, 4, 5
        read_runs(path)


def test_a_count_too_small_says_why_only_where_there_is_a_reason(saved, capsys):
    err = _check(capsys, ["calibrate", saved, "--simulations", "0"], "--simulations: '0' is too small: at least 2")
    assert "convergence gates" not in err  # the floor of --simulations is not the sampler's
    err = _check(capsys, ["fit", saved, "--draws", "10"], "at least 50 (the convergence gates need it)")


def test_fit_with_budgets_and_a_law_in_compute_alone_prints_the_loss_they_buy(tmp_path, monkeypatch, capsys):
    """No optimum to print (no N/D trade-off): the loss each budget buys instead (it was refused)."""
    import json

    from bayescale.results import fitting

    runs = tmp_path / "frontier.csv"
    runs.write_text("C,loss\n1e18,3.5\n1e19,3.1\n1e20,2.8\n1e21,2.6\n1e22,2.45\n1e23,2.3\n")
    monkeypatch.setattr(fitting, "fit", lambda *a, **k: compute_only_fit(sizes=False))
    assert main(["fit", str(runs), "--law", "compute_power", "--compute", "1e22", "1e24",
                 "--out", str(tmp_path / "fit.nc"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["optimum"] is None and [r["C"] for r in out["predicted"]] == [1e22, 1e24]
    assert out["predicted"][1]["loss"]["median"] < out["predicted"][0]["loss"]["median"]
    assert main(["fit", str(runs), "--law", "compute_power", "--compute", "1e22", "--out", str(tmp_path / "f2.nc")]) == 0
    assert "no compute-optimal N and D, but the loss each budget buys" in capsys.readouterr().out
