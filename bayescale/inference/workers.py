"""Run many independent fits on a pool of processes, or on Ray or Dask when the user has them.

A task is a picklable function and its argument. Results come back in the order of the tasks
and do not depend on the engine or the number of workers: a task's randomness comes only from
its seed, which :func:`task_seed` derives from the user's seed and the task's index.

PyTensor compilation is not thread-safe and its compile folder is locked while in use, so each
worker process compiles into a folder of its own (under :func:`bayescale.files.cache_dir`),
and within a process a compiled model is reused for every task of the same law.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from bayescale.errors import BayescaleError

__all__ = ["ENGINES", "quiet_notes", "run_tasks", "task_seed"]

#: Engines :func:`run_tasks` knows: the local process pool, and two optional extras.
ENGINES = ("local", "ray", "dask")


def task_seed(seed: int, index: int) -> int:
    """The seed of task ``index`` in a batch seeded by ``seed`` (independent streams per task)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


@contextmanager
def quiet_notes() -> Iterator[None]:
    """Hold back bayescale's notes (warnings) while refits the user did not ask for one by one run
    (backtests, calibration, stacking weights): a refit's "fitting the law again to the other 37"
    would read as if it were about the user's fit. Errors still show."""
    logger = logging.getLogger("bayescale")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _own_compile_folder() -> None:
    """Give this worker process a PyTensor compile folder of its own (before PyTensor is imported)."""
    if "pytensor" in sys.modules or "PYTENSOR_FLAGS" in os.environ:
        return
    from bayescale.files import cache_dir

    os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={cache_dir() / 'workers' / str(os.getpid())}"


def _call(job: tuple[Callable[[Any], Any], Any]) -> Any:
    from bayescale.inference.shards import ENVIRONMENT

    function, argument = job
    _own_compile_folder()
    os.environ[ENVIRONMENT] = "1"  # the pool's processes use the cores: a fit's chains run one after the other
    return function(argument)


def run_tasks(function: Callable[[Any], Any], arguments: Sequence[Any], workers: int = 1, engine: str = "local") -> list:
    """Apply ``function`` to each argument, on ``workers`` processes, and return the results in order.

    Parameters
    ----------
    function : callable
        A module-level function (it is sent to other processes).
    arguments : sequence
        One picklable argument per task.
    workers : int
        Processes to use; 1 runs the tasks here, one after the other, reusing compiled models.
    engine : {"local", "ray", "dask"}
        ``"local"``: a pool of fresh processes on this machine. ``"ray"``: ``ray.util.multiprocessing``
        (``pip install bayescale[ray]``). ``"dask"``: the current ``dask.distributed`` client, or a
        local cluster of ``workers`` processes (``pip install bayescale[dask]``).
    """
    if engine not in ENGINES:
        raise BayescaleError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if not isinstance(workers, int) or workers < 1:
        raise BayescaleError(f"workers must be a whole number ≥ 1, got {workers!r}")
    jobs = [(function, argument) for argument in arguments]
    if engine == "local" and (workers == 1 or len(jobs) <= 1):
        with quiet_notes():  # worker processes have no handler to print them
            return [function(argument) for argument in arguments]
    if engine == "local":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: a fresh interpreter per worker, never a fork of a process holding compiled code
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(_call, jobs))
    if engine == "ray":
        try:
            from ray.util.multiprocessing import Pool
        except ImportError:
            raise BayescaleError("the ray engine needs Ray: pip install 'bayescale[ray]'") from None
        with Pool(processes=workers) as pool:
            return pool.map(_call, jobs)
    try:
        from dask.distributed import Client, get_client
    except ImportError:
        raise BayescaleError("the dask engine needs dask.distributed: pip install 'bayescale[dask]'") from None
    try:
        client, own = get_client(), False
    except ValueError:
        client, own = Client(n_workers=workers, threads_per_worker=1, processes=True), True
    try:
        return client.gather(client.map(_call, jobs, pure=False))
    finally:
        if own:
            client.close()
