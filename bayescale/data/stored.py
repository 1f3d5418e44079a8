"""Runs as a saved file keeps them: the frame's columns on dim ``run``, the rest as attributes.

Fits (``constant_data``) and isoFLOP analyses store their runs this way, so that a loaded file
gives back a :class:`~bayescale.data.runs.Runs` with the same data hash as the one fitted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.data.runs import FRAME_COLUMNS, Runs

__all__ = ["runs_attributes", "runs_dataset", "stored_runs"]


def runs_attributes(runs: Runs) -> dict[str, Any]:
    """The description of ``runs`` (source, hash, columns, units, levels …) as netCDF attributes."""
    return {
        "data_source": runs.source,
        "data_hash": runs.data_hash,
        "data_columns_json": json.dumps(runs.columns),
        "data_excluded": runs.excluded,
        "data_multipliers_json": json.dumps(runs.multipliers),
        "data_levels_json": json.dumps({d: list(v) for d, v in runs.levels.items()}),
        "loss_unit": runs.loss_unit,
        "n_convention": runs.n_convention,
        "data_selection": runs.selection,
        "data_notes_json": json.dumps(list(runs.notes)),
    }


def runs_dataset(runs: Runs) -> xr.Dataset:
    """The columns of ``runs.frame`` as variables on dim ``run``."""
    return xr.Dataset({name: ("run", runs.frame[name].to_numpy()) for name in runs.frame},
                      coords={"run": np.arange(runs.n_runs)})


def stored_runs(columns: xr.Dataset, attrs: Mapping[str, Any]) -> Runs:
    """The :class:`Runs` that :func:`runs_dataset` and :func:`runs_attributes` saved.

    ``columns`` may hold other variables on dim ``run``; only the frame's are read.
    """
    levels = {k: tuple(v) for k, v in json.loads(attrs.get("data_levels_json", "{}")).items()}
    names = [k for k in columns.data_vars if k in (*FRAME_COLUMNS, "U") or k in levels]
    frame = pd.DataFrame({k: columns[k].to_numpy().astype(np.int64 if k in levels else np.float64) for k in names})
    return Runs(frame=frame, source=str(attrs["data_source"]), columns=json.loads(attrs.get("data_columns_json", "{}")),
                loss_unit=str(attrs["loss_unit"]), excluded=int(attrs.get("data_excluded", 0)),
                multipliers=json.loads(attrs.get("data_multipliers_json", "{}")), levels=levels,
                n_convention=str(attrs.get("n_convention", "unstated")), selection=str(attrs.get("data_selection", "")),
                notes=tuple(json.loads(attrs.get("data_notes_json", "[]"))))
