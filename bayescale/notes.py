"""Notes (bayescale's warnings) kept with what they are about.

A note said while a table is read ("N is derived as C / (6D)", "the table may mix setups") or
while a law is fitted to it ("compute spans only 1×") qualifies every number drawn from that fit.
Printed once, it would be lost by the time a report is read; :func:`collect_notes` gathers them
so that :class:`~bayescale.data.runs.Runs` and a saved fit keep them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collect_notes"]


class _Keeper(logging.Handler):
    def __init__(self, skip: tuple[str, ...]) -> None:
        super().__init__(level=logging.WARNING)
        self.skip = skip
        self.notes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if not record.name.startswith(self.skip) and text not in self.notes:
            self.notes.append(text)


@contextmanager
def collect_notes(skip: tuple[str, ...] = ()) -> Iterator[list[str]]:
    """Gather the notes bayescale gives inside the block, each once, in order (they are still shown).

    Parameters
    ----------
    skip : tuple of str
        Loggers whose notes are not gathered (e.g. ``("bayescale.inference",)``: the sampler's
        retries, which a fit records as its attempts).

    Yields
    ------
    list of str
        Filled as the block runs. Notes held back by ``workers.quiet_notes`` are not given, so
        not gathered.
    """
    keeper = _Keeper(skip)
    logger = logging.getLogger("bayescale")
    logger.addHandler(keeper)
    try:
        yield keeper.notes
    finally:
        logger.removeHandler(keeper)
