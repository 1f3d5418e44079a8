"""Shared fixtures: fake posteriors (no sampler), example data, and one real NUTS fit per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CHINCHILLA = SHARED / "chinchilla_epoch" / "chinchilla_runs.csv"
#: Hoffmann et al. 2022's Approach-3 parameters, the truth of data/example_runs.csv.
TRUE = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}


def model_point(model, law, point: dict) -> dict:
    """The values of ``model``'s value variables at a point of the law's parameters: through the
    law's sampling coordinates where the model uses them, and each variable's transform."""
    from bayescale.inference.model import sampled_in_coordinates

    point = dict(point) | (law.sampling.to_sampler(point) if sampled_in_coordinates(law) else {})
    values = {}
    for rv in model.free_RVs:
        transform = model.rvs_to_transforms[rv]
        values[model.rvs_to_values[rv].name] = transform.forward(point[rv.name]).eval() if transform else point[rv.name]
    return values


def fake_fit(runs=None, *, chains: int = 4, draws: int = 500, spread: float = 0.02,
             diverged: int = 0, stuck_chain: bool = False, seed: int = 0, noise: str | None = None):
    """A Fit built from independent draws around the true law, without compiling anything.

    Parameters
    ----------
    spread : float
        Relative standard deviation of the draws around the true (normalized) values.
    stuck_chain : bool
        Shift one chain so that R-hat fails.
    noise : str, optional
        Another error model than the law file's; its extra parameters sit at 0.01.
    """
    from bayescale.data.reading import read_runs
    from bayescale.inference.model import scales_of
    from bayescale.laws.law_file import load_law
    from bayescale.results.fitting import assemble_fit

    law = load_law("chinchilla")
    law = law.with_noise(noise) if noise else law
    runs = runs or read_runs(ROOT / "data" / "example_runs.csv")
    scales = scales_of(runs)
    center = {
        "E": TRUE["E"],
        "A": TRUE["A"] / scales.N_ref ** TRUE["alpha"],
        "alpha": TRUE["alpha"],
        "B": TRUE["B"] / scales.D_ref ** TRUE["beta"],
        "beta": TRUE["beta"],
        "sigma": 0.01,
    }
    center |= {name: 0.01 for name in law.noise_parameters if name not in center}
    rng = np.random.default_rng(seed)
    posterior = {}
    for name, value in center.items():
        x = value * np.exp(spread * rng.standard_normal((chains, draws)))
        if stuck_chain:
            x[0] *= 1.0 + 10 * spread
        posterior[name] = (("chain", "draw"), x)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    diverging = np.zeros((chains, draws), dtype=bool)
    diverging.flat[:diverged] = True
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)}, coords=coords)
    return assemble_fit(law, runs, scales, xr.Dataset(posterior, coords=coords), stats,
                        {"chains": chains, "draws": draws, "seed": seed, "fake": True})


@pytest.fixture(scope="session")
def example_fake_fit():
    """A converged fake fit of the example runs."""
    return fake_fit()


@pytest.fixture(scope="session")
def unconverged_fake_fit():
    """A fake fit that fails the R-hat gate and has divergences."""
    return fake_fit(stuck_chain=True, diverged=3)


@pytest.fixture(scope="session")
def example_nuts_fit():
    """One real NUTS fit of the example runs, shared by every test that needs one."""
    from bayescale.data.reading import read_runs
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import fit

    return fit(read_runs(ROOT / "data" / "example_runs.csv"), "chinchilla", settings=SamplerSettings(seed=7, progressbar=False))


def compute_only_fit(sizes: bool = True):
    """A fake fit of a law of compute alone (no N/D trade-off, hence no optimum); of the example
    runs' compute and loss alone when not ``sizes``."""
    import xarray as xr

    from bayescale.data.reading import read_runs
    from bayescale.inference.model import scales_of
    from bayescale.laws.law_file import load_law
    from bayescale.results.fitting import assemble_fit

    runs = read_runs(ROOT / "data" / "example_runs.csv")
    if not sizes:
        from bayescale.data.reading import runs_from_frame

        runs = runs_from_frame(runs.frame[["C", "loss"]])
    rng = np.random.default_rng(3)
    center = {"L0": 2.3, "f": 0.75, "gamma": 0.1, "sigma": 0.03}
    posterior = xr.Dataset({k: (("chain", "draw"), v * np.exp(0.02 * rng.standard_normal((2, 300))))
                            for k, v in center.items()})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 300), dtype=bool))})
    return assemble_fit(load_law("compute_power"), runs, scales_of(runs), posterior, stats, {"fake": True})
