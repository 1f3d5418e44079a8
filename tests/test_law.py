"""Tests for bayescale.laws.law: loading law files, evaluating them, and rejecting malformed ones."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayescale.errors import LawFileError, PriorError
from bayescale.laws.law import Law, Scales
from bayescale.laws.law_file import available_laws, law_from_text, load_law
from bayescale.laws.priors import Prior

PARAMS = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}

#: A minimal valid law; tests below break one thing at a time.
GOOD = """\
schema = 1
name = "mini"
formula = "E + A / N^alpha + B / D^beta"

[parameters.E]
prior = { dist = "LogNormal", mu = 0.5, sigma = 1.0 }
[parameters.A]
prior = { dist = "LogNormal", mu = -1.0, sigma = 1.5 }
[parameters.alpha]
prior = { dist = "LogNormal", mu = -1.2, sigma = 0.6 }
[parameters.B]
prior = { dist = "LogNormal", mu = -1.0, sigma = 1.5 }
[parameters.beta]
prior = { dist = "LogNormal", mu = -1.2, sigma = 0.6 }
"""


@pytest.fixture(scope="module")
def chin() -> Law:
    return load_law("chinchilla")


# --- the built-in law -------------------------------------------------------------------------


def test_chinchilla_structure(chin):
    assert chin.name == "chinchilla"
    assert chin.variables == ("N", "D")
    assert chin.parameters == ("E", "A", "alpha", "B", "beta")
    assert chin.noise == "discrepancy"  # the default error model (noise.DEFAULT_NOISE)
    assert chin.noise_parameters == ("sigma",)
    assert chin.all_parameters == ("E", "A", "alpha", "B", "beta", "sigma")
    assert set(chin.priors) >= set(chin.all_parameters) | {"nu"}
    assert chin.priors["E"] == Prior("LogNormal", {"mu": 0.5, "sigma": 1.0})
    assert chin.priors["sigma"] == Prior("HalfNormal", {"sigma": 0.1})
    assert set(chin.physical) == {"A", "B"}
    assert set(chin.optimum) == {"N"}
    assert len(chin.references) == 2
    assert chin.sha256.startswith("sha256:") and len(chin.sha256) == 7 + 64
    text = chin.describe()
    for name in chin.all_parameters:
        assert name in text


def test_available_laws_contains_chinchilla():
    laws = available_laws()
    assert "chinchilla" in laws
    assert laws["chinchilla"].name == "chinchilla.toml"
    assert laws["chinchilla"].is_file()


def test_loss_unit_scales_matches_hand_formula(chin):
    N = np.array([7e7, 1e9, 7e10])
    D = np.array([1.4e9, 2e10, 1.4e12])
    got = chin.loss(PARAMS, Scales(1, 1, 1, 1), N=N, D=D)
    p = PARAMS
    expected = p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_loss_normalizes_by_reference_scales(chin):
    scales = Scales(N_ref=1e9, D_ref=2e10)
    N, D = np.array([1e8, 1e9, 1e10]), np.array([2e9, 2e10, 2e11])
    got = chin.loss(PARAMS, scales, N=N, D=D)
    p = PARAMS
    expected = p["E"] + p["A"] / (N / 1e9) ** p["alpha"] + p["B"] / (D / 2e10) ** p["beta"]
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    # at the reference point the loss is E + A + B
    assert chin.loss(PARAMS, scales, N=1e9, D=2e10) == pytest.approx(p["E"] + p["A"] + p["B"])


def test_loss_needs_every_variable(chin):
    with pytest.raises(LawFileError, match="needs D"):
        chin.loss(PARAMS, Scales(), N=1e9)


def test_physical_parameters(chin):
    scales = Scales(N_ref=1e9, D_ref=2e10)
    norm = {"E": 1.69, "A": 0.35, "alpha": 0.34, "B": 0.54, "beta": 0.28}
    phys = chin.physical_parameters(norm, scales)
    assert phys["A"] == pytest.approx(0.35 * 1e9**0.34)
    assert phys["B"] == pytest.approx(0.54 * 2e10**0.28)
    assert phys["E"] == 1.69 and phys["alpha"] == 0.34 and phys["beta"] == 0.28
    # the physical parameters predict the same loss in raw units as the normalized ones in scaled units
    N, D = np.array([3e8, 4e10]), np.array([1e10, 1e12])
    np.testing.assert_allclose(
        chin.loss(phys, Scales(), N=N, D=D), chin.loss(norm, scales, N=N, D=D), rtol=1e-12
    )


def test_with_noise(chin):
    t = chin.with_noise("student_t")
    assert t.noise == "student_t"
    assert t.all_parameters == chin.parameters + ("sigma", "nu")
    assert chin.noise == "discrepancy"  # original untouched
    with pytest.raises(LawFileError, match="unknown error model 'cauchy'"):
        chin.with_noise("cauchy")


def test_with_priors(chin):
    new = chin.with_priors({"E": {"dist": "Normal", "mu": 1.7, "sigma": 0.2}, "alpha": {"sigma": 0.1}})
    assert new.priors["E"] == Prior("Normal", {"mu": 1.7, "sigma": 0.2})
    assert new.priors["alpha"] == Prior("LogNormal", {"mu": -1.2, "sigma": 0.1})
    assert new.priors["B"] == chin.priors["B"]
    assert chin.priors["E"].dist == "LogNormal"  # original untouched
    with pytest.raises(PriorError, match="unknown parameter"):
        chin.with_priors({"gamma": {"sigma": 1.0}})


def _ll_setup():
    rng = np.random.default_rng(0)
    N = np.array([1e8, 5e8, 2e9, 1e10])
    D = np.array([3e9, 1e10, 4e10, 2e11])
    S = 3
    draws = {k: v * np.exp(0.05 * rng.standard_normal(S)) for k, v in PARAMS.items()}
    draws["sigma"] = np.array([0.01, 0.03, 0.1])
    draws["nu"] = np.array([1.5, 4.0, 30.0])
    loss = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28
    loss = loss * np.exp(0.02 * rng.standard_normal(N.size))
    mu = np.log(
        draws["E"][:, None] + draws["A"][:, None] / N ** draws["alpha"][:, None]
        + draws["B"][:, None] / D ** draws["beta"][:, None]
    )
    return N, D, draws, loss, mu


def test_log_likelihood_normal(chin):
    N, D, draws, loss, mu = _ll_setup()
    ll = chin.log_likelihood(draws, Scales(), loss, N=N, D=D)
    assert ll.shape == (3, 4)
    expected = stats.norm.logpdf(np.log(loss), loc=mu, scale=draws["sigma"][:, None])
    np.testing.assert_allclose(ll, expected, rtol=1e-10)


def test_log_likelihood_student_t(chin):
    N, D, draws, loss, mu = _ll_setup()
    ll = chin.with_noise("student_t").log_likelihood(draws, Scales(), loss, N=N, D=D)
    assert ll.shape == (3, 4)
    expected = stats.t.logpdf(np.log(loss), df=draws["nu"][:, None], loc=mu, scale=draws["sigma"][:, None])
    np.testing.assert_allclose(ll, expected, rtol=1e-10)


def test_log_likelihood_respects_scales(chin):
    N, D, draws, loss, _ = _ll_setup()
    scales = Scales(N_ref=1e9, D_ref=2e10)
    norm = {**draws, "A": draws["A"] / 1e9 ** draws["alpha"], "B": draws["B"] / 2e10 ** draws["beta"]}
    np.testing.assert_allclose(
        chin.log_likelihood(norm, scales, loss, N=N, D=D),
        chin.log_likelihood(draws, Scales(), loss, N=N, D=D),
        rtol=1e-9,
    )


# --- user laws --------------------------------------------------------------------------------


def test_user_law_by_path(tmp_path):
    text = GOOD + '\n[noise]\nfamily = "student_t"\nsigma = { dist = "HalfNormal", sigma = 0.05 }\n'
    path = tmp_path / "mine.toml"
    path.write_text(text)
    law = load_law(path)
    assert law.name == "mini"
    assert law.title == "mini"  # defaults to the name
    assert law.path == str(path)
    assert law.variables == ("N", "D")
    assert law.noise == "student_t"
    assert law.all_parameters == ("E", "A", "alpha", "B", "beta", "sigma", "nu")
    assert law.priors["sigma"] == Prior("HalfNormal", {"sigma": 0.05})
    assert law.priors["nu"] == Prior("Gamma", {"alpha": 2.0, "beta": 0.1})  # default
    assert law.physical == {} and law.optimum == {}
    assert law.source_text == text
    assert load_law(str(path)).formula.source == law.formula.source
    assert law.loss(PARAMS, Scales(), N=1e9, D=2e10) == pytest.approx(
        load_law("chinchilla").loss(PARAMS, Scales(), N=1e9, D=2e10)
    )


def test_good_law_parses():
    law = law_from_text(GOOD)
    assert law.parameters == ("E", "A", "alpha", "B", "beta")


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


PRIOR_E = 'prior = { dist = "LogNormal", mu = 0.5, sigma = 1.0 }'


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("name = \"x\"\nformula = [", ["not valid TOML"]),
        (GOOD + "\nauthor = \"me\"\n", ["unknown key(s) ['author']"]),
        (_replace('formula = "E + A / N^alpha + B / D^beta"\n', ""), ["missing required key 'formula'"]),
        (_replace('name = "mini"\n', ""), ["missing required key 'name'"]),
        (_replace("schema = 1", "schema = 2"), ["schema 2 is not supported"]),
        (_replace('name = "mini"', 'name = "my law!"'), ["'name' must be a short identifier"]),
        (_replace('"E + A / N^alpha + B / D^beta"', "3"), ["'formula' must be a string"]),
        # a declared parameter that the formula does not use
        (GOOD + '[parameters.gamma]\nprior = { dist = "HalfNormal", sigma = 1.0 }\n',
         ["['gamma']", "declared but not used"]),
        # a formula name that is neither a variable nor a parameter
        (_replace("B / D^beta", "B / D^beta + K0 / N"), ["unknown name(s) ['K0']", "formula"]),
        (_replace(PRIOR_E, 'description = "irreducible"'), ["parameter 'E' needs a prior"]),
        (_replace(PRIOR_E, PRIOR_E + '\nunits = "nats"'), ["parameter 'E': unknown key(s) ['units']"]),
        (_replace('dist = "LogNormal", mu = 0.5', 'dist = "LogNorm", mu = 0.5'),
         ["parameter 'E'", "unknown distribution 'LogNorm'"]),
        (_replace('dist = "LogNormal", mu = 0.5, sigma = 1.0', 'dist = "LogNormal", mu = 0.5'),
         ["parameter 'E'", "missing ['sigma']"]),
        (GOOD + '\n[noise]\nfamily = "cauchy"\n', ["[noise] family", "'cauchy'"]),
        (GOOD + '\n[noise]\nsigma = { dist = "HalfNormal", sigma = -1 }\n',
         ["noise parameter 'sigma'", "must be > 0"]),
        (GOOD + '\n[noise]\nrho = { dist = "HalfNormal", sigma = 1 }\n', ["[noise]: unknown key(s) ['rho']"]),
        (_replace('"E + A / N^alpha + B / D^beta"', '"E + A + B + alpha + beta"'),
         ["uses none of the run variables"]),
        (GOOD + '\n[physical]\nE = "E * N"\n', ["[physical] E", "unknown name(s) ['N']"]),
        (GOOD + '\n[physical]\nN = "E * 2"\n', ["[physical] names ['N'] are run variables"]),
        (GOOD + '\n[physical]\nsigma = "E * 2"\n', ["[physical] names ['sigma']"]),
        (GOOD + '\n[physical]\nA = 3\n', ["[physical] must map names to formula strings"]),
        (GOOD + '\n[optimum]\nD = "C / 6"\n', ["[optimum] may only give N"]),
        (GOOD + '\n[optimum]\nN = "(C / 6)^0.5 * N_ref"\n', ["[optimum] N", "unknown name(s) ['N_ref']"]),
        (_replace("schema = 1", 'schema = 1\nreferences = "Hoffmann"'), ["'references' must be a list of strings"]),
        ("name = \"x\"\nformula = \"E + N\"\nparameters = {}\n", ["[parameters] must have one table"]),
    ],
)
def test_malformed_law_files(text, fragments):
    with pytest.raises(LawFileError) as info:
        law_from_text(text, "bad.toml")
    msg = str(info.value)
    assert msg.startswith("bad.toml: ")
    for fragment in fragments:
        assert fragment in msg


@pytest.mark.parametrize("reserved", ["sigma", "nu", "N", "D", "C", "U", "N_ref", "K"])
def test_reserved_parameter_names(reserved):
    text = GOOD.replace("beta", reserved)
    with pytest.raises(LawFileError, match=rf"parameter name\(s\) \['{reserved}'\] are reserved"):
        law_from_text(text)


def test_noise_given_as_string_is_law_file_error():
    with pytest.raises(LawFileError, match="noise"):
        law_from_text(_replace('name = "mini"', 'name = "mini"\nnoise = "student_t"'))


def test_unknown_law_name_lists_builtins():
    with pytest.raises(LawFileError) as info:
        load_law("chinchila")
    msg = str(info.value)
    assert "no law named 'chinchila'" in msg
    assert "chinchilla" in msg.split("built-in laws are", 1)[1]


def test_law_path_with_invalid_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(LawFileError, match="not valid TOML") as info:
        load_law(path)
    assert str(path) in str(info.value)


def test_a_parameter_unit_is_declared_checked_and_read():
    text = ('schema = 1\nname = "u"\nformula = "E + A / N^alpha"\n'
            '[parameters.E]\nprior = { dist = "LogNormal", mu = 0.5, sigma = 1.0 }\nunit = "loss"\n'
            '[parameters.A]\nprior = { dist = "LogNormal", mu = 0.0, sigma = 1.0 }\n'
            '[parameters.alpha]\nprior = { dist = "LogNormal", mu = -1.2, sigma = 0.6 }\nunit = "dimensionless"\n')
    law = law_from_text(text)
    assert law.unit_of("E", "bits/byte") == "bits/byte" and law.unit_of("alpha", "bits/byte") == "dimensionless"
    assert law.unit_of("A", "bits/byte") == "normalized units"  # not declared
    assert load_law("kaplan").unit_of("Nc", "nats/token") == "× N_ref"
    with pytest.raises(LawFileError, match="unit must be one of"):
        law_from_text(text.replace('unit = "loss"', 'unit = "nats"'))
