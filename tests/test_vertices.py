"""Held-out isoFLOP minima against a fit's N* intervals, on synthetic curves and fake posteriors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import fake_fit

from bayescale.decisions.vertices import held_out_vertices, parabola_vertex, score_vertices


def test_a_parabolas_vertex_and_its_error():
    log_n = np.log(np.logspace(8, 10, 7))
    centre = np.log(1e9)
    exact = 0.02 * (log_n - centre) ** 2 + 1.0
    vertex, se = parabola_vertex(log_n, exact)
    assert vertex == pytest.approx(centre) and se == pytest.approx(0.0, abs=1e-6)
    noisy = exact + 0.002 * np.random.default_rng(0).standard_normal(log_n.size)
    vertex, se = parabola_vertex(log_n, noisy)
    assert abs(vertex - centre) < 4 * se and 0 < se < 0.5
    assert parabola_vertex(log_n, -exact) is None  # concave: no minimum
    assert parabola_vertex(log_n, 0.02 * (log_n - np.log(1e11)) ** 2) is None  # minimum beyond the sizes run


def test_only_budgets_that_bracket_a_minimum_count():
    runs = fake_fit().runs  # an isoFLOP grid: 7 budgets of 9 sizes
    found = held_out_vertices(runs)
    assert 1 <= len(found) <= len(np.unique(runs.C))
    for budget, log_vertex, se in found:
        at = np.isclose(runs.C, budget, rtol=0.05)
        assert np.log(runs.N[at].min()) < log_vertex < np.log(runs.N[at].max()) and se > 0
    one_size = replace(runs, frame=runs.frame.assign(N=runs.N[0]))
    assert held_out_vertices(one_size) == []


def test_a_fit_of_the_true_law_holds_its_own_minima():
    fit = fake_fit(spread=0.05)
    scored = score_vertices(fit, fit.runs)
    assert scored["budgets"] >= 5 and set(scored["N_opt"]) == {"inside", "within_error"}
    assert scored["N_opt"]["within_error"] >= 0.8
    # curves whose minima sit at ten times the size (same compute): the law's N* must miss them
    moved = replace(fit.runs, frame=fit.runs.frame.assign(N=fit.runs.N * 10, D=fit.runs.D / 10))
    assert score_vertices(fit, moved)["N_opt"]["inside"] == 0.0
    assert score_vertices(fit, replace(fit.runs, frame=fit.runs.frame.assign(N=fit.runs.N[0]))) is None
