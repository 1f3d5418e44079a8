"""Sample a fit's chains one per shard, on forked processes when cores are free for them.

nutpie calls our log density through Python, which holds the interpreter's lock: its threads take
turns, so chains in one process run one at a time. PyMC's own sampler runs chains in separate
processes for the same reason. Here each chain is a shard with a seed of its own (the first keeps
the user's), and on Linux the shards are dealt out to as many processes as there are cores for
this process (at most one per chain): this one and children forked after the model is compiled,
so they start at once with the compiled code (a spawned process would import and compile again).
A child sends its draws back as NumPy arrays through a pipe (no pickle).

The shards do not depend on the machine: with one core, on another system, inside a pool of
worker processes, while another Python thread runs (a notebook's kernel: a fork would copy only
this one), or with ``BAYESCALE_CHAIN_PROCESSES=1`` in the environment, they run one after the
other in this process and give the same draws. A child that fails or stops answering is ended
and its shards sampled here instead, with the same result; a child whose parent ends is ended too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

__all__ = ["shard_settings", "run_shards", "processes", "forking_allowed", "ENVIRONMENT"]

log = logging.getLogger(__name__)

#: Set to 1 to run every shard in this process (the draws are the same); a pool's workers set it,
#: as the pool already uses the cores.
ENVIRONMENT = "BAYESCALE_CHAIN_PROCESSES"
#: Tags the seeds of shards so that they differ from the seeds of pooled batches of chains.
_SHARD_TAG = 0x5AD
#: A child that has not answered after this many times this process's own shards' time (at least
#: :data:`_PATIENCE_MIN` seconds) is taken to be stuck.
_PATIENCE = 20.0
_PATIENCE_MIN = 120.0


def shard_seed(seed: int, shard: int) -> int:
    """The seed of shard ``shard`` (> 0) of chains seeded by ``seed``; shard 0 keeps ``seed``."""
    return int(np.random.SeedSequence([int(seed), _SHARD_TAG, int(shard)]).generate_state(1)[0])


def shard_settings(settings: Any) -> list:
    """The sampler settings of each shard: one chain each, the first with the user's seed and
    progress bar, the others with derived seeds and none."""
    return [settings if settings.chains == 1 else replace(settings, chains=1)] + [
        replace(settings, chains=1, seed=shard_seed(settings.seed, i), progressbar=False)
        for i in range(1, settings.chains)]


def processes(shards: int) -> int:
    """How many processes sample ``shards`` shards here: one per core for this process, at most one
    per shard, on Linux; 1 (this one) where forking is not allowed (see :func:`forking_allowed`)."""
    return min(shards, len(os.sched_getaffinity(0))) if forking_allowed() else 1


def forking_allowed() -> bool:
    """Whether shards may run in forked processes here: Linux, at least two cores for this process,
    no other Python thread running (a fork copies only the calling thread, and a lock another one
    holds would stay locked in the child: notebooks' kernels, for one, run several), not in a
    pool's worker, and not turned off through :data:`ENVIRONMENT` (which a pool's workers set)."""
    if os.environ.get(ENVIRONMENT, "").strip() == "1" or threading.active_count() > 1:
        return False
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    return len(os.sched_getaffinity(0)) >= 2


def run_shards(run: Callable[[Any], Sequence[np.ndarray]], shards: Sequence[Any]) -> list[list[np.ndarray]]:
    """``run`` of each shard, in order. With :func:`processes` P > 1, process p (this one is 0,
    the others forked children) runs shards p, p + P, p + 2P, ... one after the other; else this
    process runs them all.

    Parameters
    ----------
    run : callable
        Shard settings -> its arrays (plain numeric NumPy arrays, the same number for every shard).
    shards : sequence
        From :func:`shard_settings`.
    """
    count = processes(len(shards))
    if count == 1:
        return [list(run(shard)) for shard in shards]
    dealt = [list(range(p, len(shards), count)) for p in range(count)]
    children = [_fork(run, [shards[i] for i in mine]) for mine in dealt[1:]]
    try:
        start = time.perf_counter()
        results = {i: list(run(shards[i])) for i in dealt[0]}
        patience = max(_PATIENCE_MIN, _PATIENCE * (time.perf_counter() - start))
        for mine, (pid, fd) in zip(dealt[1:], children):
            arrays = _collect(pid, fd, time.monotonic() + patience)
            if arrays is None or len(arrays) % len(mine):
                log.debug("a process sampling chains failed; sampling its chains here instead")
                arrays = [a for i in mine for a in run(shards[i])]
            each = len(arrays) // len(mine)
            results |= {i: arrays[k * each:(k + 1) * each] for k, i in enumerate(mine)}
        return [results[i] for i in range(len(shards))]
    finally:
        for pid, fd in children:
            _end(pid, fd)


def _fork(run: Callable[[Any], Sequence[np.ndarray]], shards: Sequence[Any]) -> tuple[int, int]:
    """Start ``run`` of each of ``shards`` in a child, one after the other; return its pid and the
    read end of the pipe on which it sends all their arrays."""
    read, write = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # what is buffered is written once, by the parent
        with contextlib.suppress(AttributeError, OSError, ValueError):  # no stream, or a closed one
            stream.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: sample, send, and leave without running any of the parent's cleanup
        code = 1
        try:
            _end_with(parent)
            os.close(read)
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (streams that are not files, too)
            buffer = io.BytesIO()
            arrays = [np.ascontiguousarray(a) for shard in shards for a in run(shard)]
            np.lib.format.write_array(buffer, np.array([len(arrays)]), allow_pickle=False)
            for array in arrays:
                np.lib.format.write_array(buffer, array, allow_pickle=False)
            with os.fdopen(write, "wb") as pipe:
                pipe.write(buffer.getvalue())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _end_with(parent: int) -> None:
    """Have the kernel end this child if its parent ends first (killed, say, before it could)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent ended before that took hold
        os._exit(1)


def _collect(pid: int, fd: int, deadline: float) -> list[np.ndarray] | None:
    """The arrays a child sent (it writes them only once it has them all), or None if it failed or
    did not finish by ``deadline``."""
    chunks = []
    poller = select.poll()  # not select.select, which cannot watch descriptors numbered over 1023
    poller.register(fd, select.POLLIN)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(remaining * 1000):
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    buffer = io.BytesIO(b"".join(chunks))
    try:
        count = int(np.lib.format.read_array(buffer, allow_pickle=False)[0])
        arrays = [np.lib.format.read_array(buffer, allow_pickle=False) for _ in range(count)]
    except (ValueError, EOFError, IndexError):
        return None
    return arrays if buffer.tell() == len(buffer.getbuffer()) else None


def _end(pid: int, fd: int) -> None:
    """Close the pipe, end the child if it still runs, and reap it."""
    try:
        os.close(fd)
    except OSError:
        pass
    try:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except ChildProcessError:  # reaped already (SIGCHLD ignored)
        pass
