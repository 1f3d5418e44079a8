"""The PDF report and the plots: pages, words and numbers, determinism, each plot alone (no sampler)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, compute_only_fit, fake_fit

from bayescale.errors import BayescaleError
from bayescale.report.contents import fit_results, run_slices
from bayescale.report.writer import DEFAULT_BUDGETS, write_report

PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed")
PAGES_PER_FIT = 8  # title, data, fit, residuals, posterior, frontier; in the appendix: pair plot, diagnostics
MAIN = 6  # the pages of a fit before the appendix
FRONT = 1  # "What to train", first, when a fit has a compute-optimal allocation


def page_count(path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))


def pdf_text(path, first: int | None = None, last: int | None = None) -> str:
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    out = subprocess.run([PDFTOTEXT, *pages, str(path), "-"], check=True, capture_output=True, text=True).stdout
    return " ".join(out.split())  # pdftotext breaks lines where the layout does


@pytest.fixture(scope="module")
def good_fit():
    return fake_fit(draws=300, seed=1)


@pytest.fixture(scope="module")
def failed_fit():
    return fake_fit(draws=300, stuck_chain=True, seed=0)


@pytest.fixture(scope="module")
def compute_fit():
    return compute_only_fit()


@pytest.fixture(scope="module")
def report(compute_fit, tmp_path_factory):
    """A one-fit report; of the law of compute alone, the cheapest to draw (the test file stays fast)."""
    return write_report([compute_fit], tmp_path_factory.mktemp("report") / "one.pdf")


@pytest.fixture(scope="module")
def two_fit_report(failed_fit, compute_fit, tmp_path_factory):
    """A failed Chinchilla fit, then a law of compute alone, of the same runs."""
    return write_report([failed_fit, compute_fit], tmp_path_factory.mktemp("report") / "two.pdf",
                        budgets=[1e21, 1e23])


# ---- the report -------------------------------------------------------------------------------
def test_an_empty_fit_list_is_an_error(tmp_path):
    with pytest.raises(BayescaleError, match="at least one fit"):
        write_report([], tmp_path / "none.pdf")
    assert not list(tmp_path.iterdir())


def test_budgets_must_be_positive(good_fit, tmp_path):
    with pytest.raises(BayescaleError, match="positive"):
        write_report([good_fit], tmp_path / "bad.pdf", budgets=[1e21, -1.0])


def test_one_fit_gives_its_pages_with_fixed_dates(report, compute_fit):
    assert report.suffix == ".pdf" and report.is_file()
    assert page_count(report) == PAGES_PER_FIT
    created = datetime.fromisoformat(compute_fit.attrs["created"]).strftime("%Y%m%d%H%M%S")
    assert f"/CreationDate (D:{created}".encode() in report.read_bytes()


def test_the_same_fit_gives_the_same_bytes(report, compute_fit, tmp_path):
    again = write_report([compute_fit], tmp_path / "again.pdf")
    assert again.read_bytes() == report.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["again.pdf"]  # no temporary file left


@needs_pdftotext
def test_the_report_names_the_law_formula_and_numbers(two_fit_report, failed_fit):
    first = pdf_text(two_fit_report, FRONT + 1, FRONT + 1)
    chinchilla = pdf_text(two_fit_report, FRONT + 1, FRONT + MAIN)
    assert "chinchilla" in first and "E + A / N^alpha + B / D^beta" in first
    assert failed_fit.id in first and failed_fit.attrs["data_hash"] in first
    assert "LogNormal(mu=0.5, sigma=1)" in first  # the prior of E
    assert "CONVERGENCE GATES FAILED" in first and "R-hat of" in first
    table = failed_fit.summary().table
    for name in ("E", "alpha", "beta"):
        assert f"{table.loc[name, 'median']:.4g}" in chinchilla, name
    from bayescale.texts import sci

    record = failed_fit.optimum([1e23]).to_records()[0]["N_opt"]
    assert sci(record["median"]) in first  # N* at 1e23 on the title page
    for section in ("The data", "The fit against the data", "Residuals", "The posterior",
                    "The compute-optimal frontier", "nats/token", "FLOPs", "parameters", "tokens"):
        assert section in chinchilla, section
    assert "Appendix" in pdf_text(two_fit_report, page_count(two_fit_report) - 3)  # diagnostics come last
    assert "Convergence gates PASSED" in pdf_text(two_fit_report, FRONT + MAIN + 1, FRONT + MAIN + 1)
    front = pdf_text(two_fit_report, 1, 1)
    assert "What to train" in front and "train about" in front and "CONVERGENCE GATES FAILED" in front


def test_a_failed_write_leaves_nothing(good_fit, tmp_path, monkeypatch):
    from bayescale.report import pages as plots_pages

    def broken(fit):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plots_pages, "data_page", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report([good_fit], tmp_path / "broken.pdf")
    assert not list(tmp_path.iterdir())


@needs_pdftotext
def test_two_fits_add_a_comparison_and_overlaid_frontiers(two_fit_report):
    # data shown once (same runs); 6 more pages for the second fit; comparison and overlaid frontiers
    assert page_count(two_fit_report) == FRONT + PAGES_PER_FIT + (PAGES_PER_FIT - 1) + 2
    comparison = FRONT + MAIN + (MAIN - 1) + 1
    last_two = pdf_text(two_fit_report, comparison, comparison + 1)
    assert "Comparison of the fits" in last_two
    assert "elpd_loo" in last_two
    assert "frontiers overlaid" in last_two and "not shown (no trade-off between N and D): compute_power" in last_two
    second = pdf_text(two_fit_report, FRONT + MAIN + 1, FRONT + 2 * MAIN - 1)
    assert "compute_power" in second and "No compute-optimal frontier" in second


def test_the_comparison_degrades_to_a_message(good_fit, monkeypatch):
    from bayescale.data.reading import read_runs
    from bayescale.report import writer as report

    other = fake_fit(read_runs(ROOT / "data" / "example_runs.csv", exclude_where=["C=1e17"]), draws=300)
    comparison, reason = report._comparison([good_fit, other])
    assert comparison is None and "comparison unavailable" in reason and "different runs" in reason
    monkeypatch.setitem(sys.modules, "bayescale.decisions.comparison", None)  # as if the module did not exist
    comparison, reason = report._comparison([good_fit, good_fit])
    assert comparison is None and reason.startswith("comparison unavailable")


def test_a_law_without_trade_off_gets_a_message_instead_of_a_frontier():
    from bayescale.report.pages import frontier_page, title_page

    fit = compute_only_fit()
    res = fit_results(fit, DEFAULT_BUDGETS)
    assert res.frontier is None and "no trade-off" in res.optimum_error
    assert [s.x for s in res.slices] == ["C"]  # one curve against compute
    texts = [t.get_text() for t in frontier_page(fit, res).texts]
    assert any("No compute-optimal frontier" in t for t in texts)
    # page 1 gives what a law in compute alone can say: the loss each budget buys, the law's and a run's
    assert [r["C"] for r in res.bought.to_records()] == list(DEFAULT_BUDGETS)
    title = title_page(fit, res)
    cells = [c.get_text().get_text() for ax in title.axes for table in ax.tables for c in table.get_celld().values()]
    law, run = res.bought.to_records()[0]["loss"], res.bought.to_records()[0]["predictive"]
    assert f"{law['median']:.4g} [{law['lower']:.4g}, {law['upper']:.4g}]" in cells
    assert run["lower"] < law["lower"] and any("a run there" in c for c in cells)


def test_a_table_of_compute_and_loss_alone_gets_a_whole_report(tmp_path):
    """No N or D in the runs: the pages plot against compute alone and say why."""
    from bayescale.report.pages import data_page, residuals_page, title_page

    fit = compute_only_fit(sizes=False)
    assert not fit.runs.has_sizes
    res = fit_results(fit, DEFAULT_BUDGETS)
    assert [k for k in res.influential[0]] == ["C", "loss", "k"]

    def texts(fig):  # every text drawn on a page, its subfigures' too
        return ([t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts]
                + [t for sub in fig.subfigs for t in texts(sub)])

    joined = " ".join(t for page in (title_page(fit, res), data_page(fit), residuals_page(fit, res)) for t in texts(page))
    assert "compute and loss only" in joined and "C/C_ref with C_ref" in joined and "N_ref" not in joined
    path = write_report([fit], tmp_path / "compute.pdf")
    assert page_count(path) >= 5


def test_a_fit_of_compute_alone_predicts_wider_beyond_its_runs():
    """With no N or D in the runs, the distance beyond them is in compute alone: a prediction 100×
    past the largest run is wider than one inside (the discrepancy grows), and N, D given to
    predict are not needed."""
    fit = compute_only_fit(sizes=False)
    inside = fit.predict(C=float(np.median(fit.runs.C)))
    beyond = fit.predict(C=100 * float(fit.runs.C.max()))
    width = [np.diff(np.quantile(np.log(p.predictive), [0.025, 0.975], axis=0), axis=0).item() for p in (inside, beyond)]
    assert width[1] > 1.5 * width[0]
    assert fit.context(C=[1e22])["ratio"].tolist() == [0.0]  # no tokens per parameter to be far in


# ---- each plot alone --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def computed(good_fit):
    """Everything the plots need, computed through the API before any plot is drawn."""
    runs = good_fit.runs
    at_runs = good_fit.predict(N=runs.N, D=runs.D, C=runs.C)
    slices, _ = run_slices(good_fit, at_runs)
    optimum = good_fit.optimum(np.geomspace(1e17, 1e25, 9))
    priors = {n: good_fit.law.priors[n].draw(1000, seed=i) for i, n in enumerate(good_fit.law.all_parameters)}
    table = pd.DataFrame({"rank": [0, 1], "elpd_loo": [150.0, 140.0], "se": [5.0, 6.0], "elpd_diff": [0.0, 10.0],
                          "dse": [0.0, 3.0], "weight": [0.9, 0.1]}, index=["chinchilla", "kaplan"])
    return SimpleNamespace(at_runs=at_runs, slices=slices, optimum=optimum, priors=priors,
                           comparison=SimpleNamespace(table=table, warnings=()))


def labelled(ax, x_unit: str | None = None, y_unit: str | None = None) -> bool:
    x, y = ax.get_xlabel(), ax.get_ylabel()
    return (x_unit is None or x_unit in x) and (y_unit is None or y_unit in y)


def test_each_plot_works_alone_and_labels_units(good_fit, computed, monkeypatch):
    from matplotlib.figure import Figure

    from bayescale.report import plots
    from bayescale.report import posterior as plots_posterior
    from bayescale.results.fitted import Fit

    for method in ("predict", "optimum", "summary"):  # plots compute nothing new
        monkeypatch.setattr(Fit, method, lambda *a, **k: pytest.fail("a plot called the API"))
    runs, unit = good_fit.runs, good_fit.runs.loss_unit
    fig = plots.plot_runs(runs)
    assert isinstance(fig, Figure) and labelled(fig.axes[0], "(FLOPs)", f"({unit})")
    assert labelled(plots.plot_design(runs).axes[0], "(parameters)", "(tokens)")
    assert labelled(plots.plot_fit_slices(runs, computed.slices).axes[0], "(parameters)", f"({unit})")
    assert labelled(plots.plot_residuals(runs, computed.at_runs).axes[0], "(FLOPs)", "dimensionless")
    frontier = plots.plot_frontier(computed.optimum, data_range=(1e17, 1e20), budgets=[1e23])
    shown = [ax for ax in frontier.axes if ax.axison]
    assert all(labelled(ax, "(FLOPs)") for ax in shown[:5])
    assert [ax.get_ylabel() for ax in shown] == [
        "N* (parameters)", "D* (tokens)", "N* band, upper/lower (× factor; solid)", f"L* ({unit})",
        "D*/N* (tokens per parameter)", f"L* band, upper − lower ({unit}; dashed)"]
    assert frontier.axes[5].get_legend() is not None  # the legend has a panel of its own
    assert labelled(plots_posterior.plot_comparison(computed.comparison).axes[0], "(nats")
    pair = plots_posterior.plot_pair(good_fit)
    bottom = [ax for ax in pair.axes if ax.get_xlabel()]
    assert [ax.get_xlabel() for ax in bottom] == [  # units from the law file: exponents have none
        f"E ({unit})", f"A ({unit})", "alpha (dimensionless)", f"B ({unit})", "beta (dimensionless)"]
    prior = plots_posterior.plot_prior_posterior(good_fit, computed.priors)
    shown = [ax for ax in prior.axes if ax.axison]
    assert len(shown) == len(good_fit.law.all_parameters)
    assert all(labelled(ax, "(", "density (per") for ax in shown)
    chains = plots_posterior.plot_chains(good_fit)
    assert labelled(chains.axes[-2], "(iteration)") and labelled(chains.axes[-1], "(draws)")
    gates = plots_posterior.plot_gates(good_fit.gates)
    assert labelled(gates.axes[0], "(dimensionless)") and labelled(gates.axes[1], "(draws)")
    assert plots.plot_table([["a", "1"]], ["name", "value"]).axes[0].tables


def test_plots_draw_into_given_axes(good_fit):
    from matplotlib.figure import Figure

    from bayescale.report import plots

    fig = Figure()
    ax = fig.add_subplot()
    assert plots.plot_runs(good_fit.runs, ax=ax) is fig and ax.get_xlabel()


def test_the_pair_plot_is_thinned_with_a_seed(good_fit):
    from bayescale.report.posterior import plot_pair

    def points(fig):
        return [c.get_offsets().copy() for ax in fig.axes for c in ax.collections]

    first, second = points(plot_pair(good_fit, max_draws=200)), points(plot_pair(good_fit, max_draws=200))
    assert first and all(len(p) == 200 for p in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_modules_do_not_import_matplotlib():
    code = ("import sys, bayescale.report.writer, bayescale.report.contents, bayescale.report.plots, bayescale.report.posterior, bayescale.report.pages; "
            "sys.exit('matplotlib' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_saved_calibration_and_backtest_add_one_page_each(compute_fit, tmp_path):
    from test_calibration import BACKTEST, SIMULATED

    from bayescale.decisions.calibration import Calibration

    cal = Calibration(SIMULATED, BACKTEST, True, 0.95, compute_fit.id, "discrepancy").save(tmp_path / "cal.json")
    bt = tmp_path / "bt.json"
    bt.write_text(json.dumps({"kind": "bayescale backtest", "schema": 1, "cutoff": 1e21, "n_train": 40, "n_holdout": 10,
                              "prob": 0.95, "laws": {"chinchilla": {"elpd_per_run": 2.0, "coverage": 0.9, "mean_width": 0.1,
                                                                    "interval_score": 0.2, "median_rel_error": 0.01,
                                                                    "gates": True}}}))
    path = write_report([compute_fit], tmp_path / "with.pdf", with_files=[cal, bt])
    assert page_count(path) == PAGES_PER_FIT + 2


def test_a_with_file_that_is_not_a_saved_result_is_refused_before_writing(compute_fit, tmp_path):
    from bayescale.errors import FitFileError

    other = tmp_path / "other.json"
    other.write_text("[1, 2]")
    with pytest.raises(FitFileError, match="not a bayescale calibration, backtest or suggestion"):
        write_report([compute_fit], tmp_path / "no.pdf", with_files=[other])
    assert not (tmp_path / "no.pdf").exists()


def test_the_front_page_answers_what_to_train(good_fit):
    """Page 1's numbers come from the result API: the recommended N lies in N*'s interval, the
    distance is measured from the runs' 90th percentile of compute, and a saved backtest that
    prefers another law than PSIS-LOO is called a disagreement."""
    import numpy as np

    from bayescale.report.contents import fit_results
    from bayescale.report.front import front_results

    other = fake_fit(draws=300, seed=5)
    results = [fit_results(f, [1e23]) for f in (good_fit, other)]
    from bayescale.decisions.comparison import compare_fits

    comparison = compare_fits([good_fit, other])
    backtest = {"kind": "bayescale backtest", "path": "/somewhere/bt.json",
                "laws": {"kaplan": {"elpd_per_run": 3.0}, "chinchilla": {"elpd_per_run": 1.0}}}
    front = front_results([good_fit, other], results, comparison, [backtest])
    (answer,) = front.answers
    interval = results[0].at_budgets.to_records()[0]["N_opt"]
    assert interval["lower"] < answer["N_recommended"] < interval["upper"]
    assert answer["beyond"] == pytest.approx(1e23 / np.quantile(good_fit.runs.C, 0.9))
    assert answer["beyond_size"] == pytest.approx(answer["N_recommended"] / np.quantile(good_fit.runs.N, 0.9))
    assert [row[1] for row in front.rows if row[0]] == ["chinchilla", "chinchilla", "ensemble (stacked)"]
    # beneath each, the optimum of the surface each draw believes: the law and its miss beyond the runs
    assert [row[1] for row in front.rows if not row[0]] == ["  + the law's miss"] * 3
    assert answer["N_opt_predictive"]["lower"] < interval["lower"]
    assert any("They disagree" in v for v in front.verdicts) and any("bt.json" in v for v in front.verdicts)
    assert not any("/somewhere" in v for v in front.verdicts)


def test_the_front_page_prices_a_cluster(good_fit):
    from bayescale.planning.plan import make_cluster
    from bayescale.report.contents import fit_results
    from bayescale.report.front import front_results

    cluster = make_cluster(1024, "h100", 0.4)
    front = front_results([good_fit], [fit_results(good_fit, [1e24])], cluster=cluster, price_per_gpu_hour=2.0)
    (answer,) = front.answers
    days = 1e24 / (1024 * 989.4e12 * 0.4) / 86400  # the catalogue's dense BF16 peak of the H100 SXM
    assert answer["days"] == pytest.approx(days, rel=1e-3)
    assert answer["cost"] == pytest.approx(days * 24 * 1024 * 2.0, rel=1e-3)


def test_report_writes_the_first_fits_name_by_default(good_fit, tmp_path, monkeypatch):
    from bayescale.cli import main

    good_fit.save(tmp_path / "my_fit.nc")
    monkeypatch.chdir(tmp_path)
    assert main(["report", "my_fit.nc"]) == 0
    assert (tmp_path / "my_fit.pdf").stat().st_size > 10_000


def test_multiples_read_as_people_say_them():
    from bayescale.texts import times as _times

    assert [_times(x) for x in (1.44, 24.3, 1000.0, 12345.0, 2.2e5)] == ["1.4×", "24×", "1,000×", "12,000×", "2.2e5×"]


def test_decade_labels_are_plain_text():
    from bayescale.report.layout import decade_label as _decade_label

    assert [_decade_label(v) for v in (1e18, 1e-3, 1.0, 3e5)] == ["10¹⁸", "10⁻³", "10⁰", ""]


def test_a_data_constrained_fit_gets_a_front_page_at_the_runs_unique_tokens():
    """Page 1 recommends at the runs' largest U, as the other pages do (it used to ask for
    --unique-tokens, which `report` does not take, so such a fit had no report at all)."""
    import pandas as pd
    import xarray as xr

    from bayescale.data.reading import runs_from_frame
    from bayescale.inference.model import scales_of
    from bayescale.laws.law_file import load_law
    from bayescale.report.front import front_results
    from bayescale.results.fitting import assemble_fit

    frame = pd.read_csv(ROOT / "data" / "example_runs.csv")
    frame["U"] = frame["D"] / np.where(np.arange(len(frame)) % 3 == 0, 4.0, 1.0)  # a third repeat their data 4 times
    runs = runs_from_frame(frame)
    scales = scales_of(runs)
    law = load_law("data_constrained")
    center = {"E": 1.69, "A": 406.4 / scales.N_ref ** 0.34, "alpha": 0.34, "B": 410.7 / scales.D_ref ** 0.28,
              "beta": 0.28, "RD_star": 15.4, "RN_star": 5.3, "sigma": 0.01}
    rng = np.random.default_rng(4)
    posterior = xr.Dataset({k: (("chain", "draw"), v * np.exp(0.01 * rng.standard_normal((2, 200))))
                            for k, v in center.items()})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 200), dtype=bool))})
    fit = assemble_fit(law, runs, scales, posterior, stats, {"fake": True})
    results = fit_results(fit, [1e21, 1e23])
    assert results.unique_tokens == pytest.approx(runs.U.max())
    front = front_results([fit], [results])
    assert [a["compute"] for a in front.answers] == [1e21, 1e23]
    assert all(a["N_recommended"] > 0 for a in front.answers)
    assert all(a["unique_tokens"] == pytest.approx(runs.U.max()) for a in front.answers)
    more = fit_results(fit, [1e23], unique_tokens=1e12)  # the user's own U (report --unique-tokens)
    assert more.unique_tokens == 1e12
    assert more.at_budgets.unique_tokens == 1e12


def test_page_one_says_when_a_predictive_interval_is_too_wide_to_act_on():
    """A budget whose predictive loss interval spans more than a factor of two is flagged in words
    and in red, even within the runs' compute."""
    from bayescale.report.front import FrontResults, front_page

    def answer(lower, upper):
        return {"compute": 1e21, "N_recommended": 5e8, "D_recommended": 3e11, "beyond": 0.5, "beyond_size": 0.5,
                "L_opt_predictive": {"median": 2.2, "lower": lower, "upper": upper},
                "L_opt": {"median": 2.2, "lower": 2.1, "upper": 2.3}}

    row = ["1e21", "chinchilla", "5e8 [4e8, 6e8]", "3e11 [2e11, 4e11]", "2.2 [2.0, 2.4]", "2.2 [2.1, 2.3]"]
    front = FrontResults([answer(2.0, 2.4), answer(0.23, 29.0)], [row], 1e22, [], "the chinchilla law", 0.95,
                         "nats/token", 1e9)
    from matplotlib.text import Text

    texts = [t for t in front_page(front).findobj(Text) if "FLOPs, train" in t.get_text()]
    narrow, wide = texts
    assert "spans a factor" not in narrow.get_text() and narrow.get_color() == "black"
    said = " ".join(wide.get_text().split())
    assert "2.2 [0.23, 29]" in said and "spans a factor of 130" in said
    assert wide.get_color() != "black"


def test_report_tables_mark_interval_ends_that_are_the_learned_edge():
    """The report's tables, like the command line, print an end of the predictive N*, D* that is the
    edge of the learned tilt as "≤"/"≥" (page 1 and the allocation page), and nothing else."""
    from conftest import fake_fit

    from bayescale.report.front import _rows
    from bayescale.report.pages import allocation_rows

    fit = fake_fit()
    far = float(np.max(fit.runs.C)) * 1e4
    optimum = fit.optimum([far], all_runs=True)
    record = optimum.to_records()[0]
    assert record["predictive_at_learned_edge"]["few_tokens_per_param"] > 0.025
    law, miss = allocation_rows(optimum, 0.95, float(np.max(fit.runs.C)))
    assert "≤" not in " ".join(law) and "≥" not in " ".join(law)
    assert miss[2].count("≥") == 1 and "[≤" in miss[3]  # N*'s upper end, D*'s lower end at least
    front_law, front_miss = _rows(far, "chinchilla", record)
    assert "≥" in front_miss[2] and "≤" in front_miss[3] and "≤" not in front_law[2]
