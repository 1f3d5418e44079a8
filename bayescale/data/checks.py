"""Plausibility checks of a runs table: values no training run can have, and values that look
like the wrong unit. Errors stop the read; warnings go to the ``bayescale`` logger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from bayescale.errors import RunsError
from bayescale.laws.flops import training_flops

__all__ = ["check_plausible", "LIMITS", "LOSS_LIMIT"]

log = logging.getLogger("bayescale.data")

#: Largest believable value of each quantity: far beyond any model trained or planned.
LIMITS = {"N": 1e16, "D": 1e18, "C": 1e33, "U": 1e18}
#: Smallest value that does not look like a column in other units (billions of parameters, …).
SMALL = {"N": 1e5, "D": 1e6, "C": 1e12}
#: Largest believable loss in any supported unit: uniform guessing over a 1e6-token vocabulary
#: costs 13.8 nats or 19.9 bits per token; a value above this is a perplexity or a bug.
LOSS_LIMIT = 100.0
#: What uniform guessing costs, per unit: over a 1e6-token vocabulary (nats or bits a token), 256
#: byte values, 1e5 characters. A median loss above it is a perplexity, or a unit not declared.
UNIFORM_LOSS = {"nats/token": float(np.log(1e6)), "bits/token": float(np.log2(1e6)), "bits/byte": 8.0,
                "bits/char": float(np.log2(1e5))}
#: A run whose loss is this many times above or below the median of the table gets a warning.
OUTLIER_FACTOR = 3.0
#: Model sizes seen at a median of this many token counts or more look like training curves: final-loss
#: tables here have 1-9 (at most 16), the ColPret and (Mis)Fitting curves 73 and 717.
CURVE_POINTS = 30
#: Given C may differ from 6ND (attention FLOPs, other counting rules), but not by this factor.
C_MISMATCH = 10.0


def check_plausible(frame: pd.DataFrame, labels: pd.Series, source: str, columns: Mapping[str, str],
                    multipliers: Mapping[str, float], listed: Callable[[list[str]], str], hint: str,
                    loss_unit: str = "nats/token", run_names: Callable[[], Sequence[str]] = tuple) -> None:
    """Raise :class:`RunsError` for impossible values; log warnings for suspicious ones.

    Parameters
    ----------
    frame : DataFrame
        Columns N, D, C, loss (and U) in parameters, tokens and FLOPs, index ``0..n-1``.
    labels : Series
        The row label (``line 7``) of each row, same index.
    columns : mapping
        Our name -> the user's column, or ``"derived: …"``.
    multipliers : mapping
        Unit multipliers the user gave (``--n-unit`` …).
    listed, hint
        Formatting of row lists, and the advice appended to errors.
    loss_unit : str
        The loss's declared unit: a median above what uniform guessing costs in it gets a warning.
    run_names : callable
        Gives the table's columns that could name runs, offered to ``--last-per`` when the table
        looks like training curves (called only then).
    """
    for var in [v for v in ("N", "D", "C", "U") if v in frame]:
        values = frame[var].to_numpy()
        bad = ~np.isfinite(values) | (values > LIMITS[var])
        if bad.any():
            rows = [f"{labels[i]} ({var}={values[i]:.3g})" for i in np.flatnonzero(bad)]
            how = str(columns.get(var, ""))
            derived = f" (computed as {how.removeprefix('derived: ')})" if how.startswith("derived") else ""
            raise RunsError(f"{source} has {var} values{derived} beyond anything trained (> {LIMITS[var]:.0e} or overflowing): "
                            f"{listed(rows)}. Check the column and its unit. {hint}")
    loss = frame["loss"].to_numpy()
    bad = loss > LOSS_LIMIT
    if bad.any():
        rows = [f"{labels[i]} (loss={loss[i]:.3g})" for i in np.flatnonzero(bad)]
        raise RunsError(f"{source} has losses above {LOSS_LIMIT:g}, which no language model's cross-entropy reaches "
                        f"(is the column a perplexity, or scaled?): {listed(rows)}. "
                        f"Name the loss column with --loss-col and give its unit with --loss-unit (--loss-unit "
                        f"perplexity reads per-token perplexities as their natural log). {hint}")
    if "C" in columns and not str(columns["C"]).startswith("derived") and "D" in columns \
            and not str(columns["D"]).startswith("derived"):
        ratio = frame["C"].to_numpy() / training_flops(frame["N"].to_numpy(), frame["D"].to_numpy())
        off = (ratio > C_MISMATCH) | (ratio < 1 / C_MISMATCH)
        if off.any():
            rows = [f"{labels[i]} (C/(6ND)={ratio[i]:.3g})" for i in np.flatnonzero(off)]
            raise RunsError(f"{source}: the given compute C disagrees with 6·N·D by more than {C_MISMATCH:g}× in "
                            f"{int(off.sum())} run(s): {listed(rows)}. A column is probably in other units: give "
                            "them with --n-unit, --d-unit or --c-unit (e.g. --n-unit billion), or leave C out with "
                            "--c-col none (c_col='none' in Python; C is then 6ND).")
    median = float(np.median(loss))
    uniform = UNIFORM_LOSS.get(loss_unit)
    if uniform is not None and median > uniform:
        log.warning("%s: the median loss %.4g %s is more than uniform guessing costs (%.3g %s): is the column a "
                    "perplexity? Then read it as one with --loss-unit perplexity (its natural log, in nats/token), "
                    "or declare its unit with --loss-unit",
                    source, median, loss_unit, uniform, loss_unit)
    far = (loss > OUTLIER_FACTOR * median) | (loss < median / OUTLIER_FACTOR)
    if far.any():
        rows = [f"{labels[i]} (loss={loss[i]:.4g})" for i in np.flatnonzero(far)]
        log.warning("%s: %d loss(es) lie more than %g× from the median %.4g: %s; check them, or leave them out "
                    "with --exclude-where 'COLUMN>VALUE'", source, int(far.sum()), OUTLIER_FACTOR, median, listed(rows))
    if "N" in frame:  # compute and loss only: neither curves nor setups can be told apart by size
        per_size = frame.groupby("N")["D"].nunique()
        if per_size.median() >= CURVE_POINTS:
            names = run_names()
            log.warning("%s: its %d model sizes appear at a median of %d token counts each, as the checkpoints of "
                        "training curves do. The laws describe the final loss of runs trained to D, and a checkpoint "
                        "taken before a decaying learning rate has finished lies above it: keep each run's final "
                        "checkpoint (--last-per RUN_COLUMN, or --where COLUMN=VALUE), unless the schedule was "
                        "constant%s", source, per_size.size, int(per_size.median()),
                        f"; columns that may name the runs: {', '.join(repr(c) for c in names)}" if names else "")
        _warn_mixed_setups(frame, source)
    for var, least in SMALL.items():
        if var in frame and var not in multipliers and not str(columns.get(var, "")).startswith("derived"):
            if float(frame[var].max()) < least:
                log.warning("%s: every %s is below %.0e; if the column is in millions or billions, say so with "
                            "--%s-unit (e.g. --%s-unit billion)%s", source, var, least, var.lower(), var.lower(),
                            "; if it holds tokens per parameter, --d-unit per-param" if var == "D" else "")


#: Runs at the same N and D (and U, group, family) whose losses differ by more than this share are
#: not repeats of one setup by another seed (seeds differ by about 1%), when most repeats do so.
SETUP_SPREAD = 0.02


def _warn_mixed_setups(frame: pd.DataFrame, source: str) -> None:
    """Warn when most runs that repeat an (N, D) pair disagree in loss by more than seeds do: the
    table likely mixes setups (datasets, recipes), which one law should not be fitted to at once."""
    keys = [np.round(np.log10(frame[k]), 4) for k in ("N", "D", "U") if k in frame]
    keys += [frame[k] for k in ("group", "family") if k in frame]
    losses = frame.groupby(keys)["loss"]
    counts = losses.count()
    spread = (losses.max() / losses.min() - 1)[counts > 1]
    if len(spread) < 5 or (spread > SETUP_SPREAD).mean() <= 0.5:
        return
    example = frame.loc[losses.groups[spread.idxmax()]]
    log.warning("%s: %d of the %d (N, D) pairs that appear more than once differ in loss by more than %g%% (e.g. "
                "N = %.3g, D = %.3g: losses %.4g to %.4g), far more than seeds do: the table may mix setups "
                "(datasets, recipes), which one law should not be fitted to together; keep one (--where "
                "COLUMN=VALUE), or fit them as families (--family-col COLUMN)", source,
                int((spread > SETUP_SPREAD).sum()), len(spread), 100 * SETUP_SPREAD, example.N.iloc[0],
                example.D.iloc[0], example.loss.min(), example.loss.max())
