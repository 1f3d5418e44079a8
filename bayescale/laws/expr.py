"""A safe formula language for scaling laws.

A formula is one arithmetic expression over named variables (``N``, ``D``, ``C``, …) and
parameters, e.g. ``E + A / N^alpha + B / D^beta``. It is parsed once with :mod:`ast`, checked
against a whitelist of node types, names and functions, and then evaluated by walking the tree
with a *backend*: NumPy for prediction and optima, PyTensor for the PyMC model. Nothing is ever
passed to ``eval``.

``^`` means power (as in the papers); ``**`` works too. A parameter with one value per group of
runs is indexed by its dim, ``E[group]``: the backend picks each run's value by the run's code.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bayescale.errors import FormulaError

__all__ = ["Expression", "parse", "FUNCTIONS", "numpy_backend", "pytensor_backend"]

#: Functions a formula may call, with their arity.
FUNCTIONS: dict[str, int] = {
    "exp": 1,
    "log": 1,
    "log1p": 1,
    "expm1": 1,
    "sqrt": 1,
    "abs": 1,
    "tanh": 1,
    "sigmoid": 1,
    "log10": 1,
    "log2": 1,
    "minimum": 2,
    "maximum": 2,
}

#: Constants a formula may use by name.
CONSTANTS: dict[str, float] = {"pi": math.pi, "e_const": math.e}

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: +a,
}
_MAX_LENGTH = 2000
#: Deepest nesting of operations a formula may have (sums of many terms nest too).
_MAX_DEPTH = 100


def numpy_backend() -> dict[str, Callable[..., Any]]:
    """Return the function table that evaluates formulas with NumPy."""
    import numpy as np

    return {
        "exp": np.exp,
        "log": np.log,
        "log1p": np.log1p,
        "expm1": np.expm1,
        "sqrt": np.sqrt,
        "abs": np.abs,
        "tanh": np.tanh,
        "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),
        "log10": np.log10,
        "log2": np.log2,
        "minimum": np.minimum,
        "maximum": np.maximum,
        # a parameter of shape (..., levels) indexed by integer codes of shape (runs,); codes of
        # None mean the parameter was already picked at one level
        "index": lambda values, codes: values if codes is None else np.take(values, codes, axis=-1),
    }


def pytensor_backend() -> dict[str, Callable[..., Any]]:
    """Return the function table that builds PyTensor graphs from formulas."""
    import pytensor.tensor as pt

    return {
        "exp": pt.exp,
        "log": pt.log,
        "log1p": pt.log1p,
        "expm1": pt.expm1,
        "sqrt": pt.sqrt,
        "abs": pt.abs,
        "tanh": pt.tanh,
        "sigmoid": pt.sigmoid,
        "log10": pt.log10,
        "log2": pt.log2,
        "minimum": pt.minimum,
        "maximum": pt.maximum,
        "index": lambda values, codes: values[codes],
    }


@dataclass(frozen=True)
class Expression:
    """A parsed, validated formula.

    Attributes
    ----------
    source : str
        The formula as written.
    names : frozenset of str
        Every variable or parameter name the formula uses (functions, constants and dims excluded).
    indexed : dict
        Parameter -> the dim that indexes it (``E[group]`` gives ``{"E": "group"}``).
    """

    source: str
    names: frozenset[str]
    _tree: ast.expr = field(repr=False, compare=False)
    indexed: dict[str, str] = field(default_factory=dict, compare=False)

    def evaluate(self, values: Mapping[str, Any], backend: Mapping[str, Callable[..., Any]]) -> Any:
        """Evaluate the formula.

        Parameters
        ----------
        values : mapping
            A value for every name in :attr:`names`: floats, NumPy arrays or PyTensor tensors.
        backend : mapping
            The function table, from :func:`numpy_backend` or :func:`pytensor_backend`.

        Returns
        -------
        The result, of whatever type the backend and values produce.
        """
        missing = (self.names | set(self.indexed.values())) - set(values)
        if missing:
            raise FormulaError(
                f"formula {self.source!r} needs values for {sorted(missing)}; "
                f"got {sorted(values)}"
            )
        return _evaluate(self._tree, values, backend)

    def __str__(self) -> str:
        return self.source


def parse(source: str, allowed_names: set[str] | frozenset[str] | None = None) -> Expression:
    """Parse and validate a formula.

    Parameters
    ----------
    source : str
        The formula, e.g. ``"E + A / N^alpha + B / D^beta"``.
    allowed_names : set of str, optional
        If given, every name in the formula must be one of these (or a known function or
        constant); anything else is an error that lists what is allowed.

    Returns
    -------
    Expression

    Raises
    ------
    FormulaError
        On a syntax error, a construct that is not arithmetic, an unknown function or name, or a
        wrong number of arguments. The message points at the offending part.
    """
    if not isinstance(source, str) or not source.strip():
        raise FormulaError("the formula is empty: write an expression such as 'E + A / N^alpha'")
    if len(source) > _MAX_LENGTH:
        raise FormulaError(f"the formula is longer than {_MAX_LENGTH} characters")
    text = source.strip().replace("^", "**")
    try:
        tree = ast.parse(text, mode="eval").body
    except (RecursionError, MemoryError):
        raise FormulaError(f"the formula is nested too deeply to parse; keep it under {_MAX_DEPTH} levels") from None
    except SyntaxError as exc:
        # map the column in the rewritten text back to the formula as written (^ became **)
        written = [i for i, ch in enumerate(source.strip()) for _ in range(2 if ch == "^" else 1)]
        col = written[min((exc.offset or 1) - 1, len(written) - 1)] if written else 0
        raise FormulaError(
            f"formula is not valid arithmetic: {exc.msg}\n  {source.strip()}\n  {' ' * col}^"
        ) from None
    depth = _depth(tree)
    if depth > _MAX_DEPTH:
        raise FormulaError(f"the formula nests {depth} operations deep (at most {_MAX_DEPTH}); "
                           "write it with fewer terms or parentheses")
    names: set[str] = set()
    indexed: dict[str, str] = {}
    _check(tree, text, names, indexed)
    _fold_constants(tree, text)
    if allowed_names is not None:
        unknown = names - set(allowed_names)
        if unknown:
            raise FormulaError(
                f"formula {source.strip()!r} uses unknown name(s) {sorted(unknown)}; allowed "
                f"names are {sorted(allowed_names)} and the functions {sorted(FUNCTIONS)}"
            )
    return Expression(source=source.strip(), names=frozenset(names), _tree=tree, indexed=indexed)


def _depth(tree: ast.AST) -> int:
    """Nesting depth of the tree, walked without recursion (a hostile formula cannot overflow it)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level <= _MAX_DEPTH + 1:
            stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _fold_constants(node: ast.AST, text: str) -> float | None:
    """Evaluate the parts made of numbers only; an overflow or division by zero there is an error.

    Returns the value of ``node`` when it is constant, else None.
    """
    try:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return CONSTANTS.get(node.id)
        if isinstance(node, ast.UnaryOp):
            value = _fold_constants(node.operand, text)
            return None if value is None else _UNARY[type(node.op)](value)
        if isinstance(node, ast.BinOp):
            left, right = _fold_constants(node.left, text), _fold_constants(node.right, text)
            if left is None or right is None:
                return None
            value = _BINARY[type(node.op)](left, right)
            if isinstance(value, complex) or not math.isfinite(value):
                raise OverflowError
            return value
        if isinstance(node, ast.Call):
            for arg in node.args:
                _fold_constants(arg, text)
        return None
    except (OverflowError, ZeroDivisionError, ValueError):
        raise FormulaError(f"this number or constant expression is not a finite number{_point(text, node)}") from None


def _point(text: str, node: ast.AST) -> str:
    col = getattr(node, "col_offset", 0)
    return f"\n  {text}\n  {' ' * col}^"


def _check(node: ast.AST, text: str, names: set[str], indexed: dict[str, str]) -> None:
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise FormulaError(f"operator not allowed in a formula{_point(text, node)}")
        _check(node.left, text, names, indexed)
        _check(node.right, text, names, indexed)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise FormulaError(f"operator not allowed in a formula{_point(text, node)}")
        _check(node.operand, text, names, indexed)
    elif isinstance(node, ast.Subscript):
        param, dim = node.value, node.slice
        if not (isinstance(param, ast.Name) and isinstance(dim, ast.Name)) or param.id in FUNCTIONS | CONSTANTS:
            raise FormulaError(f"only a parameter can be indexed, and only by a dim: write E[group]{_point(text, node)}")
        if indexed.setdefault(param.id, dim.id) != dim.id:
            raise FormulaError(f"{param.id} is indexed by both {indexed[param.id]} and {dim.id}{_point(text, node)}")
        names.add(param.id)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise FormulaError(f"only numbers may appear as constants{_point(text, node)}")
        try:
            finite = math.isfinite(float(node.value))
        except OverflowError:
            finite = False
        if not finite:
            raise FormulaError(f"the number is too large to be a float{_point(text, node)}")
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise FormulaError(f"{node.id!r} is a function: call it as {node.id}(...){_point(text, node)}")
        if node.id not in CONSTANTS:
            names.add(node.id)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else "this call"
            raise FormulaError(
                f"unknown function {what!r}; allowed: {', '.join(sorted(FUNCTIONS))}"
                f"{_point(text, node)}"
            )
        if node.keywords or len(node.args) != FUNCTIONS[node.func.id]:
            raise FormulaError(
                f"{node.func.id}() takes {FUNCTIONS[node.func.id]} positional argument(s)"
                f"{_point(text, node)}"
            )
        for arg in node.args:
            _check(arg, text, names, indexed)
    else:
        raise FormulaError(
            f"{type(node).__name__} is not allowed in a formula: use numbers, names, + - * / ^ "
            f"and the functions {', '.join(sorted(FUNCTIONS))}{_point(text, node)}"
        )


def _evaluate(node: ast.expr, values: Mapping[str, Any], backend: Mapping[str, Callable]) -> Any:
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, values, backend)
        right = _evaluate(node.right, values, backend)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values, backend))
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id in values:
            return values[node.id]
        return CONSTANTS[node.id]
    if isinstance(node, ast.Call):
        args = [_evaluate(arg, values, backend) for arg in node.args]
        return backend[node.func.id](*args)
    if isinstance(node, ast.Subscript):
        return backend["index"](values[node.value.id], values[node.slice.id])
    raise FormulaError(f"cannot evaluate {type(node).__name__}")  # unreachable after _check
