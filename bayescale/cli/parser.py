"""The ``bayescale`` command line: every command and its options."""

from __future__ import annotations

import argparse

from bayescale.cli.options import (
    _add_cluster_options,
    _add_level_options,
    _add_pooling_options,
    _add_published_options,
    _add_runs_options,
    _add_sampler_options,
    _count,
    _noise_names,
    _Parser,
    _positive_float,
    _prob,
    _seed,
)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bayescale",
        description="Bayesian scaling laws: fit a law to training runs, then ask for the "
        "compute-optimal model size, tokens and loss with credible intervals.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fit", help="fit a law to a runs table and save the fit",
                       description="Fit a scaling law to a runs table (CSV, TSV, Parquet or JSON) with NUTS, "
                       "check the convergence gates, print a summary and save the fit as netCDF. "
                       "Units: N in parameters, D in tokens, C in FLOPs (C = 6ND when absent; "
                       "D = C/(6N) when only C is given).")
    p.add_argument("runs", help="runs table: .csv, .tsv, .parquet, .json or .jsonl")
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
    p.add_argument("--unique-tokens", type=_positive_float, metavar="U",
                   help="with --compute and a data-constrained law: the unique tokens available")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.add_argument("--log-likelihood", action="store_true",
                   help="store the pointwise log-likelihood in the fit (large for big tables; computed when needed otherwise)")
    p.add_argument("--no-allocation-refit", dest="allocation_refit", action="store_false",
                   help="when a tenth or more of the runs lie more than 10%% above the lowest loss at their compute "
                        "(isoFLOP sweeps), N*, D* and L* come from the law refitted to the runs within 10%%, saved "
                        "with the fit; this option answers from the fit of every run instead")
    _add_pooling_options(p)
    _add_level_options(p)

    p = sub.add_parser("optimum", help="compute-optimal N*, D*, L* at given budgets",
                       description="For each compute budget C (FLOPs): N*, D* = C/(6N*), L* and D*/N*, "
                       "with medians and equal-tailed credible intervals over the posterior, and L* of a run "
                       "trained there. Beyond the runs, with the default error model, also N_opt_predictive and "
                       "D_opt_predictive: where each draw's surface bottoms out once the law's own miss beyond "
                       "the runs is added. Several fits of different laws to the same runs are stacked into one "
                       "mixture (law uncertainty); an isoFLOP analysis of the same runs ('bayescale isoflop --out') "
                       "may join them, for N* and D*.")
    p.add_argument("fit", nargs="*", help="a fit saved by 'bayescale fit', or several of different laws to the same runs "
                   "(and an isoFLOP analysis of them)")
    _add_published_options(p)
    p.add_argument("--weights", choices=["loo", "lfo"], default="loo",
                   help="stacking weights of several fits: PSIS-LOO (default) or leave-future-out (refits each below the "
                        "top compute; with an isoFLOP analysis, scored by N* at the held-out budgets' minima)")
    p.add_argument("--holdout-top", type=_prob, default=0.25,
                   help="with --weights lfo: fraction of runs, by compute, held out (default: 0.25)")
    p.add_argument("--compute", "-c", type=_positive_float, nargs="+", required=True, metavar="FLOPS", help="budgets in FLOPs, e.g. 1e21 5.76e23")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--method", choices=["auto", "closed", "numeric"], default="auto", help="closed form (when the law has one) or numeric")
    miss = p.add_mutually_exclusive_group()
    miss.add_argument("--with-miss", action="store_true", default=None,
                      help="require N_opt_predictive and D_opt_predictive, each draw's optimum of the law plus its miss "
                           "beyond the runs (printed by default when the error model has one, as 'discrepancy' does)")
    miss.add_argument("--law-only", dest="with_miss", action="store_false",
                      help="only the law's N*, D* (leave out N_opt_predictive and D_opt_predictive)")
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
    p.add_argument("fits", nargs="+", help="two or more fits saved by 'bayescale fit' (or 'bayescale isoflop --out')")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("backtest", help="fit laws on small-compute runs, score them on the largest",
                       description="Fit each law on the runs below a compute cutoff and score the held-out "
                       "largest-compute runs: log predictive density, interval coverage, error of the median.")
    p.add_argument("runs", help="runs table: .csv, .tsv, .parquet, .json or .jsonl")
    p.add_argument("--laws", nargs="+", default=["chinchilla"], metavar="LAW",
                   help="law names or files, separated by spaces or commas (default: chinchilla)")
    p.add_argument("--holdout-top", type=_prob, default=0.2, help="fraction of runs, by compute, held out (default: 0.2)")
    p.add_argument("--workers", type=_count(1), default=1, help="processes to fit on, one law each (default: 1)")
    p.add_argument("--engine", choices=["local", "ray", "dask"], default="local",
                   help="where the worker processes run: this machine (default), Ray or Dask (optional extras)")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability for coverage (default: 0.95)")
    p.add_argument("--out", help="save the scores as JSON (for 'bayescale report FIT.nc --with BT.json')")
    p.add_argument("--rolling", type=_count(0), default=0, metavar="BINS",
                   help="also score each law with rolling origins: the held-out top cut into BINS compute bins, "
                        "each law fitted below each bin and scored on every run above it")
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
    where.add_argument("--candidates", metavar="FILE", help="candidate runs: a CSV/TSV/Parquet/JSON file with columns N and D")
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
    p.add_argument("runs", help="runs table (.csv, .tsv, .parquet, .json), or an analysis saved with --out (.nc)")
    p.add_argument("--tolerance", type=_positive_float, default=0.05,
                   help="relative tolerance for putting runs in the same budget (default: 0.05)")
    p.add_argument("--drop-unusable", action="store_true",
                   help="leave out budgets whose lowest loss is not bracketed by smaller and larger models (noted in "
                        "the output), instead of refusing the table")
    p.add_argument("--compute", "-c", type=_positive_float, nargs="+", metavar="FLOPS", help="also give N*, D* at these budgets")
    p.add_argument("--prob", type=_prob, default=0.95, help="interval probability (default: 0.95)")
    p.add_argument("--backtest", action="store_true",
                   help="also hold out the top 1 and 2 budgets, refit, and check the predictive N* against where the top "
                        "budget's curve bottoms out (two more fits)")
    _add_runs_options(p)
    _add_sampler_options(p, draws=1000)  # the isoFLOP model's 40-odd parameters: see fit_isoflop
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
    p.add_argument("--unique-tokens", type=_positive_float, metavar="U",
                   help="unique tokens available, for data-constrained laws (default: the most any run had)")
    _add_cluster_options(p, "with --gpu (or --peak-flops) and --mfu: page 1 gives days, GPU-hours and cost")

    p = sub.add_parser("laws", help="list the built-in laws", description="List the built-in laws, or show one in full.")
    p.add_argument("name", nargs="?", help="show this law (name or .toml path)")
    return parser


def _version() -> str:
    from bayescale import __version__

    return __version__
