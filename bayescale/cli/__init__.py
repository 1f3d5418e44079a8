"""The ``bayescale`` command: a thin shell over the Python API.

Errors that come from the user's input (files, options, data) print one clear message and exit
with status 2; a fit that misses a convergence gate exits with status 3 unless
``--allow-unconverged`` is given.
"""

from bayescale.cli.app import main, run
from bayescale.cli.options import EXIT_INPUT, EXIT_UNCONVERGED

__all__ = ["main", "run", "EXIT_INPUT", "EXIT_UNCONVERGED"]
