"""Several families of runs (data mixes, recipes, architectures) in one law.

Each law parameter is *shared* (one value for every family), *separate* (one value per family,
each with the law's own prior) or *pooled* (one value per family, drawn from a common
distribution whose centre and spread are learned: partial pooling). A pooled parameter with a
positive prior is pooled on the log scale, ``p[f] = exp(p_mu + p_sigma · z[f])``; a real one as
``p[f] = p_mu + p_sigma · z[f]``; both non-centred (``z[f] ~ Normal(0, 1)``). ``p_mu`` gets
the law's prior for ``p`` (its log-scale moments for a positive prior) and ``p_sigma`` a
half-normal whose scale is a quarter of that prior's spread: families of one sweep are expected
to differ by much less than what is known of the parameter before any data.

:func:`family_law` writes the result as a law file (TOML text) and parses it, so a fit of it
saves, loads and validates like any other law.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from bayescale.errors import LawFileError
from bayescale.laws.law import Law
from bayescale.laws.law_file import law_from_text
from bayescale.laws.priors import Prior

__all__ = ["Pooling", "FamilyError", "choose_pooling", "family_law", "for_families", "KINDS"]

KINDS = ("shared", "pooled", "separate")
_SPREAD = 0.25  # the hyper-spread's scale, as a fraction of the parameter's prior spread


class FamilyError(LawFileError):
    """The families cannot be fitted as asked: too few families or runs, an unknown parameter."""


@dataclass(frozen=True)
class Pooling:
    """What each law parameter does across families, and why (``notes``)."""

    kinds: dict[str, str]
    notes: tuple[str, ...] = ()

    def of(self, kind: str) -> tuple[str, ...]:
        """The parameters of one kind, in the law's order."""
        return tuple(p for p, k in self.kinds.items() if k == kind)

    def __str__(self) -> str:
        return "; ".join(f"{kind}: {', '.join(self.of(kind))}" for kind in KINDS if self.of(kind))


def _poolable(prior: Prior) -> bool:
    return prior.is_numeric and prior.support in ("positive", "real")


def choose_pooling(law: Law, n_families: int, *, pool: Iterable[str] = (), share: Iterable[str] = (),
                   separate: Iterable[str] = ()) -> Pooling:
    """Decide what each parameter does across ``n_families`` families.

    By default every parameter with a positive or real prior is pooled when there are three
    families or more; with two, a spread cannot be learned from two values, so those parameters
    are separate (and the notes say so). Others (bounded priors) are shared. ``pool``, ``share``
    and ``separate`` override the defaults.

    Raises
    ------
    FamilyError
        A name that is not a parameter of the law, a name given twice, pooling with fewer than
        three families, or pooling a parameter whose prior is bounded or hierarchical.
    """
    asked = {"pooled": list(pool), "shared": list(share), "separate": list(separate)}
    names = [p for kind in asked.values() for p in kind]
    params = [p for p in law.parameters if law.priors[p].is_numeric and not law.priors[p].dims]
    unknown = sorted(set(names) - set(params))
    if unknown:
        raise FamilyError(f"unknown parameter(s) {unknown} in --pool/--share/--separate (pool=, share=, separate= in "
                          f"Python); law {law.name!r} has "
                          f"{', '.join(params)}")
    twice = sorted({p for p in names if names.count(p) > 1})
    if twice:
        raise FamilyError(f"parameter(s) {twice} given to more than one of --pool, --share, --separate (pool=, share=, "
                          "separate= in Python); give each once")
    if n_families < 2:
        raise FamilyError(f"the family column holds {n_families} family; a family fit needs at least 2 "
                          f"(fit one family without --family-col)")
    notes = []
    if asked["pooled"] and n_families < 3:
        raise FamilyError(f"pooling learns how much families differ, which needs at least 3 families (there are "
                          f"{n_families}); make {', '.join(asked['pooled'])} shared or separate")
    bad = [p for p in asked["pooled"] if not _poolable(law.priors[p])]
    if bad:
        raise FamilyError(f"cannot pool {bad}: their priors are bounded or hierarchical; share them or keep them separate")
    kinds = {}
    for p in params:
        given = next((k for k, v in asked.items() if p in v), None)
        if given:
            kinds[p] = given
        elif not _poolable(law.priors[p]):
            kinds[p] = "shared"
        else:
            kinds[p] = "pooled" if n_families >= 3 else "separate"
    if n_families == 2 and any(p not in names for p in params):
        notes.append("2 families: pooling needs at least 3, so parameters are separate unless shared "
                     "(e.g. --share alpha,beta)")
    return Pooling(kinds, tuple(notes))


def _hyper(prior: Prior) -> tuple[str, dict, dict]:
    """The pooled prior's distribution, and the hyperpriors of its centre and spread."""
    if prior.support == "positive":
        if prior.dist == "LogNormal":
            centre, spread = float(prior.args["mu"]), float(prior.args["sigma"])
        else:
            logs = np.log(prior.draw(20001, seed=0))
            centre, spread = float(np.median(logs)), float(np.std(logs))
        return "LogNormal", {"dist": "Normal", "mu": centre, "sigma": spread}, \
            {"dist": "HalfNormal", "sigma": _SPREAD * spread}
    if prior.dist == "Normal":
        return "Normal", prior.to_spec(), {"dist": "HalfNormal", "sigma": _SPREAD * float(prior.args["sigma"])}
    draws = prior.draw(20001, seed=0)
    spread = float(np.subtract(*np.quantile(draws, [0.84, 0.16])) / 2)
    return "Normal", {"dist": "Normal", "mu": float(np.median(draws)), "sigma": spread}, \
        {"dist": "HalfNormal", "sigma": _SPREAD * spread}


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise FamilyError(f"cannot write {value!r} into a law file")  # unreachable for parsed law files


def family_law(law: Law, pooling: Pooling, dim: str = "family") -> Law:
    """The law with per-family parameters as ``pooling`` says, as a parsed law file.

    Raises
    ------
    FamilyError
        If the law already has per-group or per-family parameters.
    """
    if law.dims:
        raise FamilyError(f"law {law.name!r} already has per-{law.dims[0]} parameters; families apply to a law "
                          f"with scalar parameters")
    data = tomllib.loads(law.source_text)
    formula = law.formula.source
    for p, kind in pooling.kinds.items():
        data["parameters"][p]["prior"] = law.priors[p].to_spec()  # a prior given with --priors is kept
        if kind == "shared":
            continue
        formula = re.sub(rf"(?<![\w.]){re.escape(p)}(?![\w\[(])", f"{p}[{dim}]", formula)
        spec = data["parameters"][p]
        if kind == "pooled":
            dist, centre, spread = _hyper(law.priors[p])
            spec["prior"] = {"dist": dist, "mu": centre, "sigma": spread, "centered": False}
        spec["dims"] = dim
    data["formula"] = formula
    data["title"] = f"{law.title}; per {dim}: {pooling}"
    if law.sampling is not None and any(pooling.kinds.get(p, "shared") != "shared" for p in law.sampling.names):
        del data["sampling"]  # per-family parameters are sampled as themselves (their shares would need a dim)
    # the noise table's error model and priors are kept: law.noise may differ from the file's
    noise = {name: law.priors[name].to_spec() for name in law.priors if name not in law.parameters}
    data["noise"] = {"family": law.noise, **noise}
    lines = []
    for key, value in data.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {_toml(value)}")
    for key, value in data.items():
        if key == "parameters":
            for p, spec in value.items():
                lines.append(f"\n[parameters.{p}]")
                lines += [f"{k} = {_toml(v)}" for k, v in spec.items()]
        elif isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines += [f"{k} = {_toml(v)}" for k, v in value.items()]
    return law_from_text("\n".join(lines) + "\n", f"{law.path or law.name} (families)")


def for_families(law: Law, runs, *, pool: Iterable[str] = (), share: Iterable[str] = (),
                 separate: Iterable[str] = ()) -> Law:
    """The law to fit to ``runs``: per family (:func:`family_law`) when the runs carry families.

    Runs without a family column give ``law`` back (and ``pool``/``share``/``separate`` are then
    an error); so does a law that already indexes its parameters by family.

    Raises
    ------
    FamilyError
        See :func:`choose_pooling`; also a family with fewer runs than the parameters it has
        of its own (separate ones, and one for the noise), where pooling is the remedy.
    """
    asked = [*pool, *share, *separate]
    if "family" not in runs.levels:
        if asked:
            raise FamilyError("--pool/--share/--separate (pool=, share=, separate= in Python) apply to families: "
                              "name the family column with --family-col COLUMN (family_col= in read_runs)")
        return law
    if "family" in law.dims:
        if asked:
            raise FamilyError(f"law {law.name!r} declares its per-family parameters itself; --pool/--share/--separate "
                              f"apply to laws with scalar parameters")
        return law
    levels = runs.levels["family"]
    pooling = choose_pooling(law, len(levels), pool=pool, share=share, separate=separate)
    own = len(pooling.of("separate"))
    counts = np.bincount(runs.codes("family"), minlength=len(levels))
    small = [f"{label} ({n} runs)" for label, n in zip(levels, counts) if n < own + 1]
    if small:
        hint = "pool them (--pool " + ",".join(pooling.of("separate")) + ")" if len(levels) >= 3 else \
            "share some (--share " + ",".join(pooling.of("separate")) + ")"
        raise FamilyError(f"famil{'ies' if len(small) > 1 else 'y'} {', '.join(small)} ha{'ve' if len(small) > 1 else 's'} "
                          f"too few runs for {own} separate parameter(s) and the noise: {hint}, or add runs")
    return family_law(law, pooling)
