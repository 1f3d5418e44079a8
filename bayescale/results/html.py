"""HTML tables for Jupyter (``_repr_html_``): the numbers the CLI prints, nothing recomputed.

Uncertain quantities (``{"median", "lower", "upper"}``) show as ``median [lower, upper]``, an end
marked "≤"/"≥" where the record flags it open (``lower_open``, ``upper_open``: the edge of the
learned tilt); losses keep the decimals their interval supports, other numbers three significant figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import pandas as pd

__all__ = ["records_html", "frame_html"]


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(str(value))
    return f"{value:.3g}"


def _cell(key: str, value: Any) -> str:
    from bayescale.texts import loss_texts

    if isinstance(value, Mapping) and {"median", "lower", "upper"} <= set(value):
        parts = [value["median"], value["lower"], value["upper"]]
        if key.startswith(("L_", "loss")) and None not in parts:
            med, lo, hi = loss_texts(*parts)
        else:
            med, lo, hi = (_number(x) for x in parts)
        lo, hi = ("≤" if value.get("lower_open") else "") + lo, ("≥" if value.get("upper_open") else "") + hi
        return f"{med} <small>[{lo}, {hi}]</small>"
    if isinstance(value, Mapping):
        return escape(", ".join(f"{k}: {_number(v)}" for k, v in value.items()))
    return _number(value)


def records_html(records: Sequence[Mapping[str, Any]], caption: str = "") -> str:
    """One row per record, one column per key (the union of the records' keys, in order); a
    record's ``units`` object labels the headers."""
    keys: list[str] = []
    for record in records:
        keys += [k for k in record if k not in keys and k != "units"]  # units go in the headers
    units = {k: v for record in records for k, v in record.get("units", {}).items()}
    head = "".join(f"<th>{escape(k)}" + (f"<br><small>{escape(units[k])}</small>" if k in units else "") + "</th>"
                   for k in keys)
    rows = "".join("<tr>" + "".join(f"<td>{_cell(k, r.get(k))}</td>" for k in keys) + "</tr>" for r in records)
    title = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def frame_html(frame: pd.DataFrame, caption: str = "") -> str:
    """A DataFrame's rows as a table, its index as the first column."""
    records = [{frame.index.name or "": str(label), **row} for label, row in frame.to_dict("index").items()]
    return records_html(records, caption)
