"""The real ladders of ../shared/data that leave-future-out measurements and the extrapolation prior use.

A ladder is one table of runs from one setup (one data set, one recipe) that a single law should
describe. Each has a source (the paper or project it comes from): leave-one-source-out keeps the
15 Porian setups, which share a code base, from vouching for one another.

:func:`unseen_ladders` are kept apart: final-loss tables made from ColPret's training curves (GPT-3
and OPT), which the extrapolation prior was never learned from. They score the shipped prior on
tables and laws it has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Ladder:
    name: str
    source: str
    path: str
    law: str
    options: dict = field(default_factory=dict)

    def read(self):
        import bayescale as bs

        return bs.read_runs(DATA / self.path, **self.options)


@dataclass(frozen=True)
class FinalLossLadder(Ladder):
    """A ladder of final losses read off training curves: per model, the median loss over the last
    ``tail`` share of its tokens (digitized curves scatter point to point), at its largest D."""

    select: dict = field(default_factory=dict)
    tail: float = 0.02

    def read(self):
        import pandas as pd

        import bayescale as bs

        curves = pd.read_csv(DATA / self.path)
        for column, value in self.select.items():
            curves = curves[curves[column] == value]
        rows = []
        for model, curve in curves.groupby("model_name"):
            top = curve.D_tokens.max()
            rows.append({"model": model, "N": curve.N_params.iloc[0], "D": top,
                         "loss": curve.loss[curve.D_tokens >= (1 - self.tail) * top].median()})
        return bs.runs_from_frame(pd.DataFrame(rows).sort_values("N"), source=f"{self.path} ({self.name})",
                                  **self.options)


def ladders() -> list[Ladder]:
    """Every ladder, in a fixed order."""
    out = [
        Ladder("chinchilla", "hoffmann2022", "chinchilla_epoch/chinchilla_runs.csv", "chinchilla",
               {"exclude_where": ["epoch_excluded_outlier=1"]}),
        Ladder("datablations", "muennighoff2023", "datablations_muennighoff/datablations_c4_final_losses.csv",
               "data_constrained"),
        Ladder("misfitting", "li2025", "misfitting_li/misfitting_best_lr_final.csv", "chinchilla", {"c_col": "C_6ND"}),
    ]
    out += [Ladder(f"gadre[{d}]", "gadre2024", "overtrain_gadre/overtrain_runs.csv", "chinchilla",
                   {"loss_col": "loss_c4_val", "c_col": "C_flops_6ND", "where": [f"dataset={d}"]})
            for d in ("c4_original", "rw_original", "rpj")]
    out += [_porian(i) for i in range(15)]
    return out


COLPRET_FILE = "colpret_hitchhiker/colpret_subset_long.csv"


def unseen_ladders() -> list[Ladder]:
    """Tables the extrapolation prior was not learned from. Final-loss tables from ColPret's curves,
    all trained to about 3e11 tokens, so a law in compute (equivalently in N) suits them: GPT-3's 8
    models (validation loss digitized from Brown et al. 2020, Fig. 4.1; ``compute_power``, 4
    parameters) and OPT's 6 (validation log-perplexity, Xia et al. 2023; ``compute_loglinear``, the
    one built-in law with few enough parameters for 4 runs). And the 25 open models of the
    compression table with a known D (bits per character)."""
    return [
        FinalLossLadder("colpret[gpt3]", "brown2020", COLPRET_FILE, "compute_power",
                        select={"family": "gpt3_digitized", "loss_kind": "val_loss"}),
        FinalLossLadder("colpret[opt]", "zhang2022", COLPRET_FILE, "compute_loglinear",
                        select={"family": "opt", "loss_kind": "val_log_ppl"}),
        # open models of many makers (Huang et al. 2024's compression leaderboard): not one recipe, so a
        # hard case for any law; the three of undisclosed D left out
        Ladder("compression", "huang2024", "compression_bpc_hkust/compression_bpc_with_N_D.csv", "chinchilla",
               {"n_col": "N_active_billions", "d_col": "D_trillions", "loss_col": "bpc_average",
                "exclude_where": ["D_trillions="]}),
    ]


PORIAN_FILE = "porian_isoflops/porian_isoflop_points.csv"
PORIAN = DATA / PORIAN_FILE


def _porian(config: int) -> Ladder:
    return Ladder(f"porian[{config}]", "porian2024", PORIAN_FILE, "chinchilla",
                  {"c_col": "flops_budget", "where": [f"config_id={config}"]})


def porian_sweeps(selected: str | None = None):
    """``(config, runs)`` of the 15 Porian isoFLOP sweeps, or of those listed (``"0,1,2"``)."""
    configs = [int(c) for c in selected.split(",")] if selected else range(15)
    for config in configs:
        yield config, _porian(config).read()
