"""The real ladders of ../shared/data that leave-future-out measurements and the extrapolation prior use.

A ladder is one table of runs from one setup (one data set, one recipe) that a single law should
describe. Each has a source (the paper or project it comes from): leave-one-source-out keeps the
15 Porian setups, which share a code base, from vouching for one another.
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
