"""The commands that weigh fits and plan: compare, backtest, calibrate, suggest, plan, isoflop,
report, laws."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from bayescale.cli.options import EXIT_UNCONVERGED, _levels, _load, _load_weighable, _names, _pooling, _published, _read_runs, _settings
from bayescale.cli.output import _print, _save_and_print
from bayescale.errors import BayescaleError


def _cmd_compare(args: argparse.Namespace) -> int:
    from bayescale.decisions.comparison import compare_fits

    _print(compare_fits([_load_weighable(path) for path in args.fits]), args.json)
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from bayescale.decisions.backtesting import backtest
    from bayescale.files import check_output_path

    if args.out:
        check_output_path(args.out, "backtest file")
    from bayescale.laws.families import for_families
    from bayescale.laws.law_file import load_law

    runs = _read_runs(args)
    laws = [load_law(name) for given in args.laws for name in _names(given)]
    laws = [for_families(law.with_noise(args.noise) if args.noise else law, runs, **_pooling(args)) for law in laws]
    result = backtest(runs, laws, holdout_top=args.holdout_top, settings=_settings(args), prob=args.prob,
                      workers=args.workers, engine=args.engine, rolling=args.rolling)
    return _save_and_print(result, args)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from bayescale.decisions.calibration import calibrate
    from bayescale.files import check_output_path

    if args.out:
        check_output_path(args.out, "calibration file")
    fit = _load(args.fit)
    if not args.json:
        print(f"calibrating: {args.simulations} synthetic tables and {args.bins} backtest origins, one refit each "
              f"({args.workers} worker(s))", file=sys.stderr)
    result = calibrate(fit, args.simulations, budgets=args.compute, holdout_top=args.holdout_top, bins=args.bins,
                       prob=args.prob, seed=args.seed, workers=args.workers, engine=args.engine,
                       sensitivity=args.sensitivity)
    return _save_and_print(result, args)


def _cmd_suggest(args: argparse.Namespace) -> int:
    from bayescale.decisions.suggest import read_candidates, suggest
    from bayescale.files import check_output_path

    if args.out:
        check_output_path(args.out, "suggestion file")
    candidates = read_candidates(args.candidates) if args.candidates else None
    fits = [_load(path) for path in args.fit]
    weights = [1.0] * len(fits) if args.weights == "equal" else None
    result = suggest(fits, args.target_compute, args.budget, candidates=candidates, k=args.k, min_gain=args.min_gain,
                     weights=weights, unique_tokens=args.unique_tokens, prob=args.prob, seed=args.seed, **_levels(args))
    return _save_and_print(result, args)


def _cmd_plan(args: argparse.Namespace) -> int:
    from bayescale.planning.cluster import accelerators
    from bayescale.planning.plan import plan

    if args.list_gpus:
        for key, acc in accelerators(args.accelerators).items():
            peaks = ", ".join(f"{d} {v:g}" for d, v in acc.peak_tflops.items())
            print(f"{key:<8} {acc.name:<32} dense TFLOP/s: {peaks}\n         source: {acc.source}")
        return 0
    if args.params or args.law:
        fit = _published(args)
    else:
        fit = _load(args.fit) if args.fit else None
    result = plan(fit, gpus=args.gpus, gpu=args.gpu, mfu=args.mfu, days=args.days, dtype=args.dtype,
                  peak_flops=args.peak_flops, price_per_gpu_hour=args.price_per_gpu_hour, budget_usd=args.budget_usd,
                  target_loss=args.target_loss, n=args.n, d=args.d, flops_per_token=args.flops_per_token,
                  inference_tokens=args.inference_tokens, max_tokens=args.max_tokens, unique_tokens=args.unique_tokens,
                  compute=args.compute, candidate_n=args.candidate_n, accelerators=args.accelerators, prob=args.prob,
                  seed=args.seed)
    _print(result, args.json)
    return 0


def _cmd_isoflop(args: argparse.Namespace) -> int:
    from bayescale.decisions.isoflop import DEFAULT_SETTINGS, fit_isoflop
    from bayescale.files import check_output_path

    if args.runs.endswith(".nc"):  # a saved analysis: print it again, e.g. at other budgets
        from bayescale.decisions.isoflop import IsoflopFit

        _show_isoflop(IsoflopFit.load(args.runs), args)
        return 0
    if args.out:
        check_output_path(args.out, "isoFLOP file")
    runs = _read_runs(args)
    if not args.quiet and not args.json:
        print(runs.describe(), file=sys.stderr)
        print(f"isoFLOP analysis: grouping runs within ±{100 * args.tolerance:g}% of compute", file=sys.stderr)
    # the command's chains, draws, warm-up and seed; the isoFLOP model's own mass matrix and target
    settings = replace(_settings(args), adaptation=DEFAULT_SETTINGS.adaptation,
                       target_accept=DEFAULT_SETTINGS.target_accept)
    result = fit_isoflop(runs, tolerance=args.tolerance, settings=settings, drop_unusable=args.drop_unusable)
    converged = result.gates.passed
    path = result.save(args.out) if args.out and (converged or args.allow_unconverged) else None
    try:
        _show_isoflop(result, args)
    finally:  # a backtest that cannot run still leaves the saved analysis, and says so
        if path is not None and not (args.quiet or args.json):
            print(f"\nsaved {path} (id {result.id})")
    if not converged:
        print(f"ERROR: the isoFLOP fit did not converge. {result.gates}\n"
              "Try more --draws/--tune; pass --allow-unconverged to accept it anyway.", file=sys.stderr)
        if args.out:
            print(f"The analysis was NOT saved (an existing {args.out} is untouched).", file=sys.stderr)
        return 0 if args.allow_unconverged else EXIT_UNCONVERGED
    return 0


def _show_isoflop(result, args: argparse.Namespace) -> None:
    checked, failed = None, None
    if args.backtest:
        from bayescale.decisions.isoflop_backtest import backtest_isoflop

        try:
            if result.runs is None:
                raise BayescaleError("this analysis was saved without its runs (an older bayescale): run bayescale "
                                     "isoflop RUNS --backtest on the runs table")
            checked = backtest_isoflop(result.runs, tolerance=result.tolerance, prob=args.prob, seed=args.seed or 0)
        except BayescaleError as err:  # the analysis is still shown; then the reason, and exit 2
            failed = err
    if args.json:
        data = result.to_dict(args.prob, args.compute)
        if checked is not None:
            data["backtest"] = checked.to_dict()
        print(json.dumps(data, indent=2))
    elif not args.quiet:
        print(result.format(args.prob, args.compute) + ("" if checked is None else f"\n{checked}"))
    if failed is not None:
        raise failed


def _cmd_report(args: argparse.Namespace) -> int:
    from bayescale.planning.plan import make_cluster
    from bayescale.report.writer import write_report

    if args.gpus is not None and args.mfu is None:
        raise BayescaleError("a cluster in the report needs its utilisation too: add --mfu, e.g. --mfu 0.4")
    if args.price_per_gpu_hour is not None and args.gpus is None:
        raise BayescaleError("--price-per-gpu-hour prices a cluster: also give --gpus, --gpu and --mfu")
    cluster = make_cluster(args.gpus, args.gpu, args.mfu, args.dtype, args.peak_flops)
    output = args.output or Path(args.fits[0]).with_suffix(".pdf").name
    if not args.output:  # the default name, in the working folder, may be a file given to read
        from bayescale.files import check_not_an_input

        check_not_an_input(output, [*args.fits, *args.with_files], "report")
    path = write_report([_load(path) for path in args.fits], output, budgets=args.compute,
                        with_files=args.with_files, cluster=cluster, price_per_gpu_hour=args.price_per_gpu_hour,
                        unique_tokens=args.unique_tokens)
    print(f"wrote {path}")
    return 0


def _cmd_laws(args: argparse.Namespace) -> int:
    from bayescale.laws.law_file import available_laws, load_law

    if args.name:
        print(load_law(args.name).describe())
        return 0
    for name in available_laws():
        law = load_law(name)
        print(f"{name:<22} {law.title}")
    return 0
