"""The ``bayescale`` command: a thin shell over the Python API.

Errors that come from the user's input (files, options, data) print one clear message and exit
with status 2; a fit that misses a convergence gate exits with status 3 unless
``--allow-unconverged`` is given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from bayescale.errors import BayescaleError

EXIT_INPUT = 2
EXIT_UNCONVERGED = 3


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (write e.g. 1e21)") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value


def _count(least: int):
    """An integer option that must be at least ``least`` (chains, draws)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{text!r} is too small: at least {least} (the convergence gates need it)")
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (a seed is an integer such as 1)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; a seed is an integer ≥ 0")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that reads ``--compute -1e21`` as a value, which the option then rejects clearly.

    Plain argparse recognises ``-5`` and ``-0.5`` as negative numbers but takes ``-1e21`` for
    an unknown option and says only 'expected one argument'.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|nan)$", re.IGNORECASE)


def _prob(text: str) -> float:
    value = _positive_float(text)
    if not value < 1:
        raise argparse.ArgumentTypeError("--prob must be between 0 and 1, e.g. 0.95")
    return value


def _noise_names() -> list[str]:
    from bayescale.laws.noise import error_models

    return sorted(error_models())


def _add_runs_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-col", help="column with model parameters N")
    p.add_argument("--d-col", help="column with training tokens D")
    p.add_argument("--c-col", help="column with training compute C in FLOPs")
    p.add_argument("--u-col", help="column with unique training tokens U (data-constrained laws)")
    p.add_argument("--loss-col", help="column with the final loss")
    for var, what in (("n", "parameters"), ("d", "tokens"), ("c", "FLOPs"), ("u", "unique tokens")):
        p.add_argument(f"--{var}-unit", metavar="UNIT",
                       help=f"unit of the {var.upper()} column when it is not in {what}: a multiplier such as 1e9, "
                            f"or billion, trillion, … (default: {what})")
    p.add_argument("--loss-unit", default="nats/token", help="unit of the loss: nats/token (default), bits/token, bits/char, bits/byte")
    _add_n_convention(p, "the N column")
    p.add_argument("--near-optimum", type=float, metavar="FRACTION",
                   help="keep only runs whose loss is within FRACTION (e.g. 0.1) of the lowest loss at their compute "
                        "(±5%%): the runs an allocation is decided on; laws that cannot follow far-off-optimum runs "
                        "of isoFLOP sweeps then place N* where the sweeps bottom out")
    p.add_argument("--exclude-where", action="append", default=[], metavar="CONDITION",
                   help="leave out rows where CONDITION holds: COLUMN=VALUE, or with !=, <, <=, >, >= "
                        "(quote it: 'epochs>100'); repeat for several")
    p.add_argument("--where", action="append", default=[], metavar="CONDITION",
                   help="keep only rows where CONDITION holds (same form as --exclude-where); repeat to require several")
    p.add_argument("--group-col", help="column of group labels, for laws with per-group parameters (E[group])")
    p.add_argument("--family-col", help="column of family labels, for laws with per-family parameters (E[family])")


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _add_pooling_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", type=_names, default=[], metavar="NAMES",
                   help="with --family-col: parameters drawn per family from a learned common distribution "
                        "(default: all, with 3 or more families), e.g. alpha,beta")
    p.add_argument("--share", type=_names, default=[], metavar="NAMES", help="with --family-col: one value for every family")
    p.add_argument("--separate", type=_names, default=[], metavar="NAMES",
                   help="with --family-col: one value per family, not pooled")


def _pooling(args: argparse.Namespace) -> dict[str, list[str]]:
    return {"pool": args.pool, "share": args.share, "separate": args.separate}


def _add_cluster_options(p: argparse.ArgumentParser, gpus_help: str) -> None:
    """The cluster a budget runs on (plan, summary, report); :func:`bayescale.planning.plan.make_cluster` reads them."""
    p.add_argument("--gpus", type=_count(1), help=gpus_help)
    p.add_argument("--gpu", help="accelerator id from the catalogue, e.g. a100, h100, h200, b200, mi250x, mi300x "
                                 "('bayescale plan --list-gpus')")
    p.add_argument("--dtype", choices=["bf16", "fp16", "fp8"], default="bf16", help="training precision (default: bf16)")
    p.add_argument("--peak-flops", type=_positive_float, help="dense peak FLOP/s per accelerator, instead of --gpu")
    p.add_argument("--mfu", type=float, help="model FLOPs utilisation in (0, 1], counting 6ND")
    p.add_argument("--price-per-gpu-hour", type=_positive_float, metavar="USD", help="price of one accelerator-hour")


def _add_level_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--group", help="the group to answer for, with a law that has per-group parameters")
    p.add_argument("--family", help="the family to answer for, with a law that has per-family parameters")


def _levels(args: argparse.Namespace) -> dict[str, str]:
    from bayescale.laws.law import DIMS

    return {dim: getattr(args, dim) for dim in DIMS if getattr(args, dim, None) is not None}


def _add_published_options(p: argparse.ArgumentParser) -> None:
    """A law's published constants instead of a fit (read by :func:`_published`)."""
    p.add_argument("--law", help="with --params instead of a fit: a built-in law or law file")
    p.add_argument("--params", help="published constants in physical units, e.g. E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28")
    p.add_argument("--loss-unit", default="nats/token", help="unit of the published law's loss (default: nats/token)")
    _add_n_convention(p, "the published law")


def _add_n_convention(p: argparse.ArgumentParser, whose: str) -> None:
    from bayescale.data.runs import N_CONVENTIONS

    p.add_argument("--n-convention", choices=N_CONVENTIONS, default="unstated",
                   help=f"how {whose} counts N: total (with the embeddings, as Hoffmann et al.) or non-embedding "
                        "(as Kaplan et al.); recorded, and checked when answers are compared (default: unstated)")


def _add_sampler_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=_seed, default=0, help="random seed; the same seed gives the same posterior (default: 0)")
    p.add_argument("--chains", type=_count(2), default=4, help="chains (default: 4)")
    p.add_argument("--draws", type=_count(50), default=500, help="draws per chain after warm-up (default: 500)")
    p.add_argument("--tune", type=_count(50), default=500, help="warm-up iterations per chain (default: 500)")


def _read_runs(args: argparse.Namespace):
    from bayescale.data.runs import read_runs

    extra = {"u_col": args.u_col} if args.u_col else {}
    extra |= {"group_col": args.group_col, "family_col": args.family_col, "where": args.where}
    units = {var: getattr(args, f"{var.lower()}_unit") for var in ("N", "D", "C", "U")}
    extra["units"] = {var: unit for var, unit in units.items() if unit is not None}
    runs = read_runs(args.runs, n_col=args.n_col, d_col=args.d_col, c_col=args.c_col, loss_col=args.loss_col,
                     exclude_where=args.exclude_where, loss_unit=args.loss_unit,
                     n_convention=getattr(args, "n_convention", "unstated"), **extra)
    if getattr(args, "near_optimum", None) is not None:
        from bayescale.data.selection import near_optimum

        runs = near_optimum(runs, args.near_optimum)
    return runs


def _settings(args: argparse.Namespace):
    from bayescale.inference.sampling import SamplerSettings

    return SamplerSettings(chains=args.chains, draws=args.draws, tune=args.tune, seed=args.seed,
                           progressbar=None if not getattr(args, "quiet", False) else False)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bayescale",
        description="Bayesian scaling laws: fit a law to training runs, then ask for the "
        "compute-optimal model size, tokens and loss with credible intervals.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fit", help="fit a law to a runs table and save the fit",
                       description="Fit a scaling law to a runs table (CSV or Parquet) with NUTS, "
                       "check the convergence gates, print a summary and save the fit as netCDF. "
                       "Units: N in parameters, D in tokens, C in FLOPs (C = 6ND when absent; "
                       "D = C/(6N) when only C is given).")
    p.add_argument("runs", help="runs table: .csv, .tsv or .parquet")
    p.add_argument("--law", default="chinchilla", help="built-in law name (see 'bayescale laws') or a .toml law file (default: chinchilla)")
    p.add_argument("--out", "-o", default="fit.nc", help="where to save the fit (default: fit.nc)")
    _add_runs_options(p)
    _add_sampler_options(p)
    p.add_argument("--to-unit", help="convert the loss to this unit before fitting (nats/token <-> bits/token)")
    p.add_argument("--priors", help="TOML or JSON file of prior overrides, one table per parameter")
    p.add_argument("--noise", choices=_noise_names(), help="error model on log loss (default: the law file's)")
    p.add_argument("--allow-unconverged", action="store_true",
                   help="save the fit and exit 0 even if a convergence gate fails (otherwise an unconverged fit is not saved)")
    p.add_argument("--compute", "-c", type=_positive_float, nargs="+", metavar="FLOPS",
                   help="also print the compute-optimal N*, D*, L* at these budgets, as 'optimum' does")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.add_argument("--log-likelihood", action="store_true",
                   help="store the pointwise log-likelihood in the fit (large for big tables; computed when needed otherwise)")
    _add_pooling_options(p)
    _add_level_options(p)

    p = sub.add_parser("optimum", help="compute-optimal N*, D*, L* at given budgets",
                       description="For each compute budget C (FLOPs): N*, D* = C/(6N*), L* and D*/N*, "
                       "with medians and equal-tailed credible intervals over the posterior. Several fits of "
                       "different laws to the same runs are stacked into one mixture (law uncertainty).")
    p.add_argument("fit", nargs="*", help="a fit saved by 'bayescale fit', or several of different laws to the same runs")
    _add_published_options(p)
    p.add_argument("--weights", choices=["loo", "lfo"], default="loo",
                   help="stacking weights of several fits: PSIS-LOO (default) or leave-future-out (refits each law)")
    p.add_argument("--holdout-top", type=_prob, default=0.25,
                   help="with --weights lfo: fraction of runs, by compute, held out (default: 0.25)")
    p.add_argument("--compute", "-c", type=_positive_float, nargs="+", required=True, metavar="FLOPS", help="budgets in FLOPs, e.g. 1e21 5.76e23")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--method", choices=["auto", "closed", "numeric"], default="auto", help="closed form (when the law has one) or numeric")
    p.add_argument("--unique-tokens", type=_positive_float, metavar="U",
                   help="unique tokens available (data-constrained laws): the allocation may repeat data")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per budget")
    _add_level_options(p)

    p = sub.add_parser("compare-families", help="which family wins at a budget: P(better), loss gap, compute-equivalent gain",
                       description="For a fit with --family-col: for each budget and ordered pair of families (A, B), "
                       "the probability that A's loss at its own optimum is below B's, the loss gap, and the compute B "
                       "needs to match A's loss, as a multiple of the budget.")
    p.add_argument("fit", help="a fit saved by 'bayescale fit --family-col COLUMN'")
    p.add_argument("--compute", "-c", type=_positive_float, nargs="+", required=True, metavar="FLOPS", help="budgets in FLOPs")
    p.add_argument("--families", nargs=2, metavar=("A", "B"), help="compare these two only (default: every ordered pair)")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--unique-tokens", type=_positive_float, metavar="U", help="unique tokens (data-constrained laws)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per budget and pair")

    p = sub.add_parser("predict", help="predicted loss at given N and D",
                       description="Loss predicted by the law at (N, D) pairs, with the law's interval and the "
                       "posterior-predictive interval of a new run.")
    p.add_argument("fit", help="a fit saved by 'bayescale fit'")
    p.add_argument("--n", type=_positive_float, nargs="+", help="model parameters")
    p.add_argument("--d", type=_positive_float, nargs="+", help="training tokens (one, or one per --n)")
    p.add_argument("--c", type=_positive_float, nargs="+", help="training compute in FLOPs (laws in C alone; else 6ND)")
    p.add_argument("--unique-tokens", "--u", dest="u", type=_positive_float, nargs="+", metavar="U",
                   help="unique training tokens (data-constrained laws; one, or one per point)")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed of the predictive noise draws")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_level_options(p)

    p = sub.add_parser("summary", help="posterior summary and convergence verdict of a fit",
                       description="Posterior medians and intervals, R-hat, ESS, the gates and a model-adequacy "
                       "verdict; with a cluster and --days (or --compute), also the plan: budget, N*, D*, L*, days, "
                       "GPU-hours and cost.")
    p.add_argument("fit", help="a fit saved by 'bayescale fit'")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--json", action="store_true", help="print JSON: one object per parameter, plus the gates")
    _add_cluster_options(p, "with --gpu, --mfu and --days or --compute: add the plan")
    p.add_argument("--days", type=float, help="training time in days")
    p.add_argument("--compute", "-c", type=float, help="a budget in FLOPs instead of --days")

    p = sub.add_parser("inverse", help="compute for a target loss, or tokens implied by an observed loss",
                       description="Inverse questions with intervals: the compute needed to reach --target-loss at the "
                       "compute-optimal allocation, or the training tokens implied by --observed-loss at model size --n.")
    p.add_argument("fit", help="a fit saved by 'bayescale fit'")
    p.add_argument("--target-loss", type=_positive_float, nargs="+", help="loss to reach, in the fit's loss unit")
    p.add_argument("--observed-loss", type=_positive_float, help="a model's observed loss, in the fit's loss unit")
    p.add_argument("--n", type=_positive_float, help="that model's parameters (with --observed-loss)")
    p.add_argument("--unique-tokens", type=_positive_float, metavar="U",
                   help="unique tokens available (data-constrained laws)")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("compare", help="compare fits of several laws to the same runs (PSIS-LOO)",
                       description="PSIS-LOO expected log predictive density of each fit, with standard errors, "
                       "differences, stacking weights and Pareto-k warnings. Fits must share data and loss unit.")
    p.add_argument("fits", nargs="+", help="two or more fits saved by 'bayescale fit'")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("backtest", help="fit laws on small-compute runs, score them on the largest",
                       description="Fit each law on the runs below a compute cutoff and score the held-out "
                       "largest-compute runs: log predictive density, interval coverage, error of the median.")
    p.add_argument("runs", help="runs table: .csv, .tsv or .parquet")
    p.add_argument("--laws", default="chinchilla", help="comma-separated law names or files (default: chinchilla)")
    p.add_argument("--holdout-top", type=_prob, default=0.2, help="fraction of runs, by compute, held out (default: 0.2)")
    p.add_argument("--workers", type=_count(1), default=1, help="processes to fit on, one law each (default: 1)")
    p.add_argument("--engine", choices=["local", "ray", "dask"], default="local",
                   help="where the worker processes run: this machine (default), Ray or Dask (optional extras)")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability for coverage (default: 0.95)")
    p.add_argument("--out", help="save the scores as JSON (for 'bayescale report FIT.nc --with BT.json')")
    p.add_argument("--rolling", type=_count(0), default=0, metavar="BINS",
                   help="also score each law with rolling origins: the held-out top cut into BINS compute bins")
    p.add_argument("--noise", choices=_noise_names(), help="error model on log loss (default: each law file's)")
    _add_runs_options(p)
    _add_pooling_options(p)
    _add_sampler_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("calibrate", help="how often this fit's kind of interval holds the truth (simulation + backtest)",
                       description="Refit synthetic tables drawn from the fit's posterior predictive at your runs, and "
                       "backtest your runs with a rolling origin: coverage (with Monte-Carlo error) of the parameters, "
                       "of N* and of the predictive intervals of held-out top-compute runs.")
    p.add_argument("fit", help="a fit saved by 'bayescale fit'")
    p.add_argument("--simulations", type=_count(2), default=20, help="synthetic tables to refit (default: 20)")
    p.add_argument("--compute", "-c", type=_positive_float, nargs="+", metavar="FLOPS",
                   help="budgets for N* coverage (default: 10x and 100x the largest run)")
    p.add_argument("--holdout-top", type=_prob, default=0.25, help="fraction of runs, by compute, held out (default: 0.25)")
    p.add_argument("--bins", type=_count(1), default=3, help="rolling origins of the backtest (default: 3)")
    p.add_argument("--sensitivity", action="store_true", help="also refit with priors twice as wide and half as wide")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seeds the synthetic tables and the refits")
    p.add_argument("--workers", type=_count(1), default=1, help="processes to refit on (default: 1)")
    p.add_argument("--engine", choices=["local", "ray", "dask"], default="local",
                   help="where the worker processes run: this machine (default), Ray or Dask (optional extras)")
    p.add_argument("--out", help="save the calibration as JSON (for 'bayescale report FIT.nc --with CAL.json')")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("suggest", help="which runs to do next: those that shrink the N* interval most per FLOP",
                       description="Rank candidate runs (N, D) by the expected shrinkage of the N* interval at "
                       "--target-compute per FLOP (6ND), and pick a batch within --budget greedily, each pick "
                       "conditioned on those before it (linear-Gaussian preposterior of log N* over the posterior draws).")
    p.add_argument("fit", nargs="+", help="a fit saved by 'bayescale fit', or several of different laws to the same runs")
    p.add_argument("--target-compute", type=_positive_float, required=True, metavar="FLOPS",
                   help="the budget whose N* matters, e.g. 1e24")
    p.add_argument("--budget", type=_positive_float, required=True, metavar="FLOPS",
                   help="FLOPs available for the new runs (6ND each), e.g. 1e20")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--candidates", metavar="FILE", help="candidate runs: a CSV/TSV/Parquet file with columns N and D")
    where.add_argument("--grid", action="store_true",
                       help="candidates on a log grid of N and tokens per parameter around and beyond the runs (default)")
    p.add_argument("--k", type=_count(1), default=5, help="at most this many runs (default: 5)")
    p.add_argument("--min-gain", type=float, default=0.05,
                   help="stop when no affordable run narrows the interval by this fraction of today's width (default: 0.05)")
    p.add_argument("--unique-tokens", type=_positive_float, metavar="U", help="unique tokens available (data-constrained laws)")
    p.add_argument("--weights", choices=["loo", "equal"], default="loo", help="weights of several fits (default: PSIS-LOO stacking)")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--seed", type=_seed, default=0, help="seeds the draws")
    p.add_argument("--out", help="save the suggestion as JSON (for 'bayescale report FIT.nc --with SUG.json')")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_level_options(p)

    p = sub.add_parser("plan", help="plan a run: cluster, days and dollars <-> budget, N*, D*, L* with intervals",
                       description="Without a fit: the arithmetic of a run (--n, --d) on a cluster: compute, implied MFU "
                       "or days, GPU-hours, cost. With a fit: what --days (or --budget-usd, or --compute) buy on a "
                       "cluster, or what a --target-loss takes; peak FLOP/s are the dense figures of the accelerator "
                       "catalogue ('bayescale plan --list-gpus').")
    p.add_argument("fit", nargs="?", help="a fit saved by 'bayescale fit' (optional)")
    _add_cluster_options(p, "number of accelerators")
    p.add_argument("--accelerators", metavar="FILE", help="a TOML catalogue of your own accelerators")
    p.add_argument("--days", type=float, help="training time in days")
    p.add_argument("--compute", "-c", type=float, help="a budget in FLOPs instead of --days")
    p.add_argument("--budget-usd", type=float, help="money to spend, instead of --days (needs --price-per-gpu-hour)")
    p.add_argument("--target-loss", type=float, help="loss to reach (with a fit), in the fit's loss unit")
    p.add_argument("--n", type=float, help="model parameters (arithmetic without a fit)")
    p.add_argument("--d", type=float, help="training tokens (arithmetic without a fit)")
    p.add_argument("--flops-per-token", type=_positive_float, default=6.0,
                   help="FLOPs per parameter and token actually executed, for the HFU (8 with full recomputation)")
    p.add_argument("--inference-tokens", type=float, default=0.0,
                   help="tokens to be served over the model's life: with --target-loss, the cheapest lifetime allocation")
    p.add_argument("--max-tokens", type=float, help="training tokens available (a cap on D)")
    p.add_argument("--candidate-n", type=_positive_float, metavar="N",
                   help="judge training N parameters at the budget: loss penalty, wasted compute, P(N* > N)")
    p.add_argument("--unique-tokens", type=_positive_float, metavar="U", help="unique tokens (data-constrained laws)")
    _add_published_options(p)
    p.add_argument("--list-gpus", action="store_true", help="list the accelerator catalogue and exit")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seeds the predictive draws")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("isoflop", help="isoFLOP analysis (Chinchilla Approach 2): N*(C) and D*(C) power laws",
                       description="Group runs by compute budget, fit a parabola in log N per budget and a power law "
                       "through the minima, N* = G·C^a and D* = A·C^b, with posteriors and intervals.")
    p.add_argument("runs", help="runs table (.csv, .tsv, .parquet), or an analysis saved with --out (.nc)")
    p.add_argument("--tolerance", type=_positive_float, default=0.05,
                   help="relative tolerance for putting runs in the same budget (default: 0.05)")
    p.add_argument("--compute", "-c", type=_positive_float, nargs="+", metavar="FLOPS", help="also give N*, D* at these budgets")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    _add_runs_options(p)
    _add_sampler_options(p)
    p.add_argument("--allow-unconverged", action="store_true",
                   help="save the analysis and exit 0 even if a convergence gate fails")
    p.add_argument("--out", "-o", help="save the analysis here (netCDF, with provenance); give that file as RUNS to read it back")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")

    p = sub.add_parser("report", help="write a PDF report of one fit or several",
                       description="Write a PDF report: provenance, data, fit against data, posterior, diagnostics, "
                       "the compute-optimal frontier and, for several fits, their comparison.")
    p.add_argument("fits", nargs="+", help="fits saved by 'bayescale fit'")
    p.add_argument("--output", "-o", help="PDF path, e.g. reports/NAME.pdf (default: the first fit's name, .pdf, here)")
    p.add_argument("--compute", "-c", type=_positive_float, nargs="+", metavar="FLOPS", help="budgets for the allocation table")
    p.add_argument("--with", dest="with_files", action="append", default=[], metavar="FILE",
                   help="add a page for a saved calibration, backtest or suggestion (calibrate/backtest/suggest --out); repeatable")
    _add_cluster_options(p, "with --gpu (or --peak-flops) and --mfu: page 1 gives days, GPU-hours and cost")

    p = sub.add_parser("laws", help="list the built-in laws", description="List the built-in laws, or show one in full.")
    p.add_argument("name", nargs="?", help="show this law (name or .toml path)")
    return parser


def _version() -> str:
    from bayescale import __version__

    return __version__


def _warn_if_failed(fit) -> None:
    if not fit.gates.passed:
        print(f"WARNING: this fit FAILED its convergence gates; treat its numbers with suspicion.\n{fit.gates}",
              file=sys.stderr)


def _cmd_fit(args: argparse.Namespace) -> int:
    from bayescale.files import check_output_path
    from bayescale.laws.families import for_families
    from bayescale.laws.law import load_law
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
    if not args.quiet and not args.json:
        print(runs.describe(), file=sys.stderr)
        noise = get_error_model(args.noise or law.noise)
        print(f"fitting {law.name}: L = {law.formula}\nerror model {noise.name}: {noise.title}", file=sys.stderr)
    result = fit(runs, law, noise=args.noise, settings=settings, log_likelihood=args.log_likelihood)
    converged = result.gates.passed
    path = result.save(args.out) if converged or args.allow_unconverged else None
    summary = result.summary(args.prob)
    adequacy = result.adequacy() if args.json or not args.quiet else None  # residuals of every run: only when shown
    per_family = "family" in result.law.dims and args.family is None
    optimum = result.optimum(args.compute, **_levels(args)) if args.compute and not per_family else None
    if args.json:
        out = {**summary.to_dict(), "fit": None if path is None else str(path), "fit_id": result.id,
               "noise": result.law.noise, "attempts": len(result.attempts), "adequacy": adequacy.to_dict()}
        if optimum is not None:
            out["optimum"] = optimum.to_records(args.prob)
        elif args.compute:
            from bayescale.decisions.families import family_optima

            out["optimum"] = _family_records(family_optima(result, args.compute), args.prob)
        print(json.dumps(out, indent=2))
    elif not args.quiet:
        print(summary)
        print(adequacy)
        if len(result.attempts) > 1:
            print(f"\nsampled {len(result.attempts)} times: the first attempt(s) missed a gate, so draws were raised "
                  f"to {result.sampler.get('draws')} per chain")
        if optimum is not None:
            print("\n" + optimum.format(args.prob))
        elif args.compute:
            print()
            _print_family_optima(result, args.compute, args.prob, False)
        if path is not None:
            print(f"\nsaved {path} (fit id {result.id})")
    if not converged:
        print(f"ERROR: the fit did not converge. {result.gates}\n{_advice(args, result)}", file=sys.stderr)
        if path is None:
            print(f"The fit was NOT saved (an existing {args.out} is untouched); "
                  "pass --allow-unconverged to save it anyway.", file=sys.stderr)
        return 0 if args.allow_unconverged else EXIT_UNCONVERGED
    return 0


def _advice(args: argparse.Namespace, result) -> str:
    """What to try after a failed fit, given what was already tried."""
    tips = []
    if args.draws < 2000:
        tips.append(f"more draws (--draws {4 * args.draws} --tune {4 * args.tune})")
    if result.law.noise in ("normal", "discrepancy", "grouped"):
        tips.append("heavy-tailed noise (--noise student_t) if a few runs miss the law by far")
    tips.append('tighter priors in a file, e.g. a file holding the line  E = { dist = "LogNormal", mu = 0.5, sigma = 0.3 }  '
                "passed as --priors FILE")
    return "Try " + "; or ".join(tips) + "."


def _load(path: str):
    from bayescale.results.fitted import Fit

    fit = Fit.load(path)
    _warn_if_failed(fit)
    return fit


def _published(args: argparse.Namespace):
    """A law's published constants from --law and --params, standing in for a fit."""
    from bayescale.planning.published import PublishedLaw, parse_params

    if args.fit or not (args.params and args.law):
        raise BayescaleError("published constants need --law NAME and --params NAME=VALUE,…, and no fit file")
    return PublishedLaw(args.law, parse_params(args.params), args.loss_unit, args.n_convention)


def _cmd_optimum(args: argparse.Namespace) -> int:
    extra = {"unique_tokens": args.unique_tokens} if args.unique_tokens else {}
    if args.params or args.law:
        optimum = _published(args).optimum(args.compute, method=args.method, **extra)
    elif not args.fit:
        raise BayescaleError("give a fit file (bayescale fit RUNS --out FIT.nc), or a law's constants with --law and --params")
    elif len(args.fit) > 1:
        from bayescale.decisions.ensemble import ensemble

        if _levels(args):
            raise BayescaleError("--group/--family pick a level of one fit; give one fit, or stack fits without them")
        optimum = ensemble([_load(path) for path in args.fit], args.compute, weights=args.weights,
                           holdout_top=args.holdout_top, **extra)
    else:
        fit = _load(args.fit[0])
        if "family" in fit.law.dims and args.family is None:
            _print_family_optima(fit, args.compute, args.prob, args.json, extra.get("unique_tokens"))
            return 0
        optimum = fit.optimum(args.compute, method=args.method, **extra, **_levels(args))
    if args.json:
        print(json.dumps(optimum.to_records(args.prob), indent=2))
    else:
        print(optimum.format(args.prob))
    return 0


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
    if args.json:
        out = {**summary.to_dict(), "adequacy": adequacy.to_dict(), "fit_id": fit.id, "law": fit.law.name,
               "noise": fit.law.noise}
        if planned is not None:
            out["plan"] = planned.to_dict()
        print(json.dumps(out, indent=2))
    else:
        model = fit.law.error_model
        print(f"law {fit.law.name}, error model {model.name}: {model.title}\n{summary}\n{adequacy}")
        if planned is not None:
            print(f"\n{planned}")
    return 0


def _print(result, as_json: bool, prob: float | None = None) -> None:
    if as_json:
        print(json.dumps(result.to_dict() if prob is None else result.to_dict(prob), indent=2))
    else:
        print(result if prob is None else result.format(prob))


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


def _cmd_compare(args: argparse.Namespace) -> int:
    from bayescale.decisions.comparison import compare_fits

    _print(compare_fits([_load(path) for path in args.fits]), args.json)
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from bayescale.decisions.backtesting import backtest
    from bayescale.files import check_output_path

    if args.out:
        check_output_path(args.out, "backtest file")
    from bayescale.laws.families import for_families
    from bayescale.laws.law import load_law

    runs = _read_runs(args)
    laws = [load_law(name) for name in _names(args.laws)]
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


def _save_and_print(result, args: argparse.Namespace) -> int:
    """Save a result with ``--out`` (checked before the work began), then print it."""
    if args.out:
        result.save(args.out)
    _print(result, args.json)
    if args.out and not args.json:
        print(f"\nsaved {args.out}")
    return 0


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
    from bayescale.decisions.isoflop import fit_isoflop
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
    result = fit_isoflop(runs, tolerance=args.tolerance, settings=_settings(args))
    converged = result.gates.passed
    path = result.save(args.out) if args.out and (converged or args.allow_unconverged) else None
    _show_isoflop(result, args)
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
    if args.json:
        print(json.dumps(result.to_dict(args.prob, args.compute), indent=2))
    elif not args.quiet:
        print(result.format(args.prob, args.compute))


def _cmd_report(args: argparse.Namespace) -> int:
    from bayescale.planning.plan import make_cluster
    from bayescale.report.writer import write_report

    if args.gpus is not None and args.mfu is None:
        raise BayescaleError("a cluster in the report needs its utilisation too: add --mfu, e.g. --mfu 0.4")
    if args.price_per_gpu_hour is not None and args.gpus is None:
        raise BayescaleError("--price-per-gpu-hour prices a cluster: also give --gpus, --gpu and --mfu")
    cluster = make_cluster(args.gpus, args.gpu, args.mfu, args.dtype, args.peak_flops)
    output = args.output or Path(args.fits[0]).with_suffix(".pdf").name
    path = write_report([_load(path) for path in args.fits], output, budgets=args.compute,
                        with_files=args.with_files, cluster=cluster, price_per_gpu_hour=args.price_per_gpu_hour)
    print(f"wrote {path}")
    return 0


def _cmd_laws(args: argparse.Namespace) -> int:
    from bayescale.laws.law import available_laws, load_law

    if args.name:
        print(load_law(args.name).describe())
        return 0
    for name in available_laws():
        law = load_law(name)
        print(f"{name:<22} {law.title}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayescale`` command; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad option (argparse printed why)
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    commands = {"fit": _cmd_fit, "optimum": _cmd_optimum, "predict": _cmd_predict, "summary": _cmd_summary,
                "inverse": _cmd_inverse, "compare": _cmd_compare, "backtest": _cmd_backtest,
                "calibrate": _cmd_calibrate, "plan": _cmd_plan, "suggest": _cmd_suggest,
                "compare-families": _cmd_compare_families,
                "isoflop": _cmd_isoflop, "report": _cmd_report, "laws": _cmd_laws}
    if not getattr(args, "quiet", False) and not getattr(args, "json", False):
        _log_to_stderr()
    try:
        return commands[args.command](args)
    except BayescaleError as exc:
        print(f"bayescale {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except (RecursionError, OverflowError, MemoryError) as exc:
        print(f"bayescale {args.command}: error: the input is too large or too deeply nested to handle "
              f"({type(exc).__name__}); check the files and values you passed", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line, and the traceback with BAYESCALE_DEBUG=1
        if os.environ.get("BAYESCALE_DEBUG"):
            raise
        print(f"bayescale {args.command}: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in bayescale, not in your input; run again with BAYESCALE_DEBUG=1 for the details.",
              file=sys.stderr)
        return 1


def _log_to_stderr() -> None:
    """Show bayescale's warnings (retries, suspicious data) on stderr, one line each."""
    logger = logging.getLogger("bayescale")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("note: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)


def run() -> None:
    """Console-script entry point: :func:`main`, then exit without tearing the interpreter down.

    After a fit, Python's orderly shutdown (garbage-collecting PyTensor graphs, unloading LLVM,
    numba and h5py) takes a few tenths of a second for nothing: the fit is saved and closed by
    then. Output streams and logging are flushed first.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
