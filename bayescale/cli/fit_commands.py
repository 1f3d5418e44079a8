"""The commands about one fit: fit, optimum, compare-families, predict, summary, inverse."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap

from bayescale.cli.options import EXIT_UNCONVERGED, _levels, _load, _load_weighable, _pooling, _published, _read_runs, _settings
from bayescale.cli.output import _print
from bayescale.errors import BayescaleError


def _cmd_fit(args: argparse.Namespace) -> int:
    from bayescale.files import check_output_path
    from bayescale.laws.families import for_families
    from bayescale.laws.law_file import load_law
    from bayescale.laws.noise import get_error_model
    from bayescale.laws.priors import read_prior_file
    from bayescale.results.fitting import fit

    check_output_path(args.out, "fit file")
    settings = _settings(args)
    runs = _read_runs(args)
    if args.to_unit:
        from bayescale.data.units import convert_runs

        runs = convert_runs(runs, args.to_unit)
    law = load_law(args.law)
    law = for_families(law.with_noise(args.noise) if args.noise else law, runs, **_pooling(args))
    priors = read_prior_file(args.priors) if args.priors else None
    if priors:
        law = law.with_priors(priors, args.priors)
    if args.compute and (not law.in_compute_alone or args.unique_tokens is not None):  # refused before the fit
        from bayescale.results.optimum import check_allocatable

        check_allocatable(law, args.unique_tokens)
    elif args.unique_tokens is not None:
        raise BayescaleError("--unique-tokens is for the optimum at --compute budgets: give those too, or leave it out")
    if not args.quiet and not args.json:
        print(runs.describe(), file=sys.stderr)
        noise = get_error_model(args.noise or law.noise)
        print(f"fitting {law.name}: L = {law.formula}\nerror model {noise.name}: {noise.title}", file=sys.stderr)
    result = fit(runs, law, noise=args.noise, settings=settings, log_likelihood=args.log_likelihood,
                 allocation_refit=args.allocation_refit)
    converged = result.gates.passed
    path = result.save(args.out) if converged or args.allow_unconverged else None
    summary = result.summary(args.prob)
    adequacy = result.adequacy() if args.json or not args.quiet else None  # residuals of every run: only when shown
    per_family = "family" in result.law.dims and args.family is None
    optimum = result.optimum(args.compute, unique_tokens=args.unique_tokens, **_levels(args)) \
        if args.compute and not per_family and not law.in_compute_alone else None
    # a law in compute alone has no optimum: the loss each budget buys is what it can say
    bought = None
    if args.compute and law.in_compute_alone:
        families = result.runs.levels["family"] if per_family else (None,)
        bought = {f: result.predict(C=args.compute, prob=args.prob, seed=args.seed,
                                    **({"family": f} if f is not None else _levels(args))) for f in families}
    if args.json:
        out = {**summary.to_dict(), "fit": None if path is None else str(path), "fit_id": result.id,
               "noise": result.law.noise, "attempts": len(result.attempts), "adequacy": adequacy.to_dict(),
               "notes": result.notes, "allocation": _allocation_record(result)}
        if optimum is not None:
            out["optimum"] = optimum.to_records(args.prob)
        elif bought is not None:
            out["optimum"] = None
            out["predicted"] = bought[None].to_records() if None in bought else \
                {f: p.to_records() for f, p in bought.items()}
        elif args.compute:
            from bayescale.decisions.families import family_optima

            out["optimum"] = _family_records(family_optima(result, args.compute, unique_tokens=args.unique_tokens), args.prob)
        print(json.dumps(out, indent=2))
    elif not args.quiet:
        print(summary)
        print(adequacy)
        if result.allocation is not None:
            print(_allocation_text(result))
        if len(result.attempts) > 1:
            print(f"\nsampled {len(result.attempts)} times: the first attempt(s) missed a gate, so chains were added or "
                  f"sampled again with more draws; the fit keeps {result.sampler.get('chains')} chains of "
                  f"{result.sampler.get('draws')} draws")
        if optimum is not None:
            print("\n" + optimum.format(args.prob))
        elif bought is not None:
            print(f"\nlaw {law.name!r} is in compute alone: no compute-optimal N and D, but the loss each budget buys")
            for prediction in bought.values():
                print(prediction)
        elif args.compute:
            print()
            _print_family_optima(result, args.compute, args.prob, False, args.unique_tokens)
        if path is not None:
            print(f"\nsaved {path} (fit id {result.id})")
    if not converged:
        print(f"ERROR: the fit did not converge. {result.gates}\n{_advice(args, result)}", file=sys.stderr)
        if path is None:
            print(f"The fit was NOT saved (an existing {args.out} is untouched); "
                  "pass --allow-unconverged to save it anyway.", file=sys.stderr)
        return 0 if args.allow_unconverged else EXIT_UNCONVERGED
    return 0


def _allocation_record(result) -> dict | None:
    """The allocation fit (see ``bayescale.fit``) as JSON: its runs, id and gates; None without one."""
    allocation = result.allocation
    if allocation is None:
        return None
    return {"runs": allocation.runs.n_runs, "of_runs": result.runs.n_runs, "fit_id": allocation.id,
            "selection": allocation.runs.selection, "gates": allocation.gates.to_dict()}


def _allocation_text(result) -> str:
    allocation = result.allocation
    return (f"allocation: N*, D* and L* come from the law {result.allocation_basis} (fit id {allocation.id}, "
            f"{allocation.gates}); --no-allocation-refit answers from every run")


def _advice(args: argparse.Namespace, result) -> str:
    """What to try after a failed fit, given what was already tried."""
    tips = []
    tried = max(args.draws, int(result.sampler.get("draws", args.draws)))  # retries may have raised them
    r_hat = max(result.gates.r_hat.values(), default=1.0)
    if r_hat >= 1.1:
        tips.append(f"a simpler posterior: the chains disagree (R-hat {r_hat:.2f}) after {tried} draws each, which more "
                    "draws do not mend; a prior whose argument is another parameter, or too few runs for the law, does this")
    elif tried < 2000:
        tune = max(args.tune, int(result.sampler.get("tune", args.tune)))
        tips.append(f"more draws (--draws {4 * tried} --tune {4 * tune})")
    if result.law.noise in ("normal", "discrepancy", "grouped"):
        tips.append("heavy-tailed noise (--noise student_t) if a few runs miss the law by far")
    tips.append('tighter priors in a file, e.g. a file holding the line  E = { dist = "LogNormal", mu = 0.5, sigma = 0.3 }  '
                "passed as --priors FILE")
    return "Try " + "; or ".join(tips) + "."


def _cmd_optimum(args: argparse.Namespace) -> int:
    from bayescale.decisions.isoflop_file import is_isoflop_file

    extra = {"unique_tokens": args.unique_tokens} if args.unique_tokens else {}
    if args.with_miss is not None and (args.params or args.law or len(args.fit) > 1):
        raise BayescaleError("--with-miss and --law-only choose what one fit reports: give one fit file")
    if args.params or args.law:
        optimum = _published(args).optimum(args.compute, method=args.method, **extra)
    elif not args.fit:
        raise BayescaleError("give a fit file (bayescale fit RUNS --out FIT.nc), or a law's constants with --law and --params")
    elif len(args.fit) > 1:
        from bayescale.decisions.ensemble import ensemble

        if _levels(args):
            raise BayescaleError("--group/--family pick a level of one fit; give one fit, or stack fits without them")
        optimum = ensemble([_load_weighable(path) for path in args.fit], args.compute, weights=args.weights,
                           holdout_top=args.holdout_top, **extra)
    elif is_isoflop_file(args.fit[0]):  # its power law, and where a new sweep there would bottom out
        if args.with_miss is not None or _levels(args) or extra:
            raise BayescaleError("an isoFLOP analysis gives its power law and a new sweep's minimum; --with-miss, "
                                 "--law-only, --group, --family and --unique-tokens are for fits of laws")
        optimum = _load_weighable(args.fit[0]).optimum(args.compute)
    else:
        fit = _load(args.fit[0])
        if "family" in fit.law.dims and args.family is None:
            _print_family_optima(fit, args.compute, args.prob, args.json, extra.get("unique_tokens"))
            return 0
        optimum = fit.optimum(args.compute, method=args.method, with_miss=args.with_miss, **extra, **_levels(args))
        _remind_notes(fit, args.fit[0])
    if args.json:
        print(json.dumps(optimum.to_records(args.prob), indent=2))
    else:
        print(optimum.format(args.prob))
    return 0


def _remind_notes(fit, path: str) -> None:
    """Say, once, that the fit carries notes from when it was made (they qualify its answers)."""
    if fit.notes:
        first = fit.notes[0] if len(fit.notes[0]) <= 90 else fit.notes[0][:89] + "…"
        more = f" and {len(fit.notes) - 1} more" if len(fit.notes) > 1 else ""
        logging.getLogger("bayescale").warning("the fit was made with notes on its runs (%s%s): bayescale summary %s "
                                               "prints them", first, more, path)


def _family_records(found: dict, prob: float) -> list[dict]:
    return [{"family": name, **record} for name, opt in found.items() for record in opt.to_records(prob)]


def _print_family_optima(fit, budgets, prob: float, as_json: bool, unique_tokens: float | None = None) -> None:
    """Each family's optimum and, when every per-family parameter is pooled, a new family's."""
    from bayescale.decisions.families import family_optima

    found = family_optima(fit, budgets, unique_tokens=unique_tokens)
    if as_json:
        print(json.dumps(_family_records(found, prob), indent=2))
        return
    for name, opt in found.items():
        print(f"family {name}: " + opt.format(prob))


def _cmd_compare_families(args: argparse.Namespace) -> int:
    from bayescale.decisions.families import compare_families

    fit = _load(args.fit)
    result = compare_families(fit, args.compute, args.families, prob=args.prob, unique_tokens=args.unique_tokens)
    print(json.dumps(result.to_records(), indent=2) if args.json else result)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    fit = _load(args.fit)
    given = {"N": args.n, "D": args.d, "C": args.c, "U": args.u}
    given = {k: v for k, v in given.items() if v is not None}
    options = {"N": "--n", "D": "--d", "C": "--c", "U": "--unique-tokens"}
    needs = [v for v in fit.law.variables if v not in given and not (v == "C" and {"N", "D"} <= set(given))]
    if needs:
        raise BayescaleError(f"the law {fit.law.name!r} needs {', '.join(options[v] for v in needs)} to predict a loss "
                             f"(it uses {', '.join(fit.law.variables)})")
    lengths = {len(v) for v in given.values()} - {1}
    if len(lengths) > 1:
        raise BayescaleError("give one value per option, or the same number of values to each of "
                             + ", ".join(options[k] for k in given))
    prediction = fit.predict(prob=args.prob, seed=args.seed, **given, **_levels(args))
    print(json.dumps(prediction.to_records(), indent=2) if args.json else prediction)
    return 0


def _require_unique_tokens(fit, unique_tokens: float | None) -> None:
    if "U" in fit.law.variables and unique_tokens is None:
        raise BayescaleError(f"the law {fit.law.name!r} needs the unique tokens available: add --unique-tokens U "
                             "(e.g. --unique-tokens 2.5e10)")


def _cmd_summary(args: argparse.Namespace) -> int:
    fit = _load(args.fit)
    planned = None
    if args.gpus is not None or args.gpu is not None or args.peak_flops is not None:
        from bayescale.planning.plan import plan

        if args.mfu is None or (args.days is None and args.compute is None):
            raise BayescaleError("the plan in a summary needs --gpus, --gpu, --mfu and --days (or --compute)")
        planned = plan(fit, gpus=args.gpus, gpu=args.gpu, mfu=args.mfu, days=args.days, compute=args.compute,
                       dtype=args.dtype, peak_flops=args.peak_flops, price_per_gpu_hour=args.price_per_gpu_hour,
                       prob=args.prob)
    summary, adequacy = fit.summary(args.prob), fit.adequacy()
    learned = fit.law.error_model.predictive_prior()
    if args.json:
        out = {**summary.to_dict(), "adequacy": adequacy.to_dict(), "fit_id": fit.id, "law": fit.law.name,
               "noise": fit.law.noise, "n_convention": fit.runs.n_convention, "selection": fit.runs.selection,
               "notes": fit.notes, "allocation": _allocation_record(fit)}
        if learned is not None:
            out["predictive_prior"] = learned
        if planned is not None:
            out["plan"] = planned.to_dict()
        print(json.dumps(out, indent=2))
    else:
        model = fit.law.error_model
        runs = fit.runs
        about = f"{runs.n_runs} runs" + (f", N counted {runs.n_convention}" if runs.n_convention != "unstated" else "")
        about += f"; selected: {runs.selection}" if runs.selection else ""
        print(f"law {fit.law.name}, error model {model.name}: {model.title}\n{about}\n{summary}\n{adequacy}")
        if fit.notes:
            print("notes given when the runs were read and fitted:")
            print("\n".join(textwrap.fill(note, 100, initial_indent="  - ", subsequent_indent="    ")
                            for note in fit.notes))
        if learned is not None:
            weights = ", ".join(f"{k} {v:.3g}" for k, v in learned["weights"].items())
            print(f"predictions beyond the runs use the extrapolation prior of {learned['date']} "
                  f"({learned['form']}; log k ~ Normal({learned['mu']:.2f}, {learned['omega']:.2f}); "
                  f"weights {weights}; floor under sigma {learned.get('sigma_floor', 0):g}; learned on "
                  f"{learned['ladders']} real ladders)")
        if fit.allocation is not None:
            print(_allocation_text(fit))
        if planned is not None:
            print(f"\n{planned}")
    return 0


def _cmd_inverse(args: argparse.Namespace) -> int:
    from bayescale.decisions.inverse import compute_for_loss, tokens_for_loss

    if (args.target_loss is None) == (args.observed_loss is None):
        raise BayescaleError("give either --target-loss L, or --observed-loss L with --n N")
    fit = _load(args.fit)
    _require_unique_tokens(fit, args.unique_tokens)
    if args.target_loss is not None:
        _print(compute_for_loss(fit, args.target_loss, unique_tokens=args.unique_tokens), args.json, args.prob)
    else:
        if args.n is None:
            raise BayescaleError("--observed-loss needs --n, the model's parameter count")
        _print(tokens_for_loss(fit, args.observed_loss, args.n, unique_tokens=args.unique_tokens), args.json, args.prob)
    return 0
