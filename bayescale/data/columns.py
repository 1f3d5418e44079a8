"""Which column of a user's table holds which quantity, and in what unit.

Columns are found by name (:data:`CANDIDATES`, case-insensitive) unless the user names them
(:data:`OPTIONS`); a unit multiplier is a number or a word (:data:`UNIT_WORDS`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from bayescale.errors import RunsError

__all__ = ["CANDIDATES", "OPTIONS", "UNIT_WORDS", "find_column", "optional_u", "parse_unit"]

log = logging.getLogger("bayescale.data")

#: Column names taken for each quantity when the user names none, first match first.
CANDIDATES: dict[str, list[str]] = {
    "N": ["N", "N_params", "params", "n_params", "num_params", "parameters", "n_parameters", "num_parameters",
          "param_count", "model_size", "Model Size", "model_size__params"],
    "D": ["D", "D_tokens", "tokens", "n_tokens", "num_tokens", "train_tokens", "training_tokens", "tokens_seen",
          "dataset_size", "data_size", "dataset_size__tokens"],
    "C": ["C", "C_flops", "flops", "compute", "training_flop", "Training FLOP", "training_flops", "train_flops",
          "C_flops_6ND"],
    "loss": ["loss", "final_loss", "L", "eval_loss", "val_loss", "validation_loss", "valid_loss", "test_loss",
             "train_loss", "test_loss__loss"],
    "U": ["U", "U_unique_tokens", "unique_tokens"],
}
#: The command-line option that names each quantity's column.
OPTIONS = {"N": "--n-col", "D": "--d-col", "C": "--c-col", "loss": "--loss-col", "U": "--u-col",
           "group": "--group-col", "family": "--family-col"}
#: Words accepted for a column's unit, besides plain numbers (``--n-unit 1e9``).
UNIT_WORDS = {"thousand": 1e3, "K": 1e3, "million": 1e6, "M": 1e6, "billion": 1e9, "B": 1e9,
              "trillion": 1e12, "T": 1e12}


def parse_unit(text: str | float, option: str = "--n-unit") -> float:
    """The multiplier meant by a column unit: a positive number (``1e9``) or a word of
    ``UNIT_WORDS`` (``billion``, ``B``, ``trillion``, ``T`` …).

    Raises
    ------
    RunsError
        If the text is neither.
    """
    if isinstance(text, str) and text.strip() in UNIT_WORDS:
        return UNIT_WORDS[text.strip()]
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        words = ", ".join(UNIT_WORDS)
        raise RunsError(f"{option} {text!r} is not a unit: give a positive number (e.g. 1e9 for a column "
                        f"in billions) or one of {words}.")
    return value


def find_column(df: pd.DataFrame, var: str, given: str | None) -> str | None:
    """The user's column for ``var``: the given one (must exist) or the first detected candidate."""
    available = ", ".join(repr(str(c)) for c in df.columns)
    if given is not None:
        if given not in df.columns:
            raise RunsError(f"no column '{given}' (given with {OPTIONS[var]}); available columns: "
                            f"{available}. Pass one of these with {OPTIONS[var]} COLUMN.")
        return given
    lowered = {str(c).strip().lower(): c for c in reversed(list(df.columns))}
    found = list(dict.fromkeys(lowered[cand.lower()] for cand in CANDIDATES[var] if cand.lower() in lowered))
    # another numeric column of a known name is a choice the user should see (a text column is not one)
    found = found[:1] + [c for c in found[1:] if pd.api.types.is_numeric_dtype(df[c])]
    if len(found) > 1:
        log.warning("using column %r for %s; the table also has %s: choose with %s COLUMN", str(found[0]), var,
                    ", ".join(repr(str(c)) for c in found[1:]), OPTIONS[var])
    return found[0] if found else None


def optional_u(raw: pd.Series, col: str) -> str | None:
    """A column found by its name to be U, or None (with a warning) when it is empty in some kept rows.

    U is needed by data-constrained laws only; a table that gives it for some runs (e.g. the
    repeated-data ones) should not be refused for laws that never read it.
    """
    lacking = int(raw.isna().sum())  # empty cells; text in a cell is a typo, reported as in any column
    if lacking == 0:
        return col
    log.warning("column '%s' looks like U (unique tokens) but is empty in %d of %d runs: not read. "
                "Laws that need U (data_constrained) need it on every run: fill it in, keep the rows that have it "
                "(--where), or name it with --u-col to see which rows lack it", col, lacking, len(raw))
    return None
