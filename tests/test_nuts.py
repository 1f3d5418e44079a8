"""Real NUTS fits: few, shared per session, marked ``nuts``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import CHINCHILLA, ROOT, TRUE, model_point

from bayescale.cli import main

pytestmark = pytest.mark.nuts


def test_example_fit_passes_gates_and_covers_truth(example_nuts_fit):
    from bayescale.laws.law import Scales
    from bayescale.laws.law_file import load_law
    from bayescale.results.optimum import compute_optimum

    assert example_nuts_fit.gates.passed, str(example_nuts_fit.gates)
    truth = compute_optimum(load_law("chinchilla"), {k: np.array([v]) for k, v in TRUE.items()}, Scales(), [1e21])
    record = example_nuts_fit.optimum([1e21]).to_records(0.95)[0]
    assert record["N_opt"]["lower"] < truth.N_opt[0, 0] < record["N_opt"]["upper"]
    physical = example_nuts_fit.summary().physical
    assert physical.loc["A", "lower"] < TRUE["A"] < physical.loc["A", "upper"]


def test_pointwise_log_likelihood_matches_pymc(example_nuts_fit):
    """The NumPy log-likelihood (computed from the draws: not stored by default) equals the PyMC
    model's, draw by draw."""
    from bayescale.inference.model import OBSERVED, build_model

    fit = example_nuts_fit
    model = build_model(fit.law, fit.runs, fit.scales)
    pointwise = model.compile_logp(vars=[model[OBSERVED]], sum=False)
    assert "log_likelihood" not in fit.tree.children
    stored = fit.log_likelihood()
    draws = fit.draws(flat=False)
    for chain, draw in [(0, 0), (1, 17), (3, 99)]:
        point = model_point(model, fit.law, {name: values[chain, draw] for name, values in draws.items()})
        np.testing.assert_allclose(pointwise(point)[0], stored[chain, draw], rtol=1e-10)


def test_same_seed_same_posterior(example_nuts_fit):
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import fit

    again = fit(example_nuts_fit.runs, "chinchilla", settings=SamplerSettings(seed=7, progressbar=False))
    for name, values in example_nuts_fit.draws().items():
        np.testing.assert_array_equal(again.draws()[name], values)


def test_cli_fit_end_to_end(tmp_path, capsys):
    out = tmp_path / "fit.nc"
    code = main(["fit", str(ROOT / "data" / "example_runs.csv"), "--out", str(out), "--seed", "3", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and out.exists()
    assert data["gates"]["passed"] is True
    code = main(["optimum", str(out), "--compute", "1e21", "--json"])
    record = json.loads(capsys.readouterr().out)[0]
    assert code == 0 and 1e9 < record["N_opt"]["median"] < 4e9


def test_chinchilla_real_table_passes_gates(tmp_path):
    """Epoch's digitized Chinchilla runs (240 after their outlier rule) must pass the gates."""
    if not CHINCHILLA.exists():
        pytest.skip("shared Chinchilla data not present")
    from bayescale.data.reading import read_runs
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import fit

    runs = read_runs(CHINCHILLA, exclude_where=["epoch_excluded_outlier=1"])
    result = fit(runs, "chinchilla", settings=SamplerSettings(seed=0, progressbar=False))
    assert result.gates.passed, str(result.gates)
    record = result.optimum([5.76e23]).to_records()[0]
    n = record["N_opt"]
    # The data alone decide; we only ask for a finite, ordered interval in a sane range.
    assert 1e9 < n["lower"] < n["median"] < n["upper"] < 1e13


def test_sampler_threads_keep_their_python_thread_state(monkeypatch):
    """nutpie's Rust threads call the log density through the GIL API; without a state of their
    own, each call built and tore down a Python thread state (40% of a small fit's time). The
    keeper takes one per thread, on its first call only."""
    import threading

    import bayescale as bs
    from bayescale.inference import sampling

    calls = []
    real = sampling._ENSURE

    def counting():
        calls.append(threading.get_native_id())
        return real()

    monkeypatch.setattr(sampling, "_ENSURE", counting)
    runs = bs.read_runs(ROOT / "data" / "example_runs.csv")
    fit = bs.fit(runs, "chinchilla", noise="normal", retries=0,
                 settings=bs.SamplerSettings(chains=2, draws=50, tune=50, progressbar=False))
    assert fit.draws()["E"].size == 100
    assert calls, "the sampler's threads were never kept"
    assert len(calls) == len(set(calls)), f"kept again on the same thread: {len(calls)} calls, {len(set(calls))} threads"


def test_nutpie_imported_without_arviz_until_it_reaches_for_it():
    """The fit path imports nutpie with a stand-in for ``arviz`` (1 s of arviz-stats and
    arviz-plots for converters we do not call); nutpie still gets the real package when it asks."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from bayescale.inference.sampling import _import_nutpie\n"
            "_import_nutpie()\n"
            "assert not {'arviz', 'arviz_base', 'arviz_stats'} & set(sys.modules), 'arviz imported'\n"
            "converter = sys.modules['nutpie.sample'].arviz.from_dict\n"
            "import arviz\n"
            "assert converter is arviz.from_dict, 'the stand-in did not reach the real arviz'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_draws_do_not_depend_on_where_the_chains_ran(example_nuts_fit, monkeypatch):
    """Chains sampled on forked children or all in this process give the same
    draws bit for bit (the compiled model is the shared fit's, reused)."""
    from bayescale.data.reading import read_runs
    from bayescale.inference import shards
    from bayescale.inference.model import compiled_law_model
    from bayescale.inference.sampling import SamplerSettings, sample
    from bayescale.laws.law_file import load_law

    law = load_law("chinchilla")
    compiled = compiled_law_model(law, read_runs(ROOT / "data" / "example_runs.csv"))
    settings = SamplerSettings(draws=60, tune=60, seed=5, progressbar=False)
    monkeypatch.setenv(shards.ENVIRONMENT, "0")
    first = sample(compiled, law.priors, settings)
    monkeypatch.setenv(shards.ENVIRONMENT, "1")  # everything here, one shard after the other
    second = sample(compiled, law.priors, settings)
    for group in ("posterior", "sample_stats"):
        a, b = first[group].to_dataset(), second[group].to_dataset()
        assert a.sizes["chain"] == 4 and all(np.array_equal(a[k], b[k]) for k in a.data_vars), group
    assert not np.array_equal(a["logp"][0], a["logp"][2])  # the shards' chains are not copies


def test_log_density_compiled_afresh_equals_the_one_from_the_cache(tmp_path):
    """A law's log density compiled afresh and the same function loaded from numba's cache give
    the same bits. With fast-math they did not (LLVM reassociated sums across inlined functions),
    so a law's first fit on a machine drew other draws than later fits with the same seed."""
    import os
    import subprocess
    import sys

    code = ("import hashlib, numpy as np\n"
            "from bayescale.data.reading import read_runs\n"
            "from bayescale.inference.model import compiled_law_model\n"
            "from bayescale.laws.law_file import load_law\n"
            f"runs = read_runs({str(ROOT / 'data' / 'example_runs.csv')!r})\n"
            "compiled = compiled_law_model(load_law('kaplan'), runs)\n"
            "digest, rng = hashlib.sha256(), np.random.default_rng(0)\n"
            "for _ in range(50):\n"
            "    logp, grad = compiled.function(compiled.center + rng.normal(0, 0.3, compiled.ndim))\n"
            "    digest.update(np.asarray(logp).tobytes() + np.asarray(grad).tobytes())\n"
            "print(digest.hexdigest())\n")
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}"}  # a cache of this test's own, empty at first
    digests = []
    for _ in range(2):  # compiled afresh, then loaded from the cache the first run wrote
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        digests.append(done.stdout.strip())
    assert any((tmp_path / "numba").iterdir()), "the first run wrote nothing to numba's cache"
    assert digests[0] == digests[1], "the log density compiled afresh differs from the one loaded from the cache"
