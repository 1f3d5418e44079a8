"""Reading a table of training runs: its columns found, its rows filtered, checked and derived
into :class:`bayescale.data.runs.Runs`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from bayescale.data.checks import check_plausible
from bayescale.data.columns import OPTIONS, map_columns, optional_u
from bayescale.data.conventions import LOSS_UNITS
from bayescale.data.notation import suffixed_numbers
from bayescale.data.runs import FIX_HINT, FRAME_COLUMNS, UNITS, Runs, _listed, check_n_convention
from bayescale.data.tables import filter_mask, last_checkpoints, read_table
from bayescale.errors import RunsError
from bayescale.laws.flops import params_for_compute, tokens_for_compute, training_flops
from bayescale.notes import collect_notes

__all__ = ["PERPLEXITY", "read_runs", "runs_from_frame"]

log = logging.getLogger("bayescale.data")

#: The loss unit that reads a column of per-token perplexities as their natural log (nats/token).
PERPLEXITY = "perplexity"


def _perplexity_to_loss(ppl: pd.Series, labels: pd.Series, col: str, source: str) -> pd.Series:
    """Per-token perplexities as losses, ln(ppl) in nats/token; a perplexity is at least 1."""
    below = ppl < 1.0
    if below.any():
        rows = [f"{labels[i]} ({col}={ppl[i]:g})" for i in ppl.index[below]]
        raise RunsError(f"{source}: --loss-unit perplexity reads '{col}' as perplexities, which are at least 1: "
                        f"{_listed(rows)}. Is the column a loss already? Then give its unit instead. {FIX_HINT}")
    log.warning("reading column '%s' as per-token perplexities: the loss is their natural log, in nats/token", col)
    return np.log(ppl)


def _keeping_notes(read: Callable[..., Runs]) -> Callable[..., Runs]:
    """``read``, whose runs keep the notes given while they were read (``Runs.notes``)."""

    @functools.wraps(read)
    def reading(*args: Any, **kwargs: Any) -> Runs:
        with collect_notes() as notes:
            runs = read(*args, **kwargs)
        return replace(runs, notes=tuple(notes))

    return reading


@_keeping_notes
def read_runs(
    path: str | os.PathLike,
    *,
    n_col: str | None = None,
    d_col: str | None = None,
    c_col: str | None = None,
    loss_col: str | None = None,
    exclude_where: Sequence[str] = (),
    loss_unit: str | None = None,
    u_col: str | None = None,
    units: dict[str, float | str] | None = None,
    group_col: str | None = None,
    family_col: str | None = None,
    where: Sequence[str] = (),
    n_convention: str = "unstated",
    last_per: Sequence[str] = (),
    drop_duplicates: bool = False,
) -> Runs:
    """Read runs from a CSV/TSV/Parquet file, map its columns and validate every row.

    Parameters
    ----------
    path : str or os.PathLike
        The file; see ``bayescale.data.tables.FORMATS`` for the accepted extensions.
    n_col, d_col, c_col, loss_col : str, optional
        Column names for N, D, C and loss; detected from common names when omitted.
    exclude_where : sequence of str
        Conditions ``"COLUMN=VALUE"`` (or ``!=``, ``<``, ``<=``, ``>``, ``>=``); a row matching any
        of them is left out.
    loss_unit : str, optional
        Unit of the loss column, one of ``LOSS_UNITS``, or ``"perplexity"`` (per token: read as its
        natural log, in nats/token). By default nats/token, or bits/byte (bits/char) for a loss
        column named so (``bpb``, ``val_bpb``, ``bpc``), with a note.
    where : sequence of str
        Conditions of the same form; only rows matching all of them are kept
        (``where=["setup=porian_a", "epochs>1"]``).
    u_col : str, optional
        Column of unique training tokens U, for data-constrained laws; detected from
        ``CANDIDATES["U"]`` when omitted, and absent from the runs when no column matches.
        U may exceed D (no repetition).
    units : dict, optional
        Column units as multipliers, for columns not in parameters, tokens or FLOPs: e.g.
        ``{"N": 1e9, "D": "trillion"}`` for N in billions and D in trillions (see
        :func:`bayescale.data.notation.parse_unit`). Keys among ``N, D, C, U``.
    group_col, family_col : str, optional
        Columns of labels (any values, read as text) that say which group or family each run
        belongs to, for laws with per-group or per-family parameters.
    n_convention : {"unstated", "total", "non-embedding"}
        How the N column counts parameters (with or without the embeddings); recorded with
        the fit and checked when fits or published constants are compared.
    last_per : sequence of str
        Columns that name a run (e.g. ``["run_id"]``) in a table of training curves: of the rows
        that share their values, only the one with the most tokens (compute, without D) is kept,
        the run's final checkpoint. Applied after the row filters.
    drop_duplicates : bool
        Keep the first of runs that repeat one another exactly (same N, D, C, U and loss), with a
        note, instead of refusing the table.

    Returns
    -------
    Runs

    Raises
    ------
    RunsError
        If the file cannot be read or the table fails validation.
    """
    df, kind = read_table(path, "runs")
    df = df.reset_index(drop=True)
    first = 2 + df.attrs.get("comment_lines", 0) if kind == "csv" else 1  # line 1 is the header, or a comment
    label = {"csv": "line", "jsonl": "line", "json": "run"}.get(kind, "row")
    labels = pd.Series([f"{label} {i + first}" for i in range(len(df))])
    return _build(df, labels, str(path), n_col=n_col, d_col=d_col, c_col=c_col, loss_col=loss_col,
                  exclude_where=exclude_where, loss_unit=loss_unit, u_col=u_col, units=units, group_col=group_col,
                  family_col=family_col, where=where, n_convention=n_convention, last_per=last_per,
                  drop_duplicates=drop_duplicates)


@_keeping_notes
def runs_from_frame(
    df: pd.DataFrame,
    *,
    n_col: str | None = None,
    d_col: str | None = None,
    c_col: str | None = None,
    loss_col: str | None = None,
    exclude_where: Sequence[str] = (),
    loss_unit: str | None = None,
    source: str = "<DataFrame>",
    u_col: str | None = None,
    units: dict[str, float | str] | None = None,
    group_col: str | None = None,
    family_col: str | None = None,
    where: Sequence[str] = (),
    n_convention: str = "unstated",
    last_per: Sequence[str] = (),
    drop_duplicates: bool = False,
) -> Runs:
    """Build validated ``Runs`` from a DataFrame; same rules as :func:`read_runs`.

    Offending rows are named ``"row <index label>"``.
    """
    df = df.copy()
    labels = pd.Series([f"row {label}" for label in df.index])
    df = df.reset_index(drop=True)
    return _build(df, labels, source, n_col=n_col, d_col=d_col, c_col=c_col, loss_col=loss_col,
                  exclude_where=exclude_where, loss_unit=loss_unit, u_col=u_col, units=units, group_col=group_col,
                  family_col=family_col, where=where, n_convention=n_convention, last_per=last_per,
                  drop_duplicates=drop_duplicates)


def _build(df: pd.DataFrame, labels: pd.Series, source: str, *, n_col: str | None, d_col: str | None,
           c_col: str | None, loss_col: str | None, exclude_where: Sequence[str], loss_unit: str | None,
           u_col: str | None, units: dict[str, float | str] | None, group_col: str | None,
           family_col: str | None, where: Sequence[str], n_convention: str, last_per: Sequence[str],
           drop_duplicates: bool) -> Runs:
    """Map columns, apply exclusions, validate and derive; shared by both entry points (the
    options are theirs, by name)."""
    label_cols = {"group": group_col, "family": family_col}
    if loss_unit is not None and loss_unit not in (*LOSS_UNITS, PERPLEXITY):
        raise RunsError(f"unknown loss unit {loss_unit!r}; allowed: {', '.join(LOSS_UNITS)}, or {PERPLEXITY} "
                        "(per token: read as its natural log, in nats/token).")
    from_perplexity = loss_unit == PERPLEXITY
    loss_unit = "nats/token" if from_perplexity else loss_unit
    check_n_convention(n_convention)
    if isinstance(exclude_where, str):
        exclude_where = [exclude_where]
    given = {"N": n_col, "D": d_col, "C": c_col, "loss": loss_col, "U": u_col}
    found = map_columns(df, given, label_cols, source, units or {}, loss_unit, n_convention)
    mapped, label_cols, multipliers, logs = found.mapped, found.labels, found.multipliers, found.logs
    loss_unit, n_convention, per_param = found.loss_unit, found.n_convention, found.per_param

    blank = df.isna().all(axis=1)  # a spreadsheet's trailing ',,,' lines hold no run
    if blank.any():
        log.warning("%s: left out %d empty line(s) (%s)", source, int(blank.sum()), _listed(list(labels[blank])))
        df, labels = df.loc[~blank], labels.loc[~blank]
    where = [where] if isinstance(where, str) else list(where or ())
    mask = filter_mask(df, exclude_where, where)
    excluded = int(mask.sum())
    df, labels = df.loc[~mask], labels.loc[~mask]
    if len(df) == 0:
        why = f" after leaving out {excluded} rows with --exclude-where / --where" if excluded else ""
        raise RunsError(f"no runs in {source}{why}; the table needs at least one data row.")

    if given["U"] is None and mapped["U"] is not None:
        mapped["U"] = optional_u(df[mapped["U"]], mapped["U"])
    present = {var: col for var, col in mapped.items() if col is not None}
    values, bad_text, missing, infinite, nonpositive = {}, [], [], [], []
    for var, col in present.items():
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce").astype(np.float64)
        if var in UNITS and (num.isna() & raw.notna()).any():  # '125M', '1.3B', '2T' as people write sizes
            spelled = suffixed_numbers(raw)
            if spelled is not None:
                num = spelled  # NaN where a cell reads neither way, or is empty
                first = spelled.first_valid_index()
                log.warning("reading column '%s' as sizes are written (suffixes K = 1e3, M = 1e6, B = 1e9, T = 1e12; "
                            "thousands separated by commas), e.g. %r as %g", col, str(raw[first]), spelled[first])
        if var in logs:  # a column of log10 values (OPT's trajectories give tokens and FLOPs so)
            with np.errstate(over="ignore"):
                num = np.power(10.0, num)  # an overflow is reported as an infinite value below
        values[var] = num
        for i in df.index[num.isna() & raw.notna()]:
            bad_text.append(f"{labels[i]} ({col}={str(raw[i])!r})")
        missing += [f"{labels[i]} ({col})" for i in df.index[raw.isna()]]
        infinite += [f"{labels[i]} ({col}={num[i]})" for i in df.index[np.isinf(num)]]
        nonpositive += [f"{labels[i]} ({col}={num[i]:g})" for i in df.index[num <= 0]]
    for kind, found in (("values that are not numbers", bad_text), ("missing or NaN values", missing),
                        ("infinite values", infinite),
                        ("values that are zero or negative (N, D, C, U and loss must be > 0)", nonpositive)):
        if found:
            fix = FIX_HINT
            if found is missing:  # an empty cell is matched by 'COLUMN=' (a value of the column is not)
                leave = " ".join(f"--exclude-where '{col}='" for col in present.values() if df[col].isna().any())
                fix = f"Fill them in, or leave those rows out with {leave}."
            raise RunsError(f"{source} has {kind}: {_listed(found)}. {fix}")

    for var, factor in multipliers.items():
        values[var] = values[var] * factor
    if from_perplexity:
        values["loss"] = _perplexity_to_loss(values["loss"], labels, mapped["loss"], source)
    selection = ""
    if last_per:
        keep, selection = last_checkpoints(df, values["D" if "D" in values else "C"], last_per, source)
        df, labels, values = df.loc[keep], labels.loc[keep], {var: v.loc[keep] for var, v in values.items()}
    columns = dict(present) | {var: f"10^{present[var]}" for var in logs}
    if per_param:  # tokens per parameter, as over-training studies give the data budget
        ratio, col = values["D"], columns["D"]
        if "N" not in values:  # with C = 6ND = 6 r N²: N = sqrt(C / 6r)
            values["N"] = np.sqrt(params_for_compute(values["C"], ratio))
            columns["N"] = f"derived: √(C/(6·{col}))"
        values["D"] = ratio * values["N"]
        columns["D"] = f"derived: N × {col}"
    if "C" not in values:
        with np.errstate(over="ignore"):  # an overflow is reported by check_plausible
            values["C"] = training_flops(values["N"], values["D"])
        columns["C"] = "derived: 6ND"
    if "N" not in values and "D" not in values:  # compute and loss only: the laws in compute alone
        log.warning("%s gives compute and loss only (no parameter or token column): only the laws in compute alone "
                    "(compute_power, compute_loglinear) can be fitted to it, and N* and D* cannot be learned from it; "
                    "name N's or D's column with --n-col or --d-col (n_col=, d_col= in Python) if the table has one",
                    source)
        if values.pop("U", None) is not None:  # unique tokens mean something only beside the tokens trained on
            log.warning("%s: column '%s' (U, unique tokens) is not read: without D, how often data repeat cannot be "
                        "told", source, columns.pop("U"))
    elif "D" not in values:
        values["D"] = tokens_for_compute(values["C"], values["N"])
        columns["D"] = "derived: C/(6N)"
    elif "N" not in values:  # an isoFLOP sweep written as tokens and compute, as Llama 3's figure reads
        values["N"] = params_for_compute(values["C"], values["D"])
        columns["N"] = "derived: C/(6D)"
        log.warning("%s has no parameter column: N is derived from compute and tokens as C / (6D); name N's "
                    "column with --n-col (n_col= in Python) if the table has one", source)
    kept = [var for var in FRAME_COLUMNS if var in values] + (["U"] if "U" in values else [])
    frame = pd.DataFrame({var: np.asarray(values[var], dtype=float) for var in kept})
    labels = labels.reset_index(drop=True)
    levels = {}
    for dim, col in label_cols.items():
        raw = df[col].reset_index(drop=True)
        if raw.isna().any():
            rows = [labels[i] for i in raw.index[raw.isna()]]
            raise RunsError(f"{source}: column '{col}' ({OPTIONS[dim]}) is empty in {_listed(rows)}. {FIX_HINT}")
        text = raw.map(lambda v: str(v).strip())
        levels[dim] = tuple(sorted(text.unique()))
        frame[dim] = text.map({label: i for i, label in enumerate(levels[dim])}).astype(np.int64)
        columns[dim] = col
        kept.append(dim)
    check_plausible(frame, labels, source, columns, multipliers, _listed, FIX_HINT, loss_unit,
                    run_names=lambda: _run_names(df, set(present.values())))

    dup = frame.duplicated(keep=False)
    if dup.any():
        pairs = []
        for _, group in frame[dup].groupby(kept, sort=False):
            first = labels[group.index[0]]
            pairs += [f"{labels[i]} duplicates {first}" for i in group.index[1:]]
        same = ", ".join(var for var in (*FRAME_COLUMNS, "U") if var in values and var != "loss") + " and loss"
        if not drop_duplicates:
            raise RunsError(f"{source} has duplicate runs (same {same}): {_listed(pairs)}. Keep the first of each "
                            "with --drop-duplicates (drop_duplicates=True in Python), or fix or leave out these rows.")
        repeats = frame.duplicated(keep="first")
        frame, labels = frame.loc[~repeats].reset_index(drop=True), labels.loc[~repeats].reset_index(drop=True)
        log.warning("%s: left out %d duplicate run(s), keeping the first of each: %s", source, int(repeats.sum()),
                    _listed(pairs))
        selection = "; ".join(part for part in (selection, f"{int(repeats.sum())} duplicate runs left out") if part)
    return Runs(frame=frame, source=source, columns=columns, loss_unit=loss_unit, excluded=excluded,
                multipliers=multipliers, levels=levels, n_convention=n_convention, selection=selection)


def _run_names(df: pd.DataFrame, used: set[str], most: int = 4) -> list[str]:
    """Columns other than the quantities' whose values could name runs of a table of curves: text,
    repeated (at least 2 rows a value) but not constant. At most ``most``, fewest values first."""
    found = []
    for col in df.columns:
        values = df[col]
        if col in used or pd.api.types.is_numeric_dtype(values) or pd.to_numeric(values, errors="coerce").notna().all():
            continue  # numbers (some too large for int64 are read as text) measure, they do not name
        distinct = values.nunique()
        if 2 <= distinct <= len(values) / 2:
            found.append((distinct, str(col)))
    return [col for _, col in sorted(found)[:most]]
