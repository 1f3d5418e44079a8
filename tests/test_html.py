"""Jupyter shows the same tables the CLI prints: each result's ``_repr_html_``."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fake_fit

from bayescale.planning.plan import plan
from bayescale.results.html import records_html


def test_records_html_shows_intervals_and_escapes_text():
    html = records_html([{"compute": 1e23, "L_opt": {"median": 2.0312, "lower": 2.0101, "upper": 2.0523},
                          "N_opt": {"median": 7.04e10, "lower": 5e10, "upper": 9.9e10}, "note": "<b>"}], "cap")
    assert "<caption>cap</caption>" in html and "1e+23" in html
    assert "2.031 <small>[2.010, 2.052]</small>" in html and "7.04e+10 <small>[5e+10, 9.9e+10]</small>" in html
    assert "&lt;b&gt;" in html and "<b>" not in html


@pytest.fixture(scope="module")
def fit():
    return fake_fit()


def test_fit_optimum_and_plan_render_the_printed_numbers(fit):
    html = fit._repr_html_()
    assert fit.id in html and "alpha" in html and "gates PASSED" in html
    optimum = fit.optimum([1e21])
    record = optimum.to_records()[0]
    assert f"{record['N_opt']['median']:.3g}" in optimum._repr_html_()
    planned = plan(fit, gpus=1024, gpu="h100", mfu=0.4, days=30)
    assert "days" in planned._repr_html_() and planned._repr_html_().count("<tr>") == 2


def test_comparison_and_suggestion_render(fit):
    from bayescale.decisions.comparison import compare_fits
    from bayescale.decisions.suggest import suggest

    other = fake_fit(seed=3)
    assert "elpd_loo" in compare_fits([fit, other])._repr_html_()
    chosen = suggest(fit, 1e24, 1e21, k=2, min_gain=0.0)
    html = chosen._repr_html_()
    assert html.count("<tr>") == 1 + len(chosen.runs) and np.isfinite(chosen.width_now)


def test_the_optimum_table_marks_edge_ends_as_the_command_line_does(fit):
    """In a notebook, an end of the predictive N*, D* on the learned edge reads "≤"/"≥" as printed,
    and the shares behind it are not dumped as columns."""
    far = fit.optimum([float(np.max(fit.runs.C)) * 1e4], all_runs=True)
    html = far._repr_html_()
    assert "[≤" in html and ", ≥" in html and "learned_edge" not in html
    near = fit.optimum([float(np.median(fit.runs.C))], all_runs=True)._repr_html_()
    assert "≤" not in near and "≥" not in near


def test_results_show_their_table_in_a_repl(fit):
    """Typing a result's name at a prompt shows what print() shows, not a dataclass dump of draws."""
    optimum = fit.optimum([1e22])
    for result in (optimum, fit.summary(), fit.predict(N=1e9, D=2e10), fit.runs, fit.adequacy(), fit.law):
        text = repr(result)
        assert "array(" not in text and "DataFrame" not in text and "frame=" not in text
        assert text == (result.describe() if hasattr(result, "describe") else str(result))
