"""Law uncertainty: combine fits of different laws to the same runs into one answer.

Each law's per-draw optimum is resampled in proportion to its stacking weight (Yao, Vehtari,
Simpson and Gelman 2018): weights that maximise the log score of the mixture's predictions,
from PSIS-LOO (``"loo"``, the runs themselves) or from leave-future-out (``"lfo"``: each law
refitted below the top compute and scored on it, which rewards laws that extrapolate;
:mod:`bayescale.decisions.stacking`). An isoFLOP analysis may join for N* and D*. The
mixture's intervals then hold the spread between laws as well as within them; ``law_share``
says how much of each interval's width the choice of law accounts for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayescale.decisions.stacking import has_loss, lfo_weights, loo_weights, loss_weights, stacking_weights
from bayescale.results.optimum import Optimum, interval

__all__ = ["Ensemble", "ensemble", "loo_weights", "stacking_weights"]

_MIXTURE_DRAWS = 4000
#: Said when PSIS-LOO gives an isoFLOP analysis most of the weight (bench/README.md, "Where held-out isoFLOP curves bottom out").
LOO_WITH_ISOFLOP = ("the isoFLOP analysis takes {share:.0%} of the weight: PSIS-LOO weighs how well each model explains "
                    "the runs it was fitted to, not how well it extrapolates, and parabolas of three parameters per "
                    "budget explain isoFLOP runs closely (on 15 real sweeps they took 0.86-1.00 of the weight). "
                    "Leave-future-out weights (--weights lfo; weights='lfo') score each model's N* at the minima of "
                    "held-out larger budgets instead.")


def _width(values: np.ndarray, prob: float, log: bool) -> float:
    _, lo, hi = interval(np.log(values) if log else values, prob)
    return float(hi - lo)


@dataclass(frozen=True)
class Ensemble:
    """The stacked mixture of several laws' optima.

    Attributes
    ----------
    optimum : Optimum
        Mixture draws of N*, D*, L* (and L* predictive) per budget.
    weights : dict
        Law label -> stacking weight.
    method : str
        ``"loo"``, ``"lfo"``, or ``"given"`` (weights the caller knew already).
    per_law : dict
        Law label -> that law's own :class:`Optimum`.
    loss_weights : dict or None
        Law label -> its weight in L*, when it differs from ``weights``: an isoFLOP analysis in
        the ensemble gives N* and D* but no loss at a new budget, so L* mixes the laws alone.
    notes : tuple of str
        What the reader should know about the weights.
    """

    optimum: Optimum
    weights: dict[str, float]
    method: str
    per_law: dict[str, Optimum]
    loss_weights: dict[str, float] | None = None
    notes: tuple[str, ...] = ()

    def law_share(self, prob: float = 0.95) -> list[dict[str, float]]:
        """Per budget: 1 − (weighted mean of the laws' own interval widths) / (the mixture's width).

        0 means the laws agree and the width is each law's own uncertainty; near 1, the laws
        disagree and the choice of law is most of the uncertainty. N* and D* widths are in log.
        """
        out = []
        for j in range(self.optimum.compute.size):
            shares = {}
            for name, log in (("N_opt", True), ("D_opt", True), ("L_opt", False)):
                weights = self.loss_weights if name == "L_opt" and self.loss_weights else self.weights
                mixture = _width(getattr(self.optimum, name)[:, j], prob, log)
                within = sum(w * _width(getattr(self.per_law[k], name)[:, j], prob, log) for k, w in weights.items() if w > 0)
                shares[name] = float(np.clip(1.0 - within / mixture, 0.0, 1.0)) if mixture > 0 else 0.0
            out.append(shares)
        return out

    def to_records(self, prob: float = 0.95) -> list[dict]:
        """As :meth:`Optimum.to_records`, with ``weights``, ``weights_from`` and ``law_share``."""
        records = self.optimum.to_records(prob)
        for record, share in zip(records, self.law_share(prob)):
            record.update({"weights": dict(self.weights), "weights_from": self.method, "law_share": share})
            if self.loss_weights:
                record["loss_weights"] = dict(self.loss_weights)
            if self.notes:
                record["notes"] = list(self.notes)
        return records

    def to_dict(self, prob: float = 0.95) -> list[dict]:
        """JSON-able form: the records."""
        return self.to_records(prob)

    def format(self, prob: float = 0.95) -> str:
        """The mixture's table, the weights and the share of the width that is the choice of law."""
        how = {"loo": "PSIS-LOO", "lfo": "leave-future-out"}.get(self.method, "the caller")
        kind = "laws" if self.loss_weights is None else "models"  # an isoFLOP analysis is no law
        lines = [f"stacked over {len(self.weights)} {kind} (weights from {how}): "
                 + ", ".join(f"{k} {w:.2f}" for k, w in self.weights.items())]
        if self.loss_weights:
            lines.append("L* from the laws alone (an isoFLOP analysis has no loss at a new budget), weights: "
                         + ", ".join(f"{k} {w:.2f}" for k, w in self.loss_weights.items() if w > 0))
        lines += [f"note: {note}" for note in self.notes]
        lines.append(self.optimum.format(prob))
        for budget, share in zip(self.optimum.compute, self.law_share(prob)):
            lines.append(f"C = {budget:.3g}: the choice of law is {share['N_opt']:.0%} of the N* interval's width, "
                         f"{share['L_opt']:.0%} of L*'s")
        return "\n".join(lines)

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        return self.format()


def ensemble(
    fits: Sequence[Any],
    budgets: Any,
    *,
    weights: str | Sequence[float] = "loo",
    holdout_top: float = 0.25,
    unique_tokens: float | None = None,
    seed: int = 0,
    settings: Any = None,
) -> Ensemble:
    """Stack fits of different laws to the same runs and give N*, D*, L* from the mixture.

    Parameters
    ----------
    fits : sequence of Fit or IsoflopFit
        Two or more fits of the same runs (same data hash) in one loss unit, at least one of a
        law. An isoFLOP analysis of every run of the table may join: it adds its power law's N*
        and D* (a new budget's minimum, scattered by its ``tau``, as the predictive N*) and no L*,
        which then mixes the laws alone (``Ensemble.loss_weights``).
    budgets : sequence of float
        Compute budgets in FLOPs.
    weights : {"loo", "lfo"} or sequence of float
        Stacking on PSIS-LOO densities of the runs, or on the densities of the top
        ``holdout_top`` compute runs under each law refitted below them (with an isoFLOP
        analysis: of the minima of the held-out isoFLOP curves under each model's N* there);
        or the weights themselves, one per fit, when they are known already. See
        :mod:`bayescale.decisions.stacking`.
    seed : int
        Seeds the resampling of the mixture and the predictive draws.
    settings : SamplerSettings, optional
        For the ``"lfo"`` refits; by default each fit's own.

    Raises
    ------
    bayescale.decisions.comparison.CompareError
        If the fits are fewer than two, repeated, of different runs or loss units.
    bayescale.BayescaleError
        If no fit is of a law, or ``weights="lfo"`` with an isoFLOP analysis and no held-out
        budget that is an isoFLOP curve.
    """
    from bayescale.decisions.comparison import _labels, check_compatible, common_runs, common_runs_note
    from bayescale.errors import BayescaleError

    check_compatible(fits, "an ensemble")
    labels = _labels(fits)
    with_loss = has_loss(fits)
    if not with_loss.any():
        raise BayescaleError("an ensemble needs at least one fit of a law: isoFLOP analyses give N* and D* at a new "
                             "budget, not L*")
    notes: list[str] = []
    if not isinstance(weights, str):  # weights already known (e.g. a comparison's), not recomputed
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(fits),) or np.any(w < 0) or w.sum() <= 0:
            raise BayescaleError(f"weights must be 'loo', 'lfo' or {len(fits)} non-negative numbers, one per fit")
        weights = "given"
    elif weights == "loo":
        w = loo_weights(fits)
        common = common_runs(fits)
        if common is not None:
            notes.append(common_runs_note(common))
    elif weights == "lfo":
        w, w_loss, notes = lfo_weights(fits, holdout_top, settings, unique_tokens)
    else:
        raise BayescaleError(f"unknown weights {weights!r}: use 'loo' (PSIS-LOO) or 'lfo' (leave-future-out)")
    w = w / w.sum()
    if weights != "lfo":
        w_loss = loss_weights(fits, w, weights)
    per_law = {label: fit.optimum(budgets, unique_tokens=unique_tokens, seed=seed)
               if with_loss[i] and "U" in fit.law.variables else fit.optimum(budgets, seed=seed)
               for i, (label, fit) in enumerate(zip(labels, fits))}
    rng = np.random.default_rng(seed)

    def draw_picks(weights: np.ndarray) -> dict[str, np.ndarray]:
        """Which draws of each model the mixture takes, in proportion to ``weights``."""
        counts = rng.multinomial(_MIXTURE_DRAWS, weights)
        return {label: rng.integers(0, per_law[label].N_opt.shape[0], n) for label, n in zip(labels, counts)}

    picks = draw_picks(w)
    loss_picks = picks if with_loss.all() else draw_picks(w_loss)  # L* from the laws alone

    def stack(name: str, chosen: dict[str, np.ndarray]) -> np.ndarray:
        """Each model's ``name`` at its picks (a model without a miss contributes its own optimum)."""
        def draws(optimum: Optimum) -> np.ndarray:
            found = getattr(optimum, name)
            if name == "predictive_edge":  # a model without the learned tilt stops at no edge
                return found if found is not None else np.zeros(optimum.N_opt.shape, dtype=np.int8)
            return found if found is not None else getattr(optimum, name.removesuffix("_predictive"))

        return np.concatenate([draws(per_law[label])[idx] for label, idx in chosen.items()], axis=0)

    first = per_law[labels[int(np.argmax(with_loss))]]
    moved = any(opt.N_opt_predictive is not None for opt in per_law.values())
    what = "stacked mixture of laws" if with_loss.all() else "stacked mixture of models"
    mixture = Optimum(first.compute, stack("N_opt", picks), stack("D_opt", picks), stack("L_opt", loss_picks),
                      stack("tokens_per_param", picks), what, first.loss_unit, first.unique_tokens,
                      stack("L_opt_predictive", loss_picks), first.n_convention,
                      N_opt_predictive=stack("N_opt_predictive", picks) if moved else None,
                      D_opt_predictive=stack("D_opt_predictive", picks) if moved else None,
                      predictive_edge=stack("predictive_edge", picks) if moved else None)
    by_loss = None if with_loss.all() else {label: float(x) for label, x in zip(labels, w_loss)}
    iso_weight = float(w[~with_loss].sum())
    if weights == "loo" and iso_weight >= 0.5:
        notes.append(LOO_WITH_ISOFLOP.format(share=iso_weight))
    return Ensemble(mixture, {label: float(x) for label, x in zip(labels, w)}, weights, per_law, by_loss, tuple(notes))
