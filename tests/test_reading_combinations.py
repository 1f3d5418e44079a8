"""Every combination of reading options on tables of every shape ends in runs or in a clear
``BayescaleError``, never another exception (this is how a ``KeyError`` of ``--d-unit per-param``
without a D column was found)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
from conftest import ROOT

from bayescale.data.reading import runs_from_frame
from bayescale.errors import BayescaleError
from bayescale.inference.model import scales_of
from bayescale.laws.extrapolation import distances

OPTIONS = {"n_col": [None, "N", "none", "x"], "d_col": [None, "D", "tpp", "none"], "c_col": [None, "C", "none"],
           "units": [None, {"D": "per-param"}, {"N": "log10"}, {"C": 1e3}, {"N": "per-param"}],
           "family_col": [None, "fam"], "group_col": [None, "fam"], "last_per": [(), ("fam",)],
           "drop_duplicates": [False, True], "loss_unit": [None, "perplexity", "bits/token"],
           "where": [(), ("N>1e8",), ("C>=1e19",)], "exclude_where": [(), ("N=",), ("C<1e18",), ("fam=a",)],
           "u_col": [None, "U", "D"]}


def _tables() -> dict[str, pd.DataFrame]:
    base = pd.read_csv(ROOT / "data" / "example_runs.csv")
    ratio = base.assign(tpp=base.D / base.N)
    return {"full": base, "noC": base[["N", "D", "loss"]], "noN": base[["C", "D", "loss"]],
            "noD": base[["N", "C", "loss"]], "Conly": base[["C", "loss"]], "tpp": ratio[["N", "tpp", "loss"]],
            "Ctpp": ratio[["C", "tpp", "loss"]], "fam": base.assign(fam=np.where(base.N > 1e8, "a", "b")),
            "U": base.assign(U=base.D / 2)}


def test_every_combination_of_reading_options_ends_in_runs_or_a_clear_error():
    tables, rng = _tables(), random.Random(2026)
    read, refused = 0, 0
    for _ in range(2000):
        name = rng.choice(sorted(tables))
        options = {key: rng.choice(values) for key, values in OPTIONS.items() if rng.random() < 0.3}
        options = {key: value for key, value in options.items() if value not in (None, (), False)}
        try:
            runs = runs_from_frame(tables[name], **options)
            runs.describe(), runs.data_hash, scales_of(runs)
            distances(runs, C=[1e22]), distances(runs, N=[1e9], D=[2e10])
            read += 1
        except BayescaleError:
            refused += 1
    assert read > 300 and refused > 300  # both kinds of outcome were exercised
