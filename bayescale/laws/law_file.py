"""Reading law files: the TOML of ``models/*.toml`` (or a user's) into a :class:`~bayescale.laws.law.Law`.

The built-in files ship with the package (``bayescale.models_data`` in a wheel, the repository's
``models/`` folder in a checkout). Each key, table and prior is checked, and a problem is named
with the file and what to write instead (:class:`~bayescale.errors.LawFileError`).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from bayescale.errors import LawFileError
from bayescale.laws.coordinates import coordinates_from_table
from bayescale.laws.expr import Expression, parse
from bayescale.laws.law import DIMS, SCALE_NAMES, VARIABLES, Law, check_structure
from bayescale.laws.noise import DEFAULT_NOISE, error_models
from bayescale.laws.priors import Prior

__all__ = ["available_laws", "load_law", "law_from_text", "SAMPLER_FLOORS"]

#: What a law file's ``unit`` of a parameter may say (see :meth:`Law.unit_of`).
PARAMETER_UNITS = ("loss", "dimensionless", "N", "D", "C")
_TOP_KEYS = {"schema", "name", "title", "description", "formula", "parameters", "noise",
             "physical", "optimum", "references", "sampling", "sampler"}
#: What a law file's ``[sampler]`` table may raise, with the range each value must lie in.
SAMPLER_FLOORS = {"target_accept": (0.6, 0.999), "draws": (50, 100_000)}
_SCHEMA = 1


def _models_dirs() -> list[Any]:
    """Folders of the built-in law files.

    In an installed wheel the top-level ``models/`` folder ships as the package
    ``bayescale.models_data`` (a ``package-dir`` mapping in ``pyproject.toml``); in a source
    checkout without installation it is read from the repository.
    """
    folders: list[Any] = []
    try:
        folders.append(resources.files("bayescale.models_data"))
    except ModuleNotFoundError:
        pass
    checkout = Path(__file__).resolve().parent.parent.parent / "models"
    if checkout.is_dir():
        folders.append(checkout)
    return folders


def available_laws() -> dict[str, Any]:
    """Return the built-in laws: name -> its file (a path or an importlib resource)."""
    found: dict[str, Any] = {}
    for folder in _models_dirs():
        entries = sorted((e for e in folder.iterdir() if e.name.endswith(".toml")), key=lambda e: e.name)
        for entry in entries:
            found.setdefault(entry.name.removesuffix(".toml"), entry)
    return found


def load_law(name_or_path: str | Path) -> Law:
    """Load a built-in law by name, or a law file by path.

    Raises
    ------
    LawFileError
        If no such law exists or the file is malformed; the message names the problem.
    """
    text_name = str(name_or_path)
    builtins = available_laws()
    if text_name in builtins:
        path = builtins[text_name]
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise LawFileError(
                f"no law named {text_name!r}: built-in laws are {', '.join(sorted(builtins))}, "
                "or pass the path of a .toml law file"
            )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LawFileError(f"cannot read law file {path}: {exc}") from None
    return law_from_text(text, str(path))


def law_from_text(text: str, path: str = "<string>") -> Law:
    """Parse the TOML text of a law file into a :class:`Law`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LawFileError(f"{path}: not valid TOML: {exc}") from None

    def fail(message: str) -> LawFileError:
        return LawFileError(f"{path}: {message}")

    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    if data.get("schema", _SCHEMA) != _SCHEMA:
        raise fail(f"schema {data.get('schema')!r} is not supported (this bayescale reads schema {_SCHEMA})")
    for key in ("name", "formula", "parameters"):
        if key not in data:
            raise fail(f"missing required key {key!r}")
    name = data["name"]
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise fail("'name' must be a short identifier such as 'chinchilla'")
    if not isinstance(data["formula"], str):
        raise fail("'formula' must be a string such as \"E + A / N^alpha\"")
    params_table = data["parameters"]
    if not isinstance(params_table, dict) or not params_table:
        raise fail("[parameters] must have one table per parameter, each with a prior")
    noise_names = {p for model in error_models().values() for p in model.parameters}
    reserved = set(VARIABLES) | set(SCALE_NAMES) | set(DIMS) | noise_names | {"K"}
    clash = reserved & set(params_table)
    if clash:
        raise fail(f"parameter name(s) {sorted(clash)} are reserved; rename them")

    priors: dict[str, Prior] = {}
    descriptions: dict[str, str] = {}
    units: dict[str, str] = {}
    for pname, spec in params_table.items():
        if not isinstance(spec, dict) or "prior" not in spec:
            raise fail(f"parameter {pname!r} needs a prior, e.g. prior = {{ dist = \"LogNormal\", mu = 0, sigma = 1 }}")
        extra = set(spec) - {"prior", "description", "dims", "unit"}
        if extra:
            raise fail(f"parameter {pname!r}: unknown key(s) {sorted(extra)}")
        prior_spec = spec["prior"]
        if "dims" in spec and isinstance(prior_spec, dict):
            prior_spec = {**prior_spec, "dims": spec["dims"]}
        for hname, hspec in _hyperpriors(pname, prior_spec, fail):
            if hname in params_table or hname in priors:
                raise fail(f"the prior table of {pname!r} makes a parameter {hname!r}, which is declared twice")
            priors[hname] = _prior(hspec, f"parameter {hname!r}", fail)
            descriptions[hname] = f"hyperparameter of {pname}"
        priors[pname] = _prior(prior_spec, f"parameter {pname!r}", fail)
        descriptions[pname] = str(spec.get("description", ""))
        if "unit" in spec:
            if spec["unit"] not in PARAMETER_UNITS:
                raise fail(f"parameter {pname!r}: unit must be one of {', '.join(PARAMETER_UNITS)}, got {spec['unit']!r}")
            units[pname] = spec["unit"]
    clash = reserved & set(priors)
    if clash:
        raise fail(f"parameter name(s) {sorted(clash)} are reserved; rename them")

    formula = _parse(data["formula"], set(VARIABLES) | set(priors), fail, "formula")
    variables = tuple(v for v in VARIABLES if v in formula.names)
    if not variables:
        raise fail(f"the formula uses none of the run variables {VARIABLES}")
    parameters = check_structure(formula, tuple(priors), priors, fail)

    if not isinstance(data.get("noise", {}), dict):
        raise fail('[noise] must be a table, e.g. [noise] family = "student_t"')
    noise_table = dict(data.get("noise", {}))
    family = noise_table.pop("family", DEFAULT_NOISE)
    if family not in error_models():
        raise fail(f"[noise] family must be one of {sorted(error_models())}, got {family!r}")
    # A law file may give the prior of any registered error model's parameter, so that
    # switching the error model with --noise keeps the file's choice.
    defaults = {p: spec for model in error_models().values() for p, spec in model.defaults.items()}
    extra = set(noise_table) - set(defaults)
    if extra:
        raise fail(f"[noise]: unknown key(s) {sorted(extra)}; allowed: family, {', '.join(sorted(defaults))}")
    for pname, default in defaults.items():
        priors[pname] = _prior(noise_table.get(pname, default), f"noise parameter {pname!r}", fail)
    for model in error_models().values():
        for pname, phrase in model.descriptions.items():
            descriptions.setdefault(pname, phrase)

    allowed_physical = set(parameters) | set(SCALE_NAMES)
    physical = {
        key: _parse(expr, allowed_physical, fail, f"[physical] {key}")
        for key, expr in _table(data, "physical", fail).items()
    }
    bad = set(physical) & (set(VARIABLES) | set(SCALE_NAMES) | noise_names)
    if bad:
        raise fail(f"[physical] names {sorted(bad)} are run variables, scales or noise parameters; "
                   f"[physical] gives a parameter in the papers' units, or a quantity derived from them")
    optimum = {
        key: _parse(expr, set(parameters) | {"C"}, fail, f"[optimum] {key}")
        for key, expr in _table(data, "optimum", fail).items()
    }
    if set(optimum) - {"N"}:
        raise fail("[optimum] may only give N, the compute-optimal parameter count, as a formula in C")

    sampling = (coordinates_from_table(data["sampling"], {n: priors[n] for n in parameters}, fail)
                if "sampling" in data else None)

    sampler = _sampler_floors(data.get("sampler", {}), fail)

    references = data.get("references", [])
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise fail("'references' must be a list of strings")
    return Law(
        name=name,
        title=str(data.get("title", name)),
        formula=formula,
        variables=variables,
        parameters=parameters,
        priors=priors,
        noise=family,
        descriptions=descriptions,
        units=units,
        physical=physical,
        optimum=optimum,
        references=tuple(references),
        source_text=text,
        path=path,
        sampling=sampling,
        sampler=sampler,
    )


def _sampler_floors(table: Any, fail) -> dict[str, float]:
    """The ``[sampler]`` table: floors of the first attempt's settings, each checked."""
    if not isinstance(table, dict):
        raise fail("[sampler] must be a table, e.g. [sampler] target_accept = 0.95")
    unknown = sorted(set(table) - set(SAMPLER_FLOORS))
    if unknown:
        raise fail(f"[sampler] does not know {unknown}: it may set {sorted(SAMPLER_FLOORS)}")
    floors: dict[str, float] = {}
    for key, value in table.items():
        lo, hi = SAMPLER_FLOORS[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not lo <= value <= hi or (key == "draws" and not isinstance(value, int)):
            kind = "a whole number" if key == "draws" else "a number"
            raise fail(f"[sampler] {key} must be {kind} from {lo} to {hi}, got {value!r}")
        floors[key] = value
    return floors


def _hyperpriors(pname: str, spec: Any, fail) -> list[tuple[str, dict]]:
    """Turn prior tables given as arguments into parameters of their own, innermost first.

    ``E``'s prior ``{ dist = "LogNormal", mu = { dist = "Normal", … }, … }`` makes the parameter
    ``E_mu`` and leaves ``mu = "E_mu"`` in ``spec`` (which is changed in place).
    """
    out: list[tuple[str, dict]] = []
    if not isinstance(spec, dict):
        return out
    for arg, value in list(spec.items()):
        if isinstance(value, dict):
            name = f"{pname}_{arg}"
            value = dict(value)
            out += _hyperpriors(name, value, fail)
            out.append((name, value))
            spec[arg] = name
    return out


def _table(data: dict, key: str, fail) -> dict[str, str]:
    table = data.get(key, {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise fail(f"[{key}] must map names to formula strings")
    return table


def _parse(source: str, allowed: set[str], fail, where: str) -> Expression:
    from bayescale.errors import FormulaError

    try:
        return parse(source, allowed)
    except FormulaError as exc:
        raise fail(f"{where}: {exc}") from None


def _prior(spec: Any, where: str, fail) -> Prior:
    from bayescale.errors import PriorError

    try:
        return Prior.from_spec(spec, where)
    except PriorError as exc:
        raise fail(str(exc)) from None
