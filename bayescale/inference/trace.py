"""The draws nutpie returns, as named values with their dims: its raw Arrow trace to NumPy arrays
(:func:`from_raw`), and the arrays of the shards of a fit's chains to one ``DataTree``
(:func:`to_tree`: posterior and sample statistics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from bayescale.inference.sampling import CompiledModel

__all__ = ["FLAT", "SAMPLE_STATS", "from_raw", "to_tree"]

#: The one variable the sampler stores: each draw's flat unconstrained vector.
FLAT = "_unconstrained"

#: The sampler statistics kept, the standard diagnostics (nutpie reports more: its adaptation's
#: internals, and the divergences' messages and positions as strings and arrays).
SAMPLE_STATS = ("diverging", "depth", "maxdepth_reached", "n_steps", "step_size", "mean_tree_accept",
                "energy", "energy_error", "max_energy_error", "logp")


def from_raw(raw: Any, ndim: int) -> list[np.ndarray]:
    """The draws after warm-up, ``(chain, draw, ndim)``, then each of :data:`SAMPLE_STATS`,
    ``(chain, draw)``, from nutpie's raw trace (one Arrow batch of draws and one of statistics per
    chain, warm-up rows flagged)."""
    import pyarrow

    def column(batch, name: str) -> np.ndarray:
        values = pyarrow.array(batch.column(name))
        if values.null_count:  # a statistic a draw lacks: NaN, or no (flags) and 0 (counts)
            kind = values.type
            values = values.fill_null(False if pyarrow.types.is_boolean(kind) else
                                      0 if pyarrow.types.is_integer(kind) else float("nan"))
        return values.to_numpy(zero_copy_only=False)

    draw_batches, stat_batches = raw.get_arrow_trace()
    flats, columns = [], {name: [] for name in SAMPLE_STATS}
    for draws, stats in zip(draw_batches, stat_batches):
        kept = ~column(stats, "tuning").astype(bool)
        flat = pyarrow.array(draws.column(FLAT)).flatten().to_numpy(zero_copy_only=False)
        flats.append(flat.reshape(draws.num_rows, ndim)[kept])
        for name in SAMPLE_STATS:
            columns[name].append(column(stats, name)[kept])
    length = min(len(f) for f in flats)
    return [np.stack([f[:length] for f in flats]), *(np.stack([v[:length] for v in columns[name]]) for name in SAMPLE_STATS)]


def _nutpie_version() -> str:
    from importlib.metadata import version

    return version("nutpie")


def _posterior(compiled: CompiledModel, flat: np.ndarray) -> xr.Dataset:
    """The named variables, with their dims and coordinates, of every draw of ``flat``
    (``(chain, draw, ndim)``), computed in one call."""
    chains, draws = flat.shape[:2]
    values = compiled.expand(np.ascontiguousarray(flat.reshape(chains * draws, -1), dtype=np.float64))
    variables, coords = {}, {"chain": np.arange(chains), "draw": np.arange(draws)}
    for name, shape, value in zip(compiled.names, compiled.shapes, values):
        dims = compiled.dims.get(name) or tuple(f"{name}_dim_{i}" for i in range(len(shape)))
        variables[name] = (("chain", "draw", *dims), np.asarray(value, dtype=np.float64).reshape(chains, draws, *shape))
        coords |= {d: compiled.coords[d] for d in dims if d in compiled.coords}
    return xr.Dataset(variables, coords=coords)


def to_tree(compiled: CompiledModel, pieces: list[list[np.ndarray]]) -> xr.DataTree:
    """One ``DataTree`` (``posterior``, ``sample_stats``) of the chains of every piece, each from
    :func:`from_raw` with every draw asked for (a sampler cut short raises instead), numbered in order."""
    flat = np.concatenate([piece[0] for piece in pieces])
    coords = {"chain": np.arange(flat.shape[0]), "draw": np.arange(flat.shape[1])}
    stats = xr.Dataset({name: (("chain", "draw"), np.concatenate([piece[1 + i] for piece in pieces]))
                        for i, name in enumerate(SAMPLE_STATS)}, coords=coords)
    stats.attrs = {"inference_library": "nutpie", "inference_library_version": _nutpie_version()}
    return xr.DataTree.from_dict({"posterior": _posterior(compiled, flat), "sample_stats": stats})
