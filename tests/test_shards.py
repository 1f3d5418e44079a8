"""Chains sampled in two shards give the same draws whether the second runs in a forked child or here."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from bayescale.inference import shards
from bayescale.inference.converge import _batch_seed
from bayescale.inference.sampling import SamplerSettings

forks = pytest.mark.skipif(not shards.forking_allowed(), reason="needs Linux with two cores")


def fake_run(shard):
    """Arrays that depend on the shard only, like a seeded sampler's draws."""
    rng = np.random.default_rng(shard.seed)
    return [rng.normal(size=(shard.chains, 5, 3)), np.full((shard.chains, 5), shard.chains, dtype=np.uint64)]


def same(a, b):
    return all(np.array_equal(x, y) and x.dtype == y.dtype for pa, pb in zip(a, b) for x, y in zip(pa, pb))


def test_each_chain_is_a_shard_with_its_own_seed():
    first, *others = shards.shard_settings(SamplerSettings(chains=5, seed=7, progressbar=True))
    assert [s.chains for s in (first, *others)] == [1] * 5
    assert first.seed == 7 and first.progressbar and not any(s.progressbar for s in others)
    seeds = {s.seed for s in others}
    assert len(seeds) == 4 and 7 not in seeds
    assert not seeds & {_batch_seed(7, k) for k in range(1, 6)}  # not the seed of a pooled batch
    assert shards.shard_settings(SamplerSettings(chains=1)) == [SamplerSettings(chains=1)]


@forks
def test_shards_are_dealt_to_one_process_per_core(monkeypatch):
    monkeypatch.setattr(shards.os, "sched_getaffinity", lambda pid: set(range(3)))
    assert shards.processes(8) == 3 and shards.processes(2) == 2
    parent = os.getpid()

    def run(shard):
        return [np.array([os.getpid() != parent]), np.array([shard.seed])]

    settings = shards.shard_settings(SamplerSettings(chains=7, seed=3))
    out = shards.run_shards(run, settings)
    assert [int(o[1][0]) for o in out] == [s.seed for s in settings]  # in order, whoever ran them
    assert [bool(o[0][0]) for o in out] == [False, True, True, False, True, True, False]


@forks
def test_forked_shards_equal_shards_run_here(monkeypatch):
    settings = shards.shard_settings(SamplerSettings(chains=4, seed=3))
    forked = shards.run_shards(fake_run, settings)
    monkeypatch.setenv(shards.ENVIRONMENT, "1")
    assert not shards.forking_allowed()
    assert same(forked, shards.run_shards(fake_run, settings))


@forks
def test_a_failed_child_shard_is_sampled_here():
    parent = os.getpid()

    def run(shard):
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return fake_run(shard)

    settings = shards.shard_settings(SamplerSettings(chains=4, seed=3))
    assert same(shards.run_shards(run, settings), [fake_run(s) for s in settings])


@forks
def test_a_stuck_child_is_ended_and_its_shard_sampled_here(monkeypatch):
    monkeypatch.setattr(shards, "_PATIENCE_MIN", 0.5)
    parent = os.getpid()
    seen = []

    def run(shard):
        if os.getpid() != parent:
            time.sleep(60)
        seen.append(shard.seed)
        return fake_run(shard)

    children = []
    fork = shards._fork
    monkeypatch.setattr(shards, "_fork", lambda *args: children.append(fork(*args)) or children[-1])
    settings = shards.shard_settings(SamplerSettings(chains=4, seed=3))
    start = time.perf_counter()
    assert same(shards.run_shards(run, settings), [fake_run(s) for s in settings])
    assert time.perf_counter() - start < 30 and sorted(seen) == sorted(s.seed for s in settings)
    with pytest.raises(ChildProcessError):  # the child was ended and reaped
        os.waitpid(children[0][0], os.WNOHANG)


def _forking_allowed(_):
    return shards.forking_allowed()


def test_a_pool_worker_runs_its_shards_here(monkeypatch):
    from bayescale.inference import workers

    monkeypatch.setenv(shards.ENVIRONMENT, "0")  # restored after the test, whatever the worker sets
    assert not workers._call((_forking_allowed, None))  # as the pool calls each task
    assert not shards.forking_allowed()
    parent = os.getpid()

    def run(shard):
        assert os.getpid() == parent
        return fake_run(shard)

    shards.run_shards(run, shards.shard_settings(SamplerSettings(chains=4)))


def test_raw_trace_keeps_draws_after_warm_up_and_fills_missing_statistics():
    """nutpie's raw trace, one Arrow batch of draws and one of statistics per chain, becomes
    ``(chain, draw, ndim)`` draws and ``(chain, draw)`` statistics of plain dtypes."""
    pyarrow = pytest.importorskip("pyarrow")
    from bayescale.inference.trace import FLAT, SAMPLE_STATS, from_raw

    def batches(chain):
        rows = 5
        draws = pyarrow.record_batch({FLAT: pyarrow.array([[chain, float(i)] for i in range(rows)])})
        stats = {name: pyarrow.array([0.5] * rows) for name in SAMPLE_STATS}
        stats |= {"tuning": pyarrow.array([True, True, False, False, False]),
                  "diverging": pyarrow.array([None, False, True, None, False], type=pyarrow.bool_()),
                  "depth": pyarrow.array([1, 2, None, 3, 4], type=pyarrow.uint64()),
                  "energy_error": pyarrow.array([0.1, 0.2, None, 0.3, 0.4])}
        return draws, pyarrow.record_batch(stats)

    class Raw:
        def get_arrow_trace(self):
            pairs = [batches(c) for c in range(2)]
            return [d for d, _ in pairs], [s for _, s in pairs]

    flat, *stats = from_raw(Raw(), 2)
    stats = dict(zip(SAMPLE_STATS, stats))
    assert flat.shape == (2, 3, 2) and flat[1, :, 0].tolist() == [1, 1, 1] and flat[0, :, 1].tolist() == [2, 3, 4]
    assert stats["diverging"].dtype == bool and stats["diverging"][0].tolist() == [True, False, False]
    assert stats["depth"].dtype == np.uint64 and stats["depth"][0].tolist() == [0, 3, 4]
    assert np.isnan(stats["energy_error"][0, 0]) and stats["energy_error"][0, 1] == 0.3


def test_raw_trace_of_chains_stopped_before_any_draw():
    """Interrupted in warm-up (Ctrl-C: nutpie returns what it has), chains have no draws yet: an
    empty ``(chain, 0, ndim)`` array, which :func:`~bayescale.inference.sampling.sample` takes as
    the interruption it is."""
    pyarrow = pytest.importorskip("pyarrow")
    from bayescale.inference.trace import FLAT, SAMPLE_STATS, from_raw

    empty = pyarrow.array([], type=pyarrow.large_list(pyarrow.float64()))

    class Raw:
        def get_arrow_trace(self):
            stats = {name: pyarrow.array([], type=pyarrow.float64()) for name in SAMPLE_STATS}
            stats["tuning"] = pyarrow.array([], type=pyarrow.bool_())
            return [pyarrow.record_batch({FLAT: empty})] * 2, [pyarrow.record_batch(stats)] * 2

    flat, *stats = from_raw(Raw(), 3)
    assert flat.shape == (2, 0, 3) and all(s.shape == (2, 0) for s in stats)


@forks
def test_a_pipe_numbered_over_1023():
    """A process holding many files (a long batch of fits) gets pipes numbered past what
    ``select.select`` can watch."""
    import resource

    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 1200:
        pytest.skip("this process may not open 1,200 files")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        settings = shards.shard_settings(SamplerSettings(chains=4, seed=3))
        assert same(shards.run_shards(fake_run, settings), [fake_run(s) for s in settings])
    finally:
        for fd in held:
            os.close(fd)


def test_one_core_runs_every_chain_here(monkeypatch):
    monkeypatch.setattr(shards.os, "sched_getaffinity", lambda pid: {0}, raising=False)  # absent off Linux
    assert not shards.forking_allowed() and shards.processes(4) == 1
    parent = os.getpid()

    def run(shard):
        assert os.getpid() == parent
        return fake_run(shard)

    settings = shards.shard_settings(SamplerSettings(chains=4, seed=2))
    assert same(shards.run_shards(run, settings), [fake_run(s) for s in settings])
