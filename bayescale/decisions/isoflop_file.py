"""Save and load isoFLOP analyses as netCDF, with provenance, like fits.

Layout (``bayescale_isoflop`` schema 2): one Dataset with the draws of the power law
(``a, b, G, A, tau, sigma``, dim ``sample``) and of each budget's minimum and curvature (``N_opt,
D_opt, L_opt, k``, dims ``sample, budget``), the budgets and their run counts, and the runs
analysed (their columns and ``budget_index`` on dim ``run``, as :mod:`bayescale.data.stored`
keeps them); the root attributes hold the tolerance, loss unit, gates, notes, provenance (data
source and hash, sampler settings, versions, creation time, an id) and the runs' description.

Schema 1 (no ``k``, no runs) still loads; such an analysis cannot be weighed against laws.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from bayescale.data.stored import runs_attributes, runs_dataset, stored_runs
from bayescale.errors import FitFileError
from bayescale.files import atomic_path, read_netcdf
from bayescale.inference.gates import Gates

if TYPE_CHECKING:
    from bayescale.decisions.isoflop import IsoflopFit

__all__ = ["save_isoflop", "load_isoflop", "is_isoflop_file", "ISOFLOP_SCHEMA"]

#: Version of the saved isoFLOP layout.
ISOFLOP_SCHEMA = 2
_SCALARS = ("a", "b", "G", "A", "tau", "sigma")
_PER_BUDGET = ("N_opt", "D_opt", "L_opt")


def isoflop_id(provenance: dict) -> str:
    """A short id from the data hash, tolerance and sampler settings."""
    key = {k: provenance.get(k) for k in ("data_hash", "tolerance", "sampler")}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def is_isoflop_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a readable file that :func:`save_isoflop` wrote (by its root attribute)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            return "bayescale_isoflop" in handle.attrs
    except Exception:  # missing, a folder, not HDF5: not an isoFLOP file; its reader says why
        return False


def save_isoflop(result: IsoflopFit, path: str | os.PathLike) -> Path:
    """Write ``result`` to netCDF atomically; an existing file is replaced only when all is written."""
    data = {k: ("sample", np.asarray(getattr(result, k))) for k in _SCALARS}
    data |= {k: (("sample", "budget"), np.asarray(getattr(result, k))) for k in _PER_BUDGET}
    data["runs_per_budget"] = ("budget", np.asarray(result.runs_per_budget, dtype=np.int64))
    ds = xr.Dataset(data, coords={"budget": np.asarray(result.budgets, dtype=float)})
    extra = {}
    if result.k is not None and result.runs is not None and result.budget_index is not None:
        ds["k"] = (("sample", "budget"), np.asarray(result.k))
        ds = ds.merge(runs_dataset(result.runs))
        ds["budget_index"] = ("run", np.asarray(result.budget_index, dtype=np.int64))
        extra = runs_attributes(result.runs)
    ds.attrs = {**extra, "bayescale_isoflop": ISOFLOP_SCHEMA, "tolerance": float(result.tolerance),
                "loss_unit": result.loss_unit, "gates_json": json.dumps(result.gates.to_dict()),
                "notes_json": json.dumps(list(result.notes)), "provenance_json": json.dumps(result.provenance)}
    path = Path(path)
    with atomic_path(path, "isoFLOP file") as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return path


def load_isoflop(path: str | os.PathLike) -> IsoflopFit:
    """Read an analysis written by :func:`save_isoflop`.

    Raises
    ------
    FitFileError
        If the file is missing, unreadable, not an isoFLOP analysis, or of a newer schema.
    """
    from bayescale.decisions.isoflop import IsoflopFit

    path = Path(path)
    ds = read_netcdf(path, "isoFLOP file", f"bayescale isoflop RUNS --out {path}", tree=False)
    schema = ds.attrs.get("bayescale_isoflop")
    if schema is None:
        if ds.attrs.get("bayescale_schema") is not None:
            raise FitFileError(f"{path} is a fit of a law (bayescale fit --out), not an isoFLOP analysis: ask it with "
                               f"bayescale optimum {path} --compute C (bs.Fit.load in Python); the isoFLOP analysis "
                               "takes the runs table (bayescale isoflop RUNS)")
        raise FitFileError(f"{path} is netCDF but not a bayescale isoFLOP analysis: make one with "
                           "bayescale isoflop RUNS --out FILE")
    if int(schema) > ISOFLOP_SCHEMA:
        raise FitFileError(f"{path} has isoFLOP schema {schema}; this bayescale reads {ISOFLOP_SCHEMA}: upgrade bayescale")
    missing = sorted({*_SCALARS, *_PER_BUDGET, "runs_per_budget"} - set(ds.data_vars))
    missing += sorted({"tolerance", "loss_unit", "gates_json", "notes_json", "provenance_json"} - set(ds.attrs))
    if missing:
        raise FitFileError(f"{path} lacks {', '.join(missing)}: it is damaged; run 'bayescale isoflop RUNS --out {path}' "
                           "again")
    stored = {}
    if "k" in ds and "budget_index" in ds:
        stored = {"k": ds["k"].to_numpy(), "runs": stored_runs(ds, ds.attrs), "budget_index": ds["budget_index"].to_numpy()}
        if stored["runs"].data_hash != ds.attrs.get("data_hash"):
            raise FitFileError(f"{path}: the stored runs do not match the stored data hash; the file was altered")
    return IsoflopFit(**{k: ds[k].to_numpy() for k in (*_SCALARS, *_PER_BUDGET)}, **stored,
                      budgets=ds["budget"].to_numpy(), runs_per_budget=ds["runs_per_budget"].to_numpy(),
                      tolerance=float(ds.attrs["tolerance"]), gates=Gates.from_dict(json.loads(ds.attrs["gates_json"])),
                      loss_unit=str(ds.attrs["loss_unit"]), notes=tuple(json.loads(ds.attrs["notes_json"])),
                      provenance=json.loads(ds.attrs["provenance_json"]))
