"""Argument types, the option groups the commands share, and turning options into objects
(runs, sampler settings, fits, published constants)."""

from __future__ import annotations

import argparse
import re

from bayescale.cli.output import _warn_if_failed
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


#: Why the sampler's counts have a floor.
GATES = "the convergence gates need it"
#: Why the sampler's counts have a ceiling.
ENOUGH = "a few thousand draws in all pin an interval's ends; millions only fill memory"


def _count(least: int, why: str = "", most: int | None = None, too_many: str = ""):
    """An integer option that must be at least ``least`` (chains, draws, workers), ``why`` said,
    and at most ``most`` where more could only exhaust memory or time (``too_many`` says why)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{text!r} is too small: at least {least}" + (f" ({why})" if why else ""))
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"{text!r} is too large: at most {most:,}" + (f" ({too_many})" if too_many else ""))
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
    """A fraction strictly between 0 and 1 (--prob, --holdout-top): argparse names the option."""
    value = _positive_float(text)
    if not value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a fraction between 0 and 1, e.g. 0.95 or 0.25")
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
                            f"or billion, trillion, …, or log10 for a column of base-10 logarithms"
                            + (", or per-param for a column of tokens per parameter (D = value × N)" if var == "d" else "")
                            + f" (default: {what}, or the unit its name or a row of units under the header states, e.g. "
                            f"'{var.upper()}_billions', with a note)")
    p.add_argument("--loss-unit", default=None,
                   help="unit of the loss: nats/token (default; bits/byte or bits/char for a column named e.g. bpb or "
                        "bpc), bits/token, bits/char, bits/byte; or perplexity, for a column of per-token "
                        "perplexities (read as their natural log, in nats/token)")
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
    p.add_argument("--last-per", action="append", default=[], metavar="RUN_COLUMN",
                   help="a table of training curves: rows with the same RUN_COLUMN (repeat for a run named by several "
                        "columns) are one run's checkpoints, and only the one with the most tokens is kept, the run's "
                        "final loss (after --where and --exclude-where)")
    p.add_argument("--drop-duplicates", action="store_true",
                   help="keep the first of runs that repeat one another exactly (same N, D, C and loss), with a note, "
                        "instead of refusing the table")
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
    from bayescale.data.conventions import N_CONVENTIONS

    p.add_argument("--n-convention", choices=N_CONVENTIONS, default="unstated",
                   help=f"how {whose} counts N: total (with the embeddings, as Hoffmann et al.) or non-embedding "
                        "(as Kaplan et al.); recorded, and checked when answers are compared (default: unstated)")


def _add_sampler_options(p: argparse.ArgumentParser, draws: int = 500) -> None:
    p.add_argument("--seed", type=_seed, default=0, help="random seed; the same seed gives the same posterior (default: 0)")
    p.add_argument("--chains", type=_count(2, GATES, 64, "chains share this machine's cores"), default=4,
                   help="chains (default: 4)")
    p.add_argument("--draws", type=_count(50, GATES, 1_000_000, ENOUGH), default=draws,
                   help=f"draws per chain after warm-up (default: {draws}; a law file's [sampler] table may start higher)")
    p.add_argument("--tune", type=_count(50, GATES, 1_000_000, ENOUGH), default=500,
                   help="warm-up iterations per chain (default: 500)")


def _read_runs(args: argparse.Namespace):
    from bayescale.data.reading import read_runs

    extra = {"u_col": args.u_col} if args.u_col else {}
    extra |= {"group_col": args.group_col, "family_col": args.family_col, "where": args.where,
              "last_per": args.last_per, "drop_duplicates": args.drop_duplicates}
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


def _load(path: str):
    from bayescale.results.fitted import Fit

    fit = Fit.load(path)
    _warn_if_failed(fit)
    return fit


def _load_weighable(path: str):
    """A fit, or an isoFLOP analysis: compare and a stacked optimum weigh one like the other."""
    from bayescale.decisions.isoflop_file import is_isoflop_file, load_isoflop

    if not is_isoflop_file(path):
        return _load(path)
    result = load_isoflop(path)
    _warn_if_failed(result)
    return result


def _published(args: argparse.Namespace):
    """A law's published constants from --law and --params, standing in for a fit."""
    from bayescale.planning.published import PublishedLaw, parse_params

    if args.fit or not (args.params and args.law):
        raise BayescaleError("published constants need --law NAME and --params NAME=VALUE,…, and no fit file")
    return PublishedLaw(args.law, parse_params(args.params), args.loss_unit, args.n_convention)
