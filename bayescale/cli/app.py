"""The entry point: parse, dispatch, and turn errors into one line and an exit status."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
from collections.abc import Sequence

from bayescale.cli.decision_commands import _cmd_backtest, _cmd_calibrate, _cmd_compare, _cmd_isoflop, _cmd_laws, _cmd_plan, _cmd_report, _cmd_suggest
from bayescale.cli.fit_commands import _cmd_compare_families, _cmd_fit, _cmd_inverse, _cmd_optimum, _cmd_predict, _cmd_summary
from bayescale.cli.options import EXIT_INPUT
from bayescale.cli.parser import _parser
from bayescale.errors import BayescaleError

#: Commands that do one bounded piece of work (read or fit, compute, write) and end; isoflop's
#: backtest refits twice.
_ONE_SHOT = frozenset({"fit", "optimum", "predict", "summary", "inverse", "compare", "compare-families", "report",
                       "laws", "plan", "suggest", "isoflop"})


@contextlib.contextmanager
def _collector_for(command: str):
    """Python's cyclic garbage collector off for a one-shot command and on for the others, then
    back as it was.

    A one-shot command imports PyMC, PyTensor, numba and xarray and builds and compiles a model:
    about half a million objects, nearly all alive until the process ends. The collector walks
    them over and over on the way, 0.35 s of a 3 s fit of the Chinchilla table (timed with
    ``gc.callbacks``), for the few megabytes of cycles one fit leaves. Commands that refit in a
    loop as many times as asked (backtest, calibrate) keep it on, so that their memory stays
    bounded however many refits they make.
    """
    enabled = gc.isenabled()
    if command in _ONE_SHOT:
        gc.disable()
    else:
        gc.enable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        else:
            gc.disable()


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
        _refuse_writing_over_inputs(args)
        with _collector_for(args.command):
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
    except BrokenPipeError:  # the reader stopped early (`bayescale summary fit.nc | head`): not an error of ours
        try:  # point stdout at /dev/null, so that the flush at exit does not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
            pass
        return 141
    except Exception as exc:  # a bug of ours: one line, and the traceback with BAYESCALE_DEBUG=1
        if os.environ.get("BAYESCALE_DEBUG"):
            raise
        print(f"bayescale {args.command}: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in bayescale, not in your input; run again with BAYESCALE_DEBUG=1 for the details.",
              file=sys.stderr)
        return 1


INPUTS = ("runs", "fit", "fits", "priors", "candidates", "accelerators", "with_files")
"""The options and arguments that name files a command reads."""


def _refuse_writing_over_inputs(args: argparse.Namespace) -> None:
    """Refuse ``--out`` or ``-o`` naming a file the command reads: the output would replace it."""
    from bayescale.files import check_not_an_input

    inputs = []
    for name in INPUTS:
        value = getattr(args, name, None)
        inputs.extend(value if isinstance(value, list) else [value])
    for name in ("out", "output"):
        value = getattr(args, name, None)
        if isinstance(value, str):
            check_not_an_input(value, [v for v in inputs if isinstance(v, str)], "output")


class _CurrentStderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is when a note is given, not the stream of
    the first call (a notebook or a test may replace it between calls, and close the old one)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _log_to_stderr() -> None:
    """Show bayescale's warnings (retries, suspicious data) on stderr, one line each."""
    logger = logging.getLogger("bayescale")
    if not logger.handlers:  # a handler of the user's own is left to show the notes
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("note: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)


def run() -> None:
    """Console-script entry point: :func:`main`, then exit without tearing the interpreter down.

    After a fit, Python's orderly shutdown (garbage-collecting PyTensor graphs, unloading LLVM,
    numba and h5py) takes a few tenths of a second for nothing: the fit is saved and closed by
    then. Output streams and logging are flushed first. For the same reason the cyclic garbage
    collector stays off outside the commands that need it: turned back on at the end, its first
    pass would walk every object of the process once more before the exit.
    """
    gc.disable()  # on again for commands that need it (:func:`_collector_for`): the process ends with main
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
