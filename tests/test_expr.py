"""Tests for bayescale.laws.expr: parsing, evaluation, backends and rejection of unsafe formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bayescale.errors import FormulaError
from bayescale.laws.expr import FUNCTIONS, numpy_backend, parse, pytensor_backend

NP = numpy_backend()


def ev(source: str, **values):
    return parse(source).evaluate(values, NP)


# --- arithmetic -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, expected",
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("2 * 3^2", 18.0),  # ^ binds tighter than *
        ("2^3^2", 512.0),  # right-associative like **
        ("2**3", 8.0),  # ** works too
        ("-2^2", -4.0),  # unary minus applies after the power, as in maths
        ("(-2)^2", 4.0),
        ("10 - 4 - 3", 3.0),  # left-associative
        ("12 / 4 / 3", 1.0),
        ("+5 - -3", 8.0),
        ("2^-1", 0.5),
        ("1.5e3 / 3", 500.0),
    ],
)
def test_arithmetic_precedence(source, expected):
    assert ev(source) == pytest.approx(expected, rel=1e-15)


def test_variables_and_functions():
    values = {"N": 4.0, "D": 9.0}
    assert ev("sqrt(N) + sqrt(D)", **values) == pytest.approx(5.0)
    assert ev("exp(log(N))", **values) == pytest.approx(4.0)
    assert ev("log10(1000) + log2(8)") == pytest.approx(6.0)
    assert ev("log1p(expm1(0.3))") == pytest.approx(0.3)
    assert ev("abs(-N)", **values) == 4.0
    assert ev("minimum(N, D) + maximum(N, D)", **values) == 13.0
    assert ev("tanh(0)") == 0.0
    assert ev("sigmoid(0)") == pytest.approx(0.5)
    assert ev("sigmoid(2)") == pytest.approx(1.0 / (1.0 + math.exp(-2.0)))


def test_constants():
    assert ev("pi") == pytest.approx(math.pi)
    assert ev("e_const") == pytest.approx(math.e)
    assert ev("2 * pi * r", r=0.5) == pytest.approx(math.pi)


def test_array_evaluation_matches_numpy():
    N = np.array([1e8, 1e9, 1e10])
    D = np.array([2e9, 2e10, 2e11])
    out = ev("E + A / N^alpha + B / D^beta", E=1.69, A=406.4, alpha=0.34, B=410.7, beta=0.28, N=N, D=D)
    expected = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28
    np.testing.assert_allclose(out, expected, rtol=1e-14)


def test_names_exclude_functions_and_constants():
    expr = parse("  E + A / N^alpha + exp(-B * D) * pi + minimum(C, e_const)  ")
    assert expr.names == frozenset({"E", "A", "N", "alpha", "B", "D", "C"})
    assert expr.source == "E + A / N^alpha + exp(-B * D) * pi + minimum(C, e_const)"
    assert str(expr) == expr.source


def test_evaluate_missing_value_lists_names():
    expr = parse("E + A / N^alpha")
    with pytest.raises(FormulaError, match=r"needs values for \['A', 'alpha'\]"):
        expr.evaluate({"E": 1.0, "N": 2.0}, NP)


def test_allowed_names_accepts_known():
    expr = parse("E + A / N^alpha", allowed_names={"E", "A", "N", "alpha", "D"})
    assert expr.names == {"E", "A", "N", "alpha"}


def test_allowed_names_rejects_unknown_and_lists_allowed():
    with pytest.raises(FormulaError) as info:
        parse("E + A / N^alpah", allowed_names={"E", "A", "N", "alpha"})
    msg = str(info.value)
    assert "['alpah']" in msg
    assert "['A', 'E', 'N', 'alpha']" in msg


# --- NumPy vs PyTensor --------------------------------------------------------------------------


def test_pytensor_backend_matches_numpy():
    import pytensor
    import pytensor.tensor as pt

    chin = parse("E + A / N^alpha + B / D^beta")
    other = parse("exp(E) * log(N) / minimum(N, D) + sigmoid(-alpha) - maximum(log1p(B), beta)")
    assert set(FUNCTIONS) | {"index"} == set(numpy_backend()) == set(pytensor_backend())

    scalars = {name: pt.dscalar(name) for name in ("E", "A", "alpha", "B", "beta")}
    vectors = {name: pt.dvector(name) for name in ("N", "D")}
    sym = {**scalars, **vectors}
    pb = pytensor_backend()
    fn = pytensor.function(list(sym.values()), [chin.evaluate(sym, pb), other.evaluate(sym, pb)])

    values = {
        "E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28,
        "N": np.array([1e7, 3e8, 5e9, 7e10]), "D": np.array([1e12, 2e9, 5e9, 3e11]),
    }
    got_chin, got_other = fn(*(values[name] for name in sym))
    np.testing.assert_allclose(got_chin, chin.evaluate(values, NP), rtol=1e-12)
    np.testing.assert_allclose(got_other, other.evaluate(values, NP), rtol=1e-12)
    # and the NumPy side is itself right
    N, D = values["N"], values["D"]
    np.testing.assert_allclose(
        got_other,
        math.exp(1.69) * np.log(N) / np.minimum(N, D) + 1 / (1 + math.exp(0.34)) - max(math.log1p(410.7), 0.28),
        rtol=1e-12,
    )


# --- rejection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("N.real", "Attribute is not allowed"),
        ("N[0]", "only a parameter can be indexed, and only by a dim"),
        ("(lambda x: x)(N)", "unknown function 'this call'"),
        ("lambda x: x", "Lambda is not allowed"),
        ("N < D", "Compare is not allowed"),
        ("N == D", "Compare is not allowed"),
        ("N and D", "BoolOp is not allowed"),
        ("not N", "operator not allowed"),
        ("N or 1", "BoolOp is not allowed"),
        ("'abc'", "only numbers may appear as constants"),
        ("N + 'abc'", "only numbers may appear as constants"),
        ("True + N", "only numbers may appear as constants"),
        ("2j * N", "only numbers may appear as constants"),
        ("exp(x=N)", "exp() takes 1 positional argument"),
        ("foo(N)", "unknown function 'foo'"),
        ("exp(N, D)", "exp() takes 1 positional argument"),
        ("minimum(N)", "minimum() takes 2 positional argument"),
        ("N(2)", "unknown function 'N'"),
        ("exp + 1", "'exp' is a function"),
        ("N % 2", "operator not allowed"),
        ("N // 2", "operator not allowed"),
        ("N if D else E", "IfExp is not allowed"),
        ("(N, D)", "Tuple is not allowed"),
        ("[N]", "List is not allowed"),
        ("(x := 2)", "NamedExpr is not allowed"),
        ("N @ D", "operator not allowed"),
    ],
)
def test_rejects_non_arithmetic(source, fragment):
    with pytest.raises(FormulaError) as info:
        parse(source)
    msg = str(info.value)
    assert fragment in msg
    if "is not allowed" in fragment or "unknown function" in fragment:
        # the message points at the offending part with a caret line
        assert msg.splitlines()[-1].strip() == "^"


@pytest.mark.parametrize("source", ["", "   ", "\n\t"])
def test_empty_formula(source):
    with pytest.raises(FormulaError, match="empty"):
        parse(source)


def test_non_string_formula():
    with pytest.raises(FormulaError, match="empty"):
        parse(None)  # type: ignore[arg-type]


def test_too_long_formula():
    with pytest.raises(FormulaError, match="longer than 2000"):
        parse(" + ".join(["N"] * 700))


def test_syntax_error_has_caret_line():
    with pytest.raises(FormulaError) as info:
        parse("E + * N")
    lines = str(info.value).splitlines()
    assert lines[0].startswith("formula is not valid arithmetic")
    assert lines[1] == "  E + * N"
    assert lines[2].strip() == "^"
    assert lines[2].index("^") == lines[1].index("*")  # points at the bad token


def test_syntax_error_caret_after_power():
    with pytest.raises(FormulaError) as info:
        parse("N^alpha + * 2")
    lines = str(info.value).splitlines()
    assert lines[1] == "  N^alpha + * 2"
    assert lines[2].index("^") == lines[1].index("*")


def test_formula_error_is_value_error():
    with pytest.raises(ValueError):
        parse("N <")
