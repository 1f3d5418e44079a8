"""How tables write numbers and units: a unit in a column's name ('Parameters (M)', 'tokens_B',
'pf_days', a loss named 'val_bpb'), sizes with a suffix or thousands separators ('1.3B',
'125,000,000'), and unit words (``--n-unit billion``). Pure text rules; :mod:`bayescale.data.columns`
applies them, with a note for each one read from a name.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from bayescale.errors import RunsError

__all__ = ["LOSS_UNIT_NAMES", "NAMED_UNITS", "UNIT_WORDS", "bare_name", "loss_unit_in_name", "normalized", "parse_unit",
           "suffixed_numbers", "unit_in_name", "unit_word"]

#: Loss columns whose unit is in the name: bits per byte or per character.
LOSS_UNIT_NAMES = {"bpb": "bits/byte", "val_bpb": "bits/byte", "eval_bpb": "bits/byte", "bits_per_byte": "bits/byte",
                   "bpc": "bits/char", "val_bpc": "bits/char", "eval_bpc": "bits/char", "bits_per_char": "bits/char",
                   "bits_per_character": "bits/char"}
#: Column names whose unit is in the name itself (compute in petaflop/s-days, Kaplan et al.'s unit).
NAMED_UNITS = {"pf_days": 8.64e19, "pfdays": 8.64e19, "petaflop_days": 8.64e19}
#: A unit written after a column's name: ``Parameters (M)``, ``tokens_B``, ``model_size_billions``.
_UNIT_SUFFIX = re.compile(r"^(?P<base>.*?)[\s_]*(?:[(\[](?P<bracketed>[a-z]+)[)\]]|_(?P<word>k|m|b|bn|t|thousands?|"
                          r"millions?|billions?|trillions?|in_(?:thousands|millions|billions|trillions)))$")
_SUFFIX_WORDS = {"k": 1e3, "thousand": 1e3, "thousands": 1e3, "m": 1e6, "million": 1e6, "millions": 1e6,
                 "b": 1e9, "bn": 1e9, "billion": 1e9, "billions": 1e9, "t": 1e12, "trillion": 1e12, "trillions": 1e12}


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
                        f"in billions) or one of {words}; log10 for a column of base-10 logarithms; for D, "
                        "per-param for a column of tokens per parameter.")
    return value


def normalized(name: object) -> str:
    """A column name compared case-, space- and punctuation-blind: 'Eval/Loss' and 'eval_loss' match."""
    return re.sub(r"[\s/.\-]+", "_", str(name).strip().lower()).strip("_")


def unit_word(text: object) -> float | None:
    """The multiplier a unit written alone means ('M', '(B)', 'billions', 'k'), or None."""
    word = re.sub(r"[\s()\[\]]+", "", str(text)).lower()
    return _SUFFIX_WORDS.get(word)


def bare_name(column: object) -> str:
    """A column's name without what is in brackets, normalized: 'parameters (N)' and 'N [params]'
    give 'parameters' and 'n'."""
    return normalized(re.sub(r"[(\[{][^)\]}]*[)\]}]", " ", str(column)))


def unit_in_name(column: object) -> tuple[str | None, float | None]:
    """``(base name, multiplier)`` of a column whose name ends in a unit ('Parameters (M)' ->
    ('parameters', 1e6); 'tokens_B' -> ('tokens', 1e9)), or ``(None, None)``. Names that are a unit
    themselves (``pf_days``) give ``(name, multiplier)``."""
    name = normalized(column)
    if name in NAMED_UNITS:
        return name, NAMED_UNITS[name]
    match = _UNIT_SUFFIX.match(str(column).strip().lower().replace(" ", "_"))
    if not match:
        return None, None
    unit = match.group("bracketed") or match.group("word")
    unit = unit.removeprefix("in_")
    if unit not in _SUFFIX_WORDS:
        return None, None
    return normalized(match.group("base")), _SUFFIX_WORDS[unit]


_SUFFIXED = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kmbt]|bn)\s*$", re.IGNORECASE)


_GROUPED = re.compile(r"^\s*[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?\s*$")


def suffixed_numbers(raw: pd.Series) -> pd.Series | None:
    """Values written as people write sizes, with a suffix ('125M', '1.3B', '2T', '350k') or
    thousands separators ('125,000,000'), as numbers (plain numbers too); NaN where a value reads
    no way; None when no value is written so."""
    values, suffixed = [], False
    for text in raw:
        match = _SUFFIXED.match(text) if isinstance(text, str) else None
        if match:
            values.append(float(match.group(1)) * _SUFFIX_WORDS[match.group(2).lower()])
            suffixed = True
            continue
        if isinstance(text, str) and _GROUPED.match(text):
            values.append(float(text.replace(",", "")))
            suffixed = True
            continue
        try:
            values.append(float(text))
        except (TypeError, ValueError):
            values.append(np.nan)
    return pd.Series(values, index=raw.index, dtype=np.float64) if suffixed else None


def loss_unit_in_name(column: object) -> str | None:
    """The loss unit a column's name states (``val_bpb``, ``bpc_average``, ``bits_per_byte``), or None."""
    if column is None:
        return None
    name = normalized(column)
    words = set(name.split("_"))
    if LOSS_UNIT_NAMES.get(name):
        return LOSS_UNIT_NAMES[name]
    if "bpb" in words or "bits_per_byte" in name:
        return "bits/byte"
    if "bpc" in words or "bits_per_char" in name:
        return "bits/char"
    return None
