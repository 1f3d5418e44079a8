"""Reading a table file and filtering its rows: the DataFrame-level steps under :mod:`bayescale.data.reading`.

Row filters are parsed, never evaluated: ``COLUMN OP VALUE`` with ``OP`` one of ``= == != < <= > >=``.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bayescale.errors import RunsError

log = logging.getLogger("bayescale.data")

__all__ = ["FORMATS", "read_frame", "read_table", "filter_mask", "last_checkpoints"]

FORMATS = ".csv, .csv.gz, .tsv, .tsv.gz (tab-separated), .parquet, .pq, .json (a list of runs) or .jsonl (a run a line)"


def read_frame(path: str | os.PathLike, what: str = "table") -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file (see ``FORMATS``) into a DataFrame, with the same checks and
    messages as :func:`read_runs` (a directory, a missing file, an unknown type, ``;`` separators).

    Raises
    ------
    RunsError
        If the file cannot be read.
    """
    return read_table(path, what)[0].reset_index(drop=True)


def read_table(path: str | os.PathLike, what: str) -> tuple[pd.DataFrame, str]:
    p = Path(path)
    if p.is_dir():
        raise RunsError(f"cannot read '{p}': it is a directory; give the {what} file inside it.")
    name = p.name.lower()
    if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
        kind = "csv"
    elif name.endswith((".parquet", ".pq")):
        kind = "parquet"
    elif name.endswith((".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson")):
        kind = "json" if name.endswith((".json", ".json.gz")) else "jsonl"
    else:
        sheet = " (from a spreadsheet, save the sheet as CSV)" if name.endswith((".xlsx", ".xls", ".ods", ".numbers")) else ""
        if name.endswith(".nc"):
            sheet = (" (a .nc file is a saved fit or isoFLOP analysis: give the runs table it was made from; "
                     "a saved isoFLOP analysis is read back by 'bayescale isoflop ISO.nc')")
        raise RunsError(f"cannot read '{p}': unknown file type; accepted formats are {FORMATS}{sheet}.")
    if not p.is_file():
        raise RunsError(f"cannot read '{p}': no such file. Accepted formats are {FORMATS}.")
    skipped, header = 0, None
    try:
        if kind == "csv":
            sep = "\t" if name.endswith((".tsv", ".tsv.gz")) else ","
            skipped, header = _comment_lines(p, sep)
            df = pd.read_csv(p, sep=sep, skiprows=skipped, header=None if header else "infer", names=header)
        elif kind == "parquet":
            df = pd.read_parquet(p)
        else:
            df = _read_json(p, lines=kind == "jsonl")
    except RunsError:
        raise
    except Exception as exc:  # any pandas/pyarrow/OS failure becomes a clean message
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunsError(f"cannot read '{p}' as {kind}: {reason}. Accepted formats are {FORMATS}.") from exc
    if kind == "csv" and df.shape[1] == 1 and ";" in str(df.columns[0]):
        raise RunsError(f"'{p}' looks separated by ';' (header {str(df.columns[0])!r}); bayescale reads comma-separated "
                        ".csv or tab-separated .tsv files: save it with commas (and '.' as the decimal point).")
    if kind == "csv":
        if header is None:  # a header read from a comment was split by us, its names as written
            _refuse_repeated_header(p, df, name.endswith((".tsv", ".tsv.gz")), skipped)
        stripped = [c.strip() if isinstance(c, str) else c for c in df.columns]  # 'N, D, loss' written with spaces
        if len(set(stripped)) == len(stripped):
            df.columns = stripped
    if header:
        others = f" (and skipped {skipped - 1} comment line(s) above it)" if skipped > 1 else ""
        log.warning("'%s': read the column names from the comment line above the numbers, '# %s'%s", p,
                    ",".join(header), others)
    elif skipped:
        log.warning("'%s': skipped %d comment line(s) (starting with '#') above the header", p, skipped)
    df.attrs["comment_lines"] = skipped - (1 if header else 0)  # a CSV's line numbers in messages count them
    if kind == "csv" and (units := _units_row(df)) is not None:
        line = 2 + df.attrs["comment_lines"]
        df = units
        df.attrs["comment_lines"] = line - 1  # the rows below it keep their line numbers
        log.warning("'%s': line %d holds no numbers where the rows below it do, as a row of units does (%s): read "
                    "as units where they are multipliers (K, M, B, T), else skipped. N is read in parameters, D in "
                    "tokens, C in FLOPs and the loss in nats/token: give other units with --n-unit, --d-unit, --c-unit "
                    "and --loss-unit (units=, loss_unit= in Python)", p, line,
                    ", ".join(f"{c}: {v}" for c, v in list(units.attrs["units_row"].items())[:8]))
    return df, kind


def _units_row(df: pd.DataFrame) -> pd.DataFrame | None:
    """The table without its first row when that row is text (a row of units: 'M', 'tokens', 'nats')
    in every column whose other rows are all numbers, and such columns exist; else None."""
    if len(df) < 2:
        return None
    first, rest = df.iloc[0], df.iloc[1:]
    parsed = {c: pd.to_numeric(rest[c], errors="coerce") for c in df.columns}
    numeric = [c for c, values in parsed.items() if values.notna().all()]
    if not numeric or any(_is_number(str(first[c])) for c in numeric if pd.notna(first[c])):
        return None
    if not any(isinstance(first[c], str) and first[c].strip() for c in numeric):
        return None
    out = rest.copy()
    for c in numeric:
        out[c] = parsed[c]
    out.attrs["units_row"] = {str(c): v.strip() for c, v in first.items() if isinstance(v, str) and v.strip()}
    return out


def _read_json(path: Path, lines: bool) -> pd.DataFrame:
    """Runs from JSON: a list of objects (one a run; nested objects, as experiment trackers export
    summaries, give columns named ``outer/inner``), an object holding such a list, an object of
    runs by name (the name in a column ``run``), or an object of columns; with ``lines``, one object
    a line."""
    import gzip
    import json

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        data = [json.loads(line) for line in handle if line.strip()] if lines else json.load(handle)
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)]
        if len(lists) == 1:  # {"runs": [{...}, ...]}
            data = lists[0]
        elif data and all(isinstance(value, list) for value in data.values()):  # {"N": [...], "loss": [...]}
            return pd.DataFrame(data)
        elif data and all(isinstance(value, dict) for value in data.values()):  # {"run-a": {"N": ...}, ...}
            data = [{"run": name, **record} for name, record in data.items()]
    if isinstance(data, list) and data and all(isinstance(record, dict) for record in data):
        return pd.json_normalize(data, sep="/")
    raise RunsError(f"cannot read '{path}' as runs: a JSON file of runs is a list of objects, one a run "
                    "([{\"N\": 1e8, \"D\": 2e9, \"loss\": 3.1}, ...]), an object of columns ({\"N\": [...], \"loss\": [...]}), "
                    "or, as .jsonl, one object a line.")


#: Comment lines read above a CSV's header at most (a digitized table's notes on its source).
_MAX_COMMENT_LINES = 1000


def _comment_lines(path: Path, sep: str) -> tuple[int, list[str] | None]:
    """How many lines at the top of a CSV start with '#' (notes above the header), and the header
    when the last of them is one: ``numpy.savetxt`` writes ``# N,D,loss`` above rows of numbers."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    comments: list[str] = []
    first = ""
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if len(comments) >= _MAX_COMMENT_LINES or not line.lstrip().startswith("#"):
                first = line
                break
            comments.append(line)
    if not comments:
        return 0, None
    names = [n.strip() for n in comments[-1].lstrip().lstrip("#").strip().split(sep)]
    values = first.strip().split(sep)
    if len(names) == len(values) > 1 and all(names) and all(_is_number(v) for v in values) \
            and not any(_is_number(n) for n in names):
        return len(comments), names
    return len(comments), None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _refuse_repeated_header(path: Path, df: pd.DataFrame, tabs: bool, skipped: int = 0) -> None:
    """Refuse a header that names a column twice: pandas renames the second ('N', 'N.1') and the
    first would be read without a word."""
    if not any("." in str(c) for c in df.columns):  # pandas marks a repeat as NAME.1
        return
    first = pd.read_csv(path, sep="\t" if tabs else ",", nrows=1, header=None, dtype=str, skiprows=skipped).iloc[0]
    seen: dict[str, int] = {}
    for i, label in enumerate(first, start=1):
        if not isinstance(label, str) or not label.strip():
            continue
        label = label.strip()
        if label in seen:
            raise RunsError(f"'{path}' names the column '{label}' twice (columns {seen[label]} and {i}); "
                            "rename one, so that it is clear which is meant.")
        seen[label] = i


#: Values of a row filter that stand for an empty cell.
_EMPTY = ("", "nan")
#: Comparisons a row filter may use, longest first so that ``>=`` is not read as ``>``.
_OPERATORS = ("==", "!=", ">=", "<=", "=", ">", "<")


def _condition_mask(df: pd.DataFrame, item: str, option: str) -> pd.Series:
    """Rows where ``COLUMN OP VALUE`` holds (``OP`` one of ``= == != < <= > >=``).

    Parsed, never evaluated: the column must exist; a numeric column compares as numbers, any
    other as text (``=``/``!=`` only); a missing value never matches, except the empty value
    (``COLUMN=``, or ``nan``), which matches the empty cells (``COLUMN!=``: the others).
    """
    available = ", ".join(repr(str(c)) for c in df.columns)
    form = f"{option} 'COLUMN=VALUE' (or !=, <, <=, >, >=)"
    if not isinstance(item, str):
        raise RunsError(f"cannot understand {option} {item!r}: expected {form}; available columns: {available}.")
    found = [(item.find(op), op) for op in _OPERATORS if op in item]
    if not found:
        raise RunsError(f"cannot understand {option} {item!r}: expected {form}; available columns: {available}.")
    at, op = min(found, key=lambda pair: (pair[0], -len(pair[1])))
    col, value = item[:at].strip(), item[at + len(op):].strip()
    if col not in df.columns:
        raise RunsError(f"{option} {item!r}: no column '{col}'; expected {form} with COLUMN one of: {available}.")
    series = df[col]
    if value.lower() in _EMPTY:  # 'D=': the rows whose cell is empty
        if op not in ("=", "==", "!="):
            raise RunsError(f"{option} {item!r}: an empty value compares with = or != only ('{col}=' matches the "
                            "rows where the column is empty).")
        return series.notna() if op == "!=" else series.isna()
    if pd.api.types.is_bool_dtype(series):
        series = series.astype(str).str.lower()
        value = {"1": "true", "0": "false"}.get(value.lower(), value.lower())
    elif pd.api.types.is_numeric_dtype(series):
        try:
            number = float(value)
        except ValueError:
            raise RunsError(f"{option} {item!r}: column '{col}' is numeric but {value!r} is not a number.") from None
        compare = {"=": series.eq, "==": series.eq, "!=": series.ne, "<": series.lt, "<=": series.le,
                   ">": series.gt, ">=": series.ge}[op]
        return compare(number) & series.notna()
    else:
        series = series.map(lambda v: None if pd.isna(v) else str(v).strip())
    if op not in ("=", "==", "!="):
        raise RunsError(f"{option} {item!r}: column '{col}' holds text; compare it with = or != only.")
    equal = (series == value) & series.notna()
    return ~equal & series.notna() if op == "!=" else equal


def filter_mask(df: pd.DataFrame, exclude: Sequence[str], where: Sequence[str]) -> pd.Series:
    """Rows to leave out: those matching any ``exclude`` item, or failing any ``where`` item."""
    mask = pd.Series(False, index=df.index)
    for item in exclude:
        mask |= _condition_mask(df, item, "--exclude-where")
    for item in where:
        mask |= ~_condition_mask(df, item, "--where")
    return mask


def last_checkpoints(df: pd.DataFrame, tokens: pd.Series, run_columns: Sequence[str], source: str) -> tuple[pd.Index, str]:
    """The rows of ``df`` that are each run's final checkpoint, and the selection in words.

    Rows sharing the values of ``run_columns`` are one run's training curve; of each, the row with
    the most ``tokens`` (aligned with ``df``) is kept, the later row of a tie.
    """
    run_columns = [run_columns] if isinstance(run_columns, str) else list(run_columns)
    unknown = [c for c in run_columns if c not in df.columns]
    if unknown:
        raise RunsError(f"no column {', '.join(repr(c) for c in unknown)} in {source} (given with --last-per, "
                        f"last_per= in Python); available columns: {', '.join(repr(str(c)) for c in df.columns)}.")
    ranked = tokens.rank(method="first")  # a tie: the later row ranks higher
    last = ranked.groupby([df[c] for c in run_columns], dropna=False, sort=False).idxmax()
    keep = df.index[df.index.isin(last.to_numpy())]  # in the table's order
    named = ", ".join(run_columns[:-1]) + " and " + run_columns[-1] if len(run_columns) > 1 else run_columns[0]
    how = f"each run's final checkpoint (per {named}, the row with the most tokens: {len(keep)} of {len(df)} rows)"
    log.warning("%s: kept %s", source, how)
    return keep, how
