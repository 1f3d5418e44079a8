"""A validated table of training runs (model size N, tokens D, compute C, loss): :class:`Runs`, as
:mod:`bayescale.data.reading` builds it from a file or a DataFrame.

A table may also give U, the unique tokens of the training data (data-constrained laws): a run
with D > U repeats its data D/U times; U >= D means no repetition.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayescale.data.columns import OPTIONS, UNITS
from bayescale.data.conventions import N_CONVENTIONS
from bayescale.errors import RunsError
from bayescale.texts import sci

log = logging.getLogger("bayescale.data")
#: A variable of the law whose largest value is less than this many times its smallest gets a warning.
NARROW_SPAN = 2.0
COUNTED = {"N": "sizes", "D": "token counts", "C": "budgets", "U": "unique-token counts"}
#: Columns of ``Runs.frame``, in order; ``U`` only when the table gives unique tokens.
FRAME_COLUMNS = ("N", "D", "C", "loss")
#: What to do when a table of compute and loss only meets something that needs N or D.
NEEDS_SIZES = ("only the laws in compute alone (compute_power, compute_loglinear: --law compute_power, law='compute_power' "
               "in Python) can be fitted to them and asked about compute; add a column of N or of D (the other is then "
               "derived from C) for laws in N and D, N* and D*, and isoFLOP analyses")
FIX_HINT = "Drop or fix these rows, or leave them out with --exclude-where COLUMN=VALUE."
MAX_LISTED = 10


@dataclass(frozen=True, eq=False)
class Runs:
    """A validated, immutable table of training runs with explicit units.

    Attributes
    ----------
    frame : pandas.DataFrame
        The kept rows; columns exactly ``N, D, C, loss`` and, when the table gives unique
        tokens, ``U`` (all float64), index ``0..n-1``.
    source : str
        The file path the runs came from, or ``"<DataFrame>"``.
    columns : dict of str to str
        Our name -> the user's column name, or ``"derived: 6ND"``, ``"derived: C/(6N)"`` or
        ``"derived: C/(6D)"``.
    loss_unit : str
        One of ``LOSS_UNITS``.
    excluded : int
        Number of rows left out by ``exclude_where`` and ``where``.
    multipliers : dict of str to float
        Our name -> the factor that turned the user's column into parameters, tokens or FLOPs
        (e.g. ``{"N": 1e9}`` for a column in billions); absent names were read as they are.
    levels : dict of str to tuple of str
        For each label column given (``group``, ``family``): its levels, sorted. The frame then
        holds that column as integer codes into the levels.
    n_convention : str
        How N was counted, one of ``N_CONVENTIONS``: ``"total"`` (with embeddings),
        ``"non-embedding"``, or ``"unstated"``. Recorded, shown, and checked when fits or
        published constants are compared or planned with; it does not change the fit.
    selection : str
        How runs were selected beyond the row filters (e.g. by
        :func:`bayescale.data.selection.near_optimum`), in words; empty when they were not.
    notes : tuple of str
        The notes given while the table was read (a column derived, comment lines skipped, setups
        that look mixed, …): saved with a fit and shown by ``summary`` and the report.
    """

    frame: pd.DataFrame
    source: str
    columns: dict[str, str]
    loss_unit: str = "nats/token"
    excluded: int = 0
    multipliers: dict[str, float] = field(default_factory=dict)
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    n_convention: str = "unstated"
    selection: str = ""
    notes: tuple[str, ...] = ()

    def codes(self, dim: str) -> np.ndarray:
        """Integer code of each run's level of ``dim`` (``"group"`` or ``"family"``)."""
        if dim not in self.levels:
            raise RunsError(f"the runs have no {dim} column; name it with {OPTIONS[dim]} COLUMN "
                            f"({dim}_col= in Python)")
        return self.frame[dim].to_numpy(np.int64)

    def code_of(self, dim: str, label: str) -> int:
        """The code of one level of ``dim``; a clear error for an unknown label."""
        levels = self.levels.get(dim, ())
        if str(label) not in levels:
            raise RunsError(f"no {dim} {label!r} in the runs; the {dim}s are {', '.join(levels) or '(none)'}")
        return levels.index(str(label))

    @property
    def has_sizes(self) -> bool:
        """Whether the runs give model sizes N and tokens D (given, or derived from C and the other);
        a table of compute and loss only does not."""
        return "N" in self.frame

    @property
    def N(self) -> np.ndarray:
        """Model sizes (parameters); raises ``RunsError`` for a table of compute and loss only."""
        return self._sizes("N")

    @property
    def D(self) -> np.ndarray:
        """Training tokens; raises ``RunsError`` for a table of compute and loss only."""
        return self._sizes("D")

    def _sizes(self, var: str) -> np.ndarray:
        if var not in self.frame:
            raise RunsError(f"the runs from {self.source} give compute and loss only, not {var} ({UNITS[var]}): "
                            f"{NEEDS_SIZES}")
        return self.frame[var].to_numpy(np.float64)

    @property
    def C(self) -> np.ndarray:
        """Training compute (FLOPs)."""
        return self.frame["C"].to_numpy(np.float64)

    @property
    def has_U(self) -> bool:
        """Whether the runs give unique tokens U."""
        return "U" in self.frame

    @property
    def U(self) -> np.ndarray:
        """Unique training tokens; raises ``RunsError`` when the table has no U column."""
        if not self.has_U:
            raise RunsError(f"the runs from {self.source} have no unique-token column U; "
                            f"name it with --u-col COLUMN (read_runs(..., u_col=...)).")
        return self.frame["U"].to_numpy(np.float64)

    @property
    def loss(self) -> np.ndarray:
        """Final losses, in ``loss_unit``."""
        return self.frame["loss"].to_numpy(np.float64)

    @property
    def n_runs(self) -> int:
        """Number of runs kept."""
        return len(self.frame)

    @property
    def N_ref(self) -> float:
        """Geometric mean of N (reference scale for normalised units); NaN without N."""
        return float(np.exp(np.mean(np.log(self.N)))) if self.has_sizes else float("nan")

    @property
    def D_ref(self) -> float:
        """Geometric mean of D; NaN without D."""
        return float(np.exp(np.mean(np.log(self.D)))) if self.has_sizes else float("nan")

    @property
    def C_ref(self) -> float:
        """Geometric mean of C."""
        return float(np.exp(np.mean(np.log(self.C))))

    @property
    def data_hash(self) -> str:
        """``"sha256:<hex>"`` of the little-endian float64 rows (N, D, C, loss[, U]) plus the loss unit.

        U enters only when present, so tables without it keep the hashes they always had.
        """
        columns = [c for c in FRAME_COLUMNS if c in self.frame] + (["U"] if self.has_U else []) + list(self.levels)
        table = np.ascontiguousarray(self.frame[columns].to_numpy("<f8"))
        digest = hashlib.sha256(table.tobytes())
        digest.update(self.loss_unit.encode("utf-8"))
        for dim, labels in self.levels.items():  # only when given: older hashes stay as they were
            digest.update(f"{dim}={chr(31).join(labels)}".encode())
        return "sha256:" + digest.hexdigest()

    def check_identifiable(self, variables: Iterable[str], n_parameters: int, law_name: str) -> None:
        """Raise ``RunsError`` if a law with these inputs and parameters cannot be fitted to the runs.

        Parameters
        ----------
        variables : iterable of str
            The run variables the law uses (some of ``"N"``, ``"D"``, ``"C"``, ``"U"``).
        n_parameters : int
            Number of free parameters of the law.
        law_name : str
            Name of the law, used in the message.

        Raises
        ------
        RunsError
            If there are no more runs than parameters, or a used variable takes a single value;
            for a law with ``U``: if the table has no U column, or no run repeats data (U >= D
            in every run, so the effect of repetition cannot be learned).

        Notes
        -----
        A used variable whose largest value is less than :data:`NARROW_SPAN` times its smallest
        is not an error, but gets a warning: the law's terms in it are learned from their priors.
        """
        if not self.has_sizes and {"N", "D", "U"} & set(variables):
            raise RunsError(f"the law '{law_name}' needs the model size N and tokens D of each run, and the runs "
                            f"from {self.source} give compute and loss only: {NEEDS_SIZES}.")
        if self.n_runs <= n_parameters:
            raise RunsError(
                f"fewer runs than parameters: {self.n_runs} runs for the law '{law_name}', which has "
                f"{n_parameters} parameters; add more runs or use a law with fewer parameters."
            )
        variables = tuple(dict.fromkeys(variables))
        what = {"N": ("model size", "sizes"), "D": ("dataset size", "token counts"),
                "C": ("compute budget", "compute budgets")}
        problems = []
        for var in variables:
            if var in what and len(np.unique(getattr(self, var))) == 1:
                single, others = what[var]
                problems.append(
                    f"a single {single} ({var} = {_fmt(getattr(self, var)[0])} in all {self.n_runs} "
                    f"runs): the law '{law_name}' cannot separate the effect of {var} from its other "
                    f"terms; add runs at other {others} or use a law without {var}"
                    + (" (a compute-only law)" if var != "C" else "")
                )
        if "U" in variables:
            if not self.has_U:
                problems.append(
                    f"the law '{law_name}' needs the unique training tokens U of each run, and the runs "
                    f"have no such column; name it with --u-col COLUMN"
                )
            elif not np.any(self.D > self.U):
                problems.append(
                    f"no run repeats its data (U >= D in all {self.n_runs} runs): the law '{law_name}' "
                    f"cannot learn what repetition costs; add runs with D > U (several epochs) or use a "
                    f"law without U"
                )
        if problems:
            raise RunsError("; ".join(problems) + ".")
        for var in variables:
            values = getattr(self, var) if var in what else None
            if values is not None and (span := float(values.max() / values.min())) < NARROW_SPAN:
                others = what[var][1]
                log.warning(
                    "%s spans only %.4g× across the %d runs (%s to %s): the law '%s' learns how the loss "
                    "changes with %s from its priors more than from these runs, so its terms in %s and its "
                    "predictions at other %s are only as good as those priors; add runs at other %s, or use "
                    "a law without %s%s", var, span, self.n_runs, _fmt(values.min()), _fmt(values.max()),
                    law_name, var, var, others, others, var, " (a compute-only law)" if var != "C" else "")
        if {"N", "D"} <= set(variables) and "C" not in variables and (span := float(self.C.max() / self.C.min())) < NARROW_SPAN:
            log.warning(
                "compute spans only %.4g× across the %d runs (one isoFLOP sweep): N and D move together (D = C/(6N)), "
                "so the law '%s' tells the effect of size from that of data only by the curve's shape, and what it "
                "says at other budgets (N*, D*, L*) rests on its priors; add runs at budgets a few times smaller and "
                "larger", span, self.n_runs, law_name)

    def __repr__(self) -> str:  # a REPL or notebook shows the summary, not the whole frame
        return self.describe()

    def describe(self) -> str:
        """A few human-readable lines: number of runs and the ranges of N, D, C and loss."""
        head = f"{self.n_runs} runs from {self.source}"
        if self.excluded:
            head += f" ({self.excluded} left out by the row filters)"
        lines = [head] + ([f"      selected: {self.selection}"] if self.selection else [])
        if not self.has_sizes:
            lines.append("N, D  not given: compute and loss only (laws in compute alone)")
        for var in ("N", "D", "C", "U")[: 4 if self.has_U else 3]:
            if var in ("N", "D") and not self.has_sizes:
                continue
            values = getattr(self, var)
            col = self.columns.get(var, var)
            if var in self.multipliers:
                col += f" × {self.multipliers[var]:g}"
            if var == "N" and self.n_convention != "unstated":
                col += f"; {self.n_convention} count"
            lines.append(
                f"{var:<5} {_fmt(values.min())} – {_fmt(values.max())} {UNITS[var]} "
                f"({_counted(var, values)}; column {col})"
            )
        if self.has_U:
            repeated = int(np.sum(self.D > self.U))
            lines.append(f"      {repeated} of {self.n_runs} runs repeat data (D > U; up to "
                         f"{np.max(self.D / self.U):.3g} epochs)")
        lines.append(f"loss  {self.loss.min():.4g} – {self.loss.max():.4g} {self.loss_unit} "
                     f"(column {self.columns.get('loss', 'loss')})")
        for dim, labels in self.levels.items():
            counts = np.bincount(self.codes(dim), minlength=len(labels))
            shown = ", ".join(f"{label} ({n})" for label, n in list(zip(labels, counts))[:MAX_LISTED])
            more = f", … {len(labels) - MAX_LISTED} more" if len(labels) > MAX_LISTED else ""
            lines.append(f"{dim:<5} {len(labels)} levels (column {self.columns.get(dim)}): {shown}{more}")
        return "\n".join(lines)


def _fmt(x: float) -> str:
    """Format a number compactly: 5.7e7 rather than 5.7e+07."""
    return sci(x, 2)


def check_n_convention(value: str) -> str:
    """Return ``value`` if it names a way of counting N, else raise :class:`RunsError`."""
    if value not in N_CONVENTIONS:
        raise RunsError(f"unknown N convention {value!r}: say how N counts parameters with one of "
                        f"{', '.join(N_CONVENTIONS)} (total = with the embeddings, as Hoffmann et al.; "
                        "non-embedding, as Kaplan et al.)")
    return value


def _counted(var: str, values: np.ndarray) -> str:
    """'6 sizes', '1 budget': distinct values to six figures (6ND's float noise is one budget)."""
    count = len(np.unique(np.round(np.log10(values), 6)))
    return f"{count} {COUNTED[var] if count != 1 else COUNTED[var].removesuffix('s')}"


def _listed(items: list[str]) -> str:
    """Join at most MAX_LISTED items, then 'and K more'."""
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")
