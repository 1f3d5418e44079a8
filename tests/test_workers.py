"""Many fits on a pool of processes: results in task order, independent of the engine and workers."""

from __future__ import annotations

import logging
import os

import pytest
from conftest import ROOT

from bayescale.errors import BayescaleError
from bayescale.inference.workers import run_tasks, task_seed


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def test_task_seeds_are_fixed_by_the_seed_and_the_index():
    assert task_seed(7, 3) == task_seed(7, 3)
    seeds = {task_seed(7, i) for i in range(100)} | {task_seed(8, i) for i in range(100)}
    assert len(seeds) == 200


def test_the_local_pool_returns_results_in_task_order_from_other_processes():
    out = run_tasks(_pid_and_square, list(range(6)), workers=2)
    assert [square for _, square in out] == [0, 1, 4, 9, 16, 25]
    assert os.getpid() not in {pid for pid, _ in out}
    assert run_tasks(_pid_and_square, [3], workers=1) == [(os.getpid(), 9)]  # one worker: here


def test_bad_engine_or_workers_are_refused():
    with pytest.raises(BayescaleError, match="unknown engine 'spark'"):
        run_tasks(_pid_and_square, [1], engine="spark")
    with pytest.raises(BayescaleError, match="workers must be"):
        run_tasks(_pid_and_square, [1], workers=0)


@pytest.mark.parametrize("engine, module", [("ray", "ray"), ("dask", "distributed")])
def test_optional_engines_when_installed(engine, module):
    pytest.importorskip(module)
    out = run_tasks(_pid_and_square, list(range(4)), workers=2, engine=engine)
    assert [square for _, square in out] == [0, 1, 4, 9]


@pytest.mark.nuts
def test_a_backtest_scores_the_same_on_one_or_two_workers():
    from bayescale.data.reading import read_runs
    from bayescale.decisions.backtesting import backtest
    from bayescale.inference.sampling import SamplerSettings

    runs = read_runs(ROOT / "data" / "example_runs.csv")
    settings = SamplerSettings(seed=5, draws=200, tune=300, progressbar=False)
    one = backtest(runs, ["chinchilla", "chinchilla_tied"], settings=settings, workers=1).table
    two = backtest(runs, ["chinchilla", "chinchilla_tied"], settings=settings, workers=2).table
    assert list(one.index) == list(two.index)
    assert one["elpd"].to_numpy() == pytest.approx(two["elpd"].to_numpy(), rel=1e-9)


def _noisy_task(x: int) -> int:
    logging.getLogger("bayescale.results").warning("fitting the law again to the other 37")
    return 2 * x


def test_batch_refits_run_here_keep_their_notes_to_themselves(caplog):
    """A calibration's or backtest's refits printed "fitting the law again to the other 37" as if
    about the user's fit; their notes are held back, and the logger's level is restored."""
    from bayescale.inference.workers import run_tasks

    with caplog.at_level(logging.WARNING, logger="bayescale"):
        assert run_tasks(_noisy_task, [1, 2]) == [2, 4]
        assert "fitting the law again" not in caplog.text
        logging.getLogger("bayescale.results").warning("the user's own note")
    assert "the user's own note" in caplog.text
