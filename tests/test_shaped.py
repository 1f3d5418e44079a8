"""Shaped parameters: a per-group parameter with a hierarchical prior, from law file to saved fit.

Most tests build fits from synthetic draws (no sampler); one real NUTS fit recovers per-group
floors from simulated runs and shows a second fit reuses the compiled model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import model_point

from bayescale.data.reading import runs_from_frame
from bayescale.errors import BayescaleError, LawFileError, PriorError, RunsError
from bayescale.laws.law_file import law_from_text

GROUPED = """
name = "grouped"
formula = "E[group] + A / N^alpha + B / D^beta"

[parameters.E]
dims = "group"
prior = { dist = "LogNormal", mu = { dist = "Normal", mu = 0.5, sigma = 0.5 }, sigma = { dist = "HalfNormal", sigma = 0.3 } }

[parameters.A]
prior = { dist = "LogNormal", mu = -1.0, sigma = 1.0 }

[parameters.alpha]
prior = { dist = "LogNormal", mu = -1.2, sigma = 0.5 }

[parameters.B]
prior = { dist = "LogNormal", mu = -1.0, sigma = 1.0 }

[parameters.beta]
prior = { dist = "LogNormal", mu = -1.2, sigma = 0.5 }

[noise]
sigma = { dist = "HalfNormal", sigma = 0.05 }

[physical]
A = "A * N_ref^alpha"
"""
TRUE = {"E": {"web": 1.8, "code": 1.2, "books": 1.5}, "A": 0.45, "alpha": 0.34, "B": 0.5, "beta": 0.3}


def _runs(seed: int = 0, per_group: int = 24, sigma: float = 0.01):
    rng = np.random.default_rng(seed)
    rows = []
    for group, e in TRUE["E"].items():
        n = np.exp(rng.uniform(np.log(1e7), np.log(1e9), per_group))
        d = np.exp(rng.uniform(np.log(1e9), np.log(1e11), per_group))
        mean = e + TRUE["A"] / (n / 1e8) ** TRUE["alpha"] + TRUE["B"] / (d / 1e10) ** TRUE["beta"]
        rows += [{"N": a, "D": b, "loss": m * np.exp(sigma * rng.standard_normal()), "source": group}
                 for a, b, m in zip(n, d, mean)]
    return runs_from_frame(pd.DataFrame(rows), group_col="source")


def test_a_hierarchical_prior_table_becomes_parameters_sampled_first():
    law = law_from_text(GROUPED)
    assert law.parameters.index("E_mu") < law.parameters.index("E")
    assert law.parameters.index("E_sigma") < law.parameters.index("E")
    assert law.priors["E"].references == ("E_mu", "E_sigma")
    assert law.dims == ("group",) and law.dims_of("E") == ("group",) and law.dims_of("A") == ()
    assert "per group" in str(law.priors["E"])


@pytest.mark.parametrize("edit, fragment", [
    (('formula = "E[group] +', 'formula = "E +'), "write it E[group] in the formula"),
    (('dims = "group"\n', ''), 'needs dims = "group"'),
    (('E[group]', 'E[batch]'), "'batch' is not a dim"),
    (('mu = { dist = "Normal", mu = 0.5, sigma = 0.5 }', 'mu = "E_loc"'), "refers to 'E_loc'"),
    (('A / N^alpha', 'A / N[group]^alpha'), "indexes the run variable N"),
])
def test_structure_errors_name_the_fix(edit, fragment):
    with pytest.raises(LawFileError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        law_from_text(GROUPED.replace(*edit))


def test_prior_overrides_may_not_break_the_structure():
    law = law_from_text(GROUPED)
    with pytest.raises(PriorError, match="cycle"):
        law.with_priors({"E_mu": {"dist": "Normal", "mu": "E_sigma", "sigma": 1.0},
                         "E_sigma": {"dist": "HalfNormal", "sigma": "E_mu"}})
    assert law.with_priors({"E_sigma": {"sigma": 0.1}}).priors["E_sigma"].args["sigma"] == 0.1


def test_runs_carry_group_levels_and_codes():
    runs = _runs()
    assert runs.levels == {"group": ("books", "code", "web")}
    assert np.bincount(runs.codes("group")).tolist() == [24, 24, 24]
    assert "group 3 levels (column source)" in runs.describe()
    plain = runs_from_frame(runs.frame[["N", "D", "C", "loss"]])
    assert plain.data_hash != runs.data_hash
    with pytest.raises(RunsError, match="--group-col"):
        plain.codes("group")
    with pytest.raises(RunsError, match="no column 'nope'"):
        runs_from_frame(runs.frame, group_col="nope")


def test_the_graph_equals_the_numpy_log_likelihood_with_groups():
    from bayescale.inference.model import OBSERVED, build_model, scales_of
    from bayescale.results.fitted import law_inputs

    law, runs = law_from_text(GROUPED), _runs()
    scales = scales_of(runs)
    model = build_model(law, runs, scales)
    point = {"E_mu": 0.4, "E_sigma": 0.2, "E": np.array([1.5, 1.2, 1.8]), "A": 0.5, "alpha": 0.3, "B": 0.5,
             "beta": 0.3, "sigma": 0.02}
    graph = model.compile_logp(vars=[model[OBSERVED]], sum=False)(model_point(model, law, point))[0]
    numpy = law.log_likelihood({k: point[k] for k in law.all_parameters}, scales, runs.loss, **law_inputs(law, runs))
    # PyTensor's rewrites of the power terms move mu by ~1e-9, which a point far from the data
    # (residuals of many sigma) magnifies; a wrong group would be off by order one
    np.testing.assert_allclose(graph, numpy, atol=1e-5)
    assert model.named_vars_to_dims["E"] == ("group",)


def _fake(runs, spread=0.01, seed=0, log_likelihood=False):
    from bayescale.inference.model import scales_of
    from bayescale.results.fitting import assemble_fit

    law, scales = law_from_text(GROUPED), scales_of(runs)
    rng = np.random.default_rng(seed)
    shape = (4, 300)
    center = {"E_mu": 0.4, "E_sigma": 0.2, "A": TRUE["A"] * (1e8 / scales.N_ref) ** TRUE["alpha"], "alpha": 0.34,
              "B": TRUE["B"] * (1e10 / scales.D_ref) ** TRUE["beta"], "beta": 0.3, "sigma": 0.01}
    posterior = {k: (("chain", "draw"), v * np.exp(spread * rng.standard_normal(shape))) for k, v in center.items()}
    e = np.array([TRUE["E"][g] for g in runs.levels["group"]])
    posterior["E"] = (("chain", "draw", "group"), e * np.exp(spread * rng.standard_normal((*shape, 3))))
    coords = {"chain": np.arange(4), "draw": np.arange(300), "group": list(runs.levels["group"])}
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros(shape, bool))}, coords=coords)
    return assemble_fit(law, runs, scales, xr.Dataset(posterior, coords=coords), stats, {"fake": True},
                        log_likelihood=log_likelihood)


def test_a_grouped_fit_summarizes_predicts_and_optimizes_per_group(tmp_path):
    from bayescale.results.fitted import Fit

    fit = _fake(_runs())
    table = fit.summary().table
    assert {"E[books]", "E[code]", "E[web]", "E_mu", "A"} <= set(table.index)
    assert table.loc["E[code]", "median"] == pytest.approx(1.2, rel=0.01)
    assert set(fit.summary().physical.index) >= {"A[code]", "A[web]"}
    assert fit.draws()["E"].shape == (1200, 3) and fit.draws(group="web")["E"].shape == (1200,)

    with pytest.raises(BayescaleError, match="say which group"):
        fit.predict(N=1e9, D=2e10)
    with pytest.raises(BayescaleError, match="no group 'wiki'"):
        fit.predict(N=1e9, D=2e10, group="wiki")
    code = fit.predict(N=1e9, D=2e10, group="code").to_records()[0]["loss"]["median"]
    web = fit.predict(N=1e9, D=2e10, group="web").to_records()[0]["loss"]["median"]
    assert web - code == pytest.approx(0.6, abs=0.02)
    both = fit.predict(N=[1e9, 1e9], D=[2e10, 2e10], group=["code", "web"]).to_records()
    assert both[0]["loss"]["median"] == pytest.approx(code) and both[1]["loss"]["median"] == pytest.approx(web)

    opt_code, opt_web = fit.optimum([1e21], group="code"), fit.optimum([1e21], group="web")
    assert np.median(opt_web.L_opt) - np.median(opt_code.L_opt) == pytest.approx(0.6, abs=0.02)
    with pytest.raises(BayescaleError, match="say which group"):
        fit.optimum([1e21])

    path = fit.save(tmp_path / "grouped.nc")
    loaded = Fit.load(path)
    assert loaded.tree.attrs["bayescale_schema"] == 2
    assert "log_likelihood" not in loaded.tree.children  # stored only when asked for
    assert list(loaded.tree["posterior"]["E"].coords["group"].values) == ["books", "code", "web"]
    assert loaded.runs.levels == fit.runs.levels and loaded.runs.data_hash == fit.runs.data_hash
    assert loaded.log_likelihood().shape == (4, 300, 72)
    assert np.all(np.isfinite(loaded.log_likelihood()))

    kept = Fit.load(_fake(_runs(), log_likelihood=True).save(tmp_path / "kept.nc"))  # asked to store it
    assert "log_likelihood" in kept.tree.children and kept.attrs["fit_id"] == fit.id
    np.testing.assert_allclose(kept.log_likelihood(), loaded.log_likelihood(), rtol=1e-12)


@pytest.mark.nuts
def test_nuts_recovers_per_group_floors_and_reuses_the_compiled_model():
    from bayescale.inference import model as model_module
    from bayescale.inference.sampling import SamplerSettings
    from bayescale.results.fitting import fit

    law = law_from_text(GROUPED)
    settings = SamplerSettings(seed=3, progressbar=False)
    first = fit(_runs(seed=1), law, settings=settings)
    assert first.gates.passed, str(first.gates)
    table = first.summary().table
    for group, e in TRUE["E"].items():
        row = table.loc[f"E[{group}]"]
        assert row["lower"] < e < row["upper"]
    compiled = dict(model_module._COMPILED)
    second = fit(_runs(seed=2, per_group=20), law, settings=settings)  # other runs, same law
    assert dict(model_module._COMPILED) == compiled  # nothing new compiled
    assert second.runs.n_runs == 60 and second.gates.passed


def test_the_command_line_answers_per_group(tmp_path, capsys):
    import json

    from bayescale.cli import EXIT_INPUT, main

    path = str(_fake(_runs()).save(tmp_path / "grouped.nc"))
    assert main(["predict", path, "--n", "1e9", "--d", "2e10", "--group", "code", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)[0]
    assert record["group"] == "code" and 1.2 < record["loss"]["median"] < 2.5
    assert main(["optimum", path, "-c", "1e21", "--group", "web", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["L_opt"]["median"] > 1.8
    assert main(["optimum", path, "-c", "1e21"]) == EXIT_INPUT
    assert "say which group" in capsys.readouterr().err
    assert main(["inverse", path, "--target-loss", "2.5"]) == EXIT_INPUT
    assert "--group" in capsys.readouterr().err
    assert main(["summary", path]) == 0
    assert "E[web]" in capsys.readouterr().out


def test_physical_parameters_with_two_dims_come_per_pair_of_levels():
    from bayescale.inference.model import scales_of
    from bayescale.results.fitting import assemble_fit

    text = GROUPED.replace("E[group] + A / N^alpha", "E[group] + A[family] / N^alpha").replace(
        "[parameters.A]\n", '[parameters.A]\ndims = "family"\n')
    law = law_from_text(text)
    assert law.dims == ("group", "family")
    frame = _runs().frame.copy()
    frame["source"] = np.array(["books", "code", "web"])[frame["group"]]
    frame["arch"] = np.where(np.arange(len(frame)) % 2, "moe", "dense")
    runs = runs_from_frame(frame[["N", "D", "loss", "source", "arch"]], group_col="source", family_col="arch")
    rng = np.random.default_rng(0)
    shape = (2, 100)
    posterior = {k: (("chain", "draw"), v * np.exp(0.01 * rng.standard_normal(shape)))
                 for k, v in {"E_mu": 0.4, "E_sigma": 0.2, "alpha": 0.34, "B": 0.5, "beta": 0.3, "sigma": 0.01}.items()}
    posterior["E"] = (("chain", "draw", "group"), 1.5 + 0.01 * rng.standard_normal((*shape, 3)))
    posterior["A"] = (("chain", "draw", "family"),
                      np.array([0.4, 0.6]) * np.exp(0.01 * rng.standard_normal((*shape, 2))))
    coords = {"chain": np.arange(2), "draw": np.arange(100), "group": list(runs.levels["group"]),
              "family": list(runs.levels["family"])}
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros(shape, bool))}, coords=coords)
    fit = assemble_fit(law, runs, scales_of(runs), xr.Dataset(posterior, coords=coords), stats, {"fake": True})
    physical = fit.summary().physical
    assert len(physical) == 6 and "A[web,moe]" in physical.index
    scale = scales_of(runs).N_ref ** 0.34
    assert physical.loc["A[code,moe]", "median"] == pytest.approx(0.6 * scale, rel=0.05)
    assert physical.loc["A[code,dense]", "median"] == pytest.approx(0.4 * scale, rel=0.05)
