"""The public API: names resolve, stay functions after submodule imports, and the layers hold."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bayescale

ROOT = Path(__file__).resolve().parent.parent


def test_no_public_name_is_also_a_module_or_package():
    modules = {info.name for info in pkgutil.iter_modules(bayescale.__path__)}
    assert "fit" not in modules
    assert not set(bayescale.__all__) & modules


def test_every_public_name_resolves_and_survives_importing_every_submodule():
    before = {name: getattr(bayescale, name) for name in bayescale.__all__}
    for info in pkgutil.walk_packages(bayescale.__path__, "bayescale."):
        if info.name.endswith("demo"):
            continue
        importlib.import_module(info.name)
    for name, value in before.items():
        assert getattr(bayescale, name) is value, name
    assert callable(bayescale.fit) and not isinstance(bayescale.fit, type(bayescale))


def test_one_public_exception_catches_bad_input():
    with pytest.raises(bayescale.BayescaleError, match="no law named"):
        bayescale.load_law("no_such_law")


@pytest.mark.nuts
def test_readme_python_example_runs_twice_in_one_session(tmp_path):
    """The README's example, twice in one interpreter: the second call once raised TypeError.

    It also leaves nothing in the temporary folder (PyTensor's generated source once stayed
    there, 15 to 30 files a fit) and keeps that source in bayescale's cache folder instead.
    """
    script = f"""
import bayescale as bs
for i in range(2):
    runs = bs.read_runs({str(ROOT / "data" / "example_runs.csv")!r})
    fit = bs.fit(runs, "chinchilla", settings=bs.SamplerSettings(seed=1, draws=200, tune=200, progressbar=False))
    assert fit.optimum([1e21]).N_opt.shape[-1] == 1
    fit.save({str(tmp_path / "fit.nc")!r}); same = bs.Fit.load({str(tmp_path / "fit.nc")!r})
    assert same.id == fit.id
print("ok twice")
"""
    temp, cache = tmp_path / "tmp", tmp_path / "cache"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "BAYESCALE_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ok twice" in out.stdout
    assert list(temp.iterdir()) == []
    assert any((cache / "pytensor-src").iterdir())


def test_the_bottom_layers_import_without_pymc():
    """laws and data are layer 1: importing them must not pull in PyMC, PyTensor or matplotlib."""
    script = (
        "import sys\n"
        "for blocked in ('pymc', 'pytensor', 'matplotlib', 'nutpie'): sys.modules[blocked] = None\n"
        "import bayescale.laws.law, bayescale.laws.priors, bayescale.laws.expr, bayescale.laws.flops\n"
        "import bayescale.data.runs, bayescale.data.units\n"
        "import bayescale as bs\n"
        "bs.load_law('chinchilla'); bs.read_runs(sys.argv[1])\n"
        "print('light')\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(ROOT / "data" / "example_runs.csv")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "light" in out.stdout


@pytest.mark.parametrize("entry", ["fit", "backtest", "fit_isoflop"])
def test_the_fitting_entry_points_take_a_seed(entry, monkeypatch):
    """``bs.fit(runs, seed=3)``, as a user writes it first, reaches the sampler (it was a
    TypeError: the seed lived only in ``settings``); it replaces the settings' seed."""
    import bayescale as bs
    import bayescale.inference.converge as converge
    import bayescale.results.fitting as fitting

    class Reached(Exception):
        pass

    def stop(model, priors, names, settings, retries):
        raise Reached(settings)

    monkeypatch.setattr(fitting, "sample_until_converged", stop)
    monkeypatch.setattr(converge, "sample_until_converged", stop)  # the isoFLOP fit imports it when called
    runs = bs.read_runs(ROOT / "data" / "example_runs.csv")
    call = {"fit": lambda **k: bs.fit(runs, "chinchilla", **k),
            "backtest": lambda **k: bs.backtest(runs, ["chinchilla"], **k),
            "fit_isoflop": lambda **k: bs.fit_isoflop(runs, **k)}[entry]
    reached = []
    for given in ({"seed": 3, "settings": bs.SamplerSettings(seed=9, draws=600)},
                  {"settings": bs.SamplerSettings(seed=3, draws=600)}, {"settings": bs.SamplerSettings(seed=9, draws=600)}):
        with pytest.raises(Reached) as got:
            call(**given)
        reached.append(got.value.args[0])
    # a backtest's refits get seeds derived from the user's: the same as from settings' seed 3
    assert reached[0].seed == reached[1].seed != reached[2].seed
    assert reached[0].draws >= 600
    if entry != "backtest":
        assert reached[0].seed == 3
