"""Exception classes. Every message says what went wrong and what to do about it."""

from __future__ import annotations


class BayescaleError(Exception):
    """Base class of every error bayescale raises on purpose (bad input, bad files, failed gates)."""


class RunsError(BayescaleError, ValueError):
    """The runs table cannot be used: missing columns, bad values, too few runs."""


class FormulaError(BayescaleError, ValueError):
    """A law formula uses syntax, names or functions that are not allowed."""


class LawFileError(BayescaleError, ValueError):
    """A law file (TOML) is malformed or inconsistent."""


class PriorError(BayescaleError, ValueError):
    """A prior specification names an unknown parameter or distribution, or has bad arguments."""


class FitFileError(BayescaleError, OSError):
    """A saved fit cannot be read: missing, corrupt, foreign or from an unsupported schema."""


class ConvergenceError(BayescaleError):
    """The sampler did not pass the convergence gates (R-hat, bulk ESS, divergences)."""


class OptimumError(BayescaleError, ValueError):
    """The compute-optimal allocation is undefined or could not be found for this law."""


class OutputPathError(BayescaleError, OSError):
    """An output file cannot be written there: a directory, a missing or read-only folder."""
