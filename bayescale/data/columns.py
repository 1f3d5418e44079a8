"""Which column of a user's table holds which quantity, and in what unit.

Columns are found by name (:data:`CANDIDATES`, blind to case, spaces and ``/``) unless the user
names them (:data:`OPTIONS`, or :data:`ARGUMENTS` in Python); a unit multiplier is a number or a
word (:data:`bayescale.data.notation.UNIT_WORDS`), or is read from the column's name ('Parameters (M)', 'tokens_B',
'pf_days', a loss named 'val_bpb'), with a note. :func:`map_columns` does all of it for
:func:`bayescale.read_runs`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import pandas as pd

from bayescale.data.notation import bare_name, loss_unit_in_name, normalized, parse_unit, unit_in_name, unit_word
from bayescale.errors import RunsError

__all__ = ["ARGUMENTS", "CANDIDATES", "OPTIONS", "UNIT_VARS", "ColumnMap", "find_column", "map_columns", "naming",
           "optional_u"]

log = logging.getLogger("bayescale.data")

#: Column names taken for each quantity when the user names none, first match first.
CANDIDATES: dict[str, list[str]] = {
    "N": ["N", "N_params", "params", "n_params", "num_params", "parameters", "n_parameters", "num_parameters",
          "param_count", "parameter_count", "model_size", "Model Size", "model_size__params", "model_params",
          "model_parameters", "total_params", "nparams", "non_embedding_params", "nonembedding_params"],
    "D": ["D", "D_tokens", "tokens", "n_tokens", "num_tokens", "train_tokens", "training_tokens", "tokens_seen",
          "tokens_trained", "num_train_tokens", "total_tokens", "dataset_size", "data_size", "dataset_size__tokens"],
    "C": ["C", "C_flops", "flops", "compute", "training_flop", "Training FLOP", "training_flops", "train_flops",
          "C_flops_6ND", "compute_flops", "flops_budget", "flop_budget", "compute_budget", "budget_flops",
          "isoflop_budget", "pf_days", "pfdays", "petaflop_days"],
    "loss": ["loss", "final_loss", "L", "eval_loss", "val_loss", "validation_loss", "valid_loss", "test_loss",
             "train_loss", "test_loss__loss", "final_val_loss", "final_eval_loss", "final_train_loss", "loss_final",
             "nll", "val_nll", "eval_nll", "cross_entropy", "ce_loss", "xent",
             "bpb", "val_bpb", "eval_bpb", "bits_per_byte", "bpc", "val_bpc", "eval_bpc", "bits_per_char",
             "bits_per_character"],
    "U": ["U", "U_unique_tokens", "unique_tokens"],
}
#: Names of a column of tokens per parameter, read as D = value × N when the table has no D or C.
RATIO_CANDIDATES = ["tokens_per_param", "tokens_per_parameter", "tokens_per_params", "token_per_param",
                     "tokens_to_params", "tokens_to_parameters", "token_param_ratio", "tokens_params_ratio",
                     "d_over_n", "d_n_ratio", "d_to_n", "data_per_param", "tpp"]
#: The unit of a D column that holds tokens per parameter (``--d-unit per-param``).
PER_PARAM = "per-param"
#: The command-line option that names each quantity's column.
OPTIONS = {"N": "--n-col", "D": "--d-col", "C": "--c-col", "loss": "--loss-col", "U": "--u-col",
           "group": "--group-col", "family": "--family-col"}
#: The argument of :func:`bayescale.read_runs` that names each quantity's column (the options' twins).
ARGUMENTS = {var: option.removeprefix("--").replace("-", "_") for var, option in OPTIONS.items()}


def naming(var: str) -> str:
    """How to name ``var``'s column, on the command line and in Python: ``--n-col COLUMN (n_col= in Python)``."""
    return f"{OPTIONS[var]} COLUMN ({ARGUMENTS[var]}= in Python)"


#: The quantities a unit multiplier applies to.
UNIT_VARS = ("N", "D", "C", "U")


@dataclass(frozen=True)
class ColumnMap:
    """Which column holds each quantity, with the multipliers, loss unit and N convention read."""

    mapped: dict[str, str | None]  #: quantity (N, D, C, loss, U) -> column, None where absent
    labels: dict[str, str]  #: label dim (group, family) -> column
    multipliers: dict[str, float]  #: quantity -> factor to its unit
    loss_unit: str
    n_convention: str
    logs: tuple[str, ...] = ()  #: quantities whose column holds log10 of the value (``--d-unit log10``)
    per_param: bool = False  #: the D column holds tokens per parameter (``--d-unit per-param``): D = value × N


def map_columns(df: pd.DataFrame, given: dict[str, str | None], label_cols: dict[str, str | None], source: str,
                units: dict[str, float | str], loss_unit: str | None, n_convention: str) -> ColumnMap:
    """Find each quantity's column (given, or by name), its unit (given, or written in the name), the
    loss unit and the N convention a name states; refuse a table without a loss or two of N, D and C, and a
    column read as two quantities.

    Raises
    ------
    RunsError
        Naming the missing or doubled column and the option that fixes it.
    """
    mapped = {var: find_column(df, var, given[var]) for var in ("N", "D", "C", "loss", "U")}
    per_param = _per_param(units.get("D"))
    if mapped["D"] is None and (mapped["C"] is None) != (mapped["N"] is None) and given["D"] is None:
        names = {normalized(c): c for c in reversed(list(df.columns))}
        ratio = [names[normalized(c)] for c in RATIO_CANDIDATES if normalized(c) in names]
        if ratio and "D" not in units:  # 'tokens_per_param', as over-training studies write the data budget
            mapped["D"], per_param = ratio[0], True
            log.warning("reading column '%s' as tokens per parameter: D = N × %s%s (its name says so); name the "
                        "tokens' column with --d-col (d_col= in Python) if the table has one", ratio[0], ratio[0],
                        "" if mapped["N"] is not None else ", and N from C = 6ND")
    _refuse_missing(df, mapped, source)
    label_cols = {dim: col for dim, col in label_cols.items() if col is not None}
    for dim, col in label_cols.items():
        if col not in df.columns:
            raise RunsError(f"no column '{col}' (given with {OPTIONS[dim]}); available columns: {_listed(df)}.")
    _refuse_doubles({**mapped, **label_cols}, source)
    if n_convention == "unstated" and re.search(r"(non|no)[\s_-]?emb", str(mapped["N"]).lower()):
        n_convention = "non-embedding"
        log.warning("the N column '%s' counts non-embedding parameters, by its name: recorded as --n-convention "
                    "non-embedding (give --n-convention total, n_convention='total' in Python, if it does not)",
                    mapped["N"])
    if loss_unit is None:  # a loss named in bits per byte or character ('bpb', 'val_bpc') is in those units
        said = df.attrs.get("units_row", {}).get(str(mapped["loss"]))  # or so in the table's row of units
        loss_unit = loss_unit_in_name(mapped["loss"]) or loss_unit_in_name(said) or "nats/token"
        if loss_unit != "nats/token":
            log.warning("reading column '%s' as a loss in %s (%s); pass --loss-unit (loss_unit= in Python) if it is "
                        "not", mapped["loss"], loss_unit, "its name says so" if loss_unit_in_name(mapped["loss"])
                        else f"the row of units says {said!r}")
    for var, unit in units.items():
        if var != "D" and _per_param(unit):
            raise RunsError(f"--{var.lower()}-unit {unit!r}: only D is given per parameter (--d-unit {PER_PARAM}: "
                            "the column holds tokens per parameter, and D = value × N).")
    logs = tuple(var for var, unit in units.items() if isinstance(unit, str) and unit.strip() == LOG10)
    if per_param and mapped["D"] is None:
        raise RunsError(f"--d-unit {PER_PARAM} was given, but {source} has no D column of tokens per parameter; "
                        f"name it with {naming('D')}.")
    scaled = {var: unit for var, unit in units.items() if not (var == "D" and per_param)}
    row_units = df.attrs.get("units_row", {})
    return ColumnMap(mapped, label_cols, _multipliers(mapped, scaled, source, logs, row_units), loss_unit, n_convention,
                     logs, per_param)


def _per_param(unit: object) -> bool:
    """Whether a unit says 'tokens per parameter' (``per-param``, ``per_param``, ``tokens/param``)."""
    return isinstance(unit, str) and normalized(unit).replace("tokens_", "") in ("per_param", "per_parameter", "param")


#: Columns named in a message at most (a tracker's export has hundreds), each cut to this length.
_MAX_NAMED, _MAX_NAME = 30, 80


def _listed(df: pd.DataFrame) -> str:
    """The table's columns for a message: at most :data:`_MAX_NAMED`, then how many more."""
    names = [repr(str(c) if len(str(c)) <= _MAX_NAME else str(c)[:_MAX_NAME] + "…") for c in df.columns]
    more = f" and {len(names) - _MAX_NAMED} more" if len(names) > _MAX_NAMED else ""
    return ", ".join(names[:_MAX_NAMED]) + more


def _refuse_missing(df: pd.DataFrame, mapped: dict[str, str | None], source: str) -> None:
    """A table needs a loss, and two of N, D and C (N is derived from C and D, D from C and N)."""
    for var in ("N", "loss"):
        if mapped[var] is None and not (var == "N" and mapped["C"] is not None):  # N from C and D, or none
            perplexity = [str(c) for c in df.columns if normalized(c) in ("ppl", "perplexity", "val_ppl", "eval_ppl",
                                                                            "valid_ppl")]
            hint = (f" Column '{perplexity[0]}' looks like a perplexity: a law is fitted to a loss, its natural log "
                    f"(nats/token); read it so with --loss-col {perplexity[0]} --loss-unit perplexity "
                    "(loss_unit='perplexity' in Python)." if var == "loss" and perplexity else "")
            alike = _looks_like(df, var)
            if alike:
                hint = (f" Columns that look like {'a loss' if var == 'loss' else var}: "
                        f"{', '.join(repr(c) for c in alike)}; name the one meant.") + hint
            raise RunsError(f"cannot find the {var} column in {source} (columns: {_listed(df)}); "
                            f"say which it is with {naming(var)}.{hint}")
    if mapped["D"] is None and mapped["C"] is None:
        raise RunsError(f"need a D (tokens) or C (compute) column in {source} (columns: {_listed(df)}); "
                        f"say which with --d-col COLUMN or --c-col COLUMN (a column of tokens per parameter: "
                        f"--d-col COLUMN --d-unit {PER_PARAM}).")


#: Parts of a column's name that suggest a quantity, for a hint when none is found by name.
_ALIKE = {"N": ("param", "n_", "size"), "D": ("token",), "C": ("flop", "compute"), "loss": ("loss", "bpb", "bpc")}
#: The parts that make a lone numeric column the quantity itself, when no name matches.
_TAKEN = {"N": ("param",), "D": ("token",), "C": ("flop",), "loss": _ALIKE["loss"]}
#: Parts of a name that say it is not the quantity itself ('tokens_per_param', 'unique_tokens').
_NOT_ITSELF = ("per_", "_per", "ratio", "unique", "embed", "lr", "learning_rate")
#: What each quantity counts.
UNITS = {"N": "parameters", "D": "tokens", "C": "FLOPs", "U": "unique tokens"}


def _looks_like(df: pd.DataFrame, var: str, strict: bool = False) -> list[str]:
    """Numeric columns whose names suggest ``var`` ('loss_c4_val', 'N_active_billions'), at most six;
    ``strict``: only names that say the quantity itself (:data:`_TAKEN`, none of :data:`_NOT_ITSELF`)."""
    parts = _TAKEN if strict else _ALIKE
    found = [str(c) for c in df.columns if pd.api.types.is_numeric_dtype(df[c])
             and any(normalized(c).startswith(part) if part.endswith("_") else part in normalized(c)
                     for part in parts.get(var, ()))
             and not (strict and var != "loss" and any(word in normalized(c) for word in _NOT_ITSELF))]
    return found[:6]


def _refuse_doubles(roles_to_columns: dict[str, str | None], source: str) -> None:
    """Each quantity and label needs a column of its own."""
    roles: dict[str, list[str]] = {}
    for role, col in roles_to_columns.items():
        if col is not None:
            roles.setdefault(col, []).append(role)
    for col, twice in roles.items():
        if len(twice) > 1:
            said = " and ".join(f"{r} ({OPTIONS[r]})" for r in twice)
            raise RunsError(f"column '{col}' of {source} is read as both {said}; each needs a column of its "
                            f"own: name the right one with {' or '.join(naming(r) for r in twice)}.")


#: A column option's value that reads no column for the quantity (``--c-col none``: C is then 6ND).
NO_COLUMN = "none"
#: The unit of a column that holds the base-10 logarithm of the quantity (OPT's ``num_token``).
LOG10 = "log10"


def _multipliers(mapped: dict[str, str | None], units: dict[str, float | str], source: str,
                 logs: tuple[str, ...] = (), row_units: dict[str, str] | None = None) -> dict[str, float]:
    """Each quantity's factor to its unit: given (``--n-unit``), else written in its column's name
    or in the table's row of units (``row_units``: column -> text). A column of ``logs`` is checked
    like the others but not scaled (see :attr:`ColumnMap.logs`)."""
    units = dict(units)
    for var in UNIT_VARS:  # 'Parameters (M)', 'tokens_B', 'pf_days', a row of units, unless a unit is given
        if mapped[var] is not None and var not in units:
            _, hinted = unit_in_name(mapped[var])
            said = "its name says so"
            if hinted is None and (text := (row_units or {}).get(str(mapped[var]))) is not None:
                hinted, said = unit_word(text), f"the row of units says {text!r}"
            if hinted is not None:
                units[var] = hinted
                log.warning("reading column '%s' as %s in units of %g (%s); pass %s 1 (units={'%s': 1} in Python) "
                            "if it is not", mapped[var], var, hinted, said, f"--{var.lower()}-unit", var)
    multipliers = {}
    for var, unit in units.items():
        option = f"--{var.lower()}-unit"
        if var not in UNIT_VARS:
            raise RunsError(f"a unit can be given for {', '.join(UNIT_VARS)}, not {var!r}.")
        if mapped[var] is None:
            raise RunsError(f"{option} was given, but {source} has no {var} column; name it with {naming(var)}.")
        if var not in logs:
            multipliers[var] = parse_unit(unit, option)
    return multipliers


def find_column(df: pd.DataFrame, var: str, given: str | None) -> str | None:
    """The user's column for ``var``: the given one (must exist), none (``"none"``: a column of that
    name is not read, and the quantity is derived where it can be), or the first detected candidate."""
    if given is not None and given.strip().lower() == NO_COLUMN and NO_COLUMN not in df.columns:
        return None
    if given is not None:
        if given not in df.columns:
            raise RunsError(f"no column '{given}' (given with {OPTIONS[var]}); available columns: "
                            f"{_listed(df)}. Pass one of these with {naming(var)}.")
        return given
    columns = list(reversed(list(df.columns)))  # the first of equal names wins
    found = _candidates({normalized(c): c for c in columns}, var)
    if not found and var in UNIT_VARS:  # a name with its unit after it: 'Parameters (M)', 'tokens_B'
        found = _candidates({name: c for c in columns if (name := unit_in_name(c)[0])}, var)
    if not found:  # a name with its symbol or a remark in brackets: 'parameters (N)', 'N (params)', 'loss (L)'
        found = _candidates({name: c for c in columns if (name := bare_name(c)) != normalized(c)}, var)
    if not found:  # a tracker's group before the name: 'config/params', 'summary/eval/loss'
        found = _candidates({normalized(str(c).split("/", 1)[1]): c for c in columns if "/" in str(c)}, var)
    # another numeric column of a known name is a choice the user should see (a text column is not one)
    found = found[:1] + [c for c in found[1:] if pd.api.types.is_numeric_dtype(df[c])]
    if len(found) > 1:
        log.warning("using column %r for %s; the table also has %s: choose with %s COLUMN", str(found[0]), var,
                    ", ".join(repr(str(c)) for c in found[1:]), OPTIONS[var])
    if not found and len(alike := _looks_like(df, var, strict=True)) == 1:  # 'eval/paloma/c4_en/bpb', 'dataset_tokens'
        what, like = ("the loss", "a loss") if var == "loss" else (f"{var} ({UNITS[var]})", UNITS[var])
        log.warning("using column %r for %s, the one numeric column named like %s; name another with %s", alike[0],
                    what, like, naming(var))
        return alike[0]
    return found[0] if found else None


def _candidates(by_name: dict[str, object], var: str) -> list:
    """The columns of ``by_name`` (normalized name -> column) that are candidates for ``var``, in
    the order of :data:`CANDIDATES`, each once."""
    return list(dict.fromkeys(by_name[normalized(c)] for c in CANDIDATES[var] if normalized(c) in by_name))


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
