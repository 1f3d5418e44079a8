"""Printing and saving what a command found."""

from __future__ import annotations

import argparse
import json
import sys


def _warn_if_failed(fit) -> None:
    if not fit.gates.passed:
        print(f"WARNING: this fit FAILED its convergence gates; treat its numbers with suspicion.\n{fit.gates}",
              file=sys.stderr)


def _print(result, as_json: bool, prob: float | None = None) -> None:
    if as_json:
        print(json.dumps(result.to_dict() if prob is None else result.to_dict(prob), indent=2))
    else:
        print(result if prob is None else result.format(prob))


def _save_and_print(result, args: argparse.Namespace) -> int:
    """Save a result with ``--out`` (checked before the work began), then print it."""
    if args.out:
        result.save(args.out)
    _print(result, args.json)
    if args.out and not args.json:
        print(f"\nsaved {args.out}")
    return 0
