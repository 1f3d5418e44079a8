"""Notes given while runs are read and a law fitted stay with the runs and the fit (no sampler)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
from conftest import fake_fit

from bayescale.cli import main
from bayescale.data.reading import runs_from_frame
from bayescale.inference.workers import quiet_notes
from bayescale.notes import collect_notes
from bayescale.report.pages import fit_pages
from bayescale.results.fitted import Fit


def test_collect_notes_keeps_each_note_once_and_skips_what_it_is_told():
    data, sampler = logging.getLogger("bayescale.data"), logging.getLogger("bayescale.inference.converge")
    with collect_notes(skip=("bayescale.inference",)) as notes:
        data.warning("N is derived from %s", "C and D")
        data.warning("N is derived from %s", "C and D")
        sampler.warning("attempt 1 missed the gates")
        logging.getLogger("bayescale.data").info("not a note")
        with quiet_notes():  # an internal refit's notes are held back, so not kept
            data.warning("fitting the law again to the other 36")
    assert notes == ["N is derived from C and D"]
    data.warning("after the block")
    assert notes == ["N is derived from C and D"]


def _runs_with_a_note():
    n = np.array([1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9])
    frame = pd.DataFrame({"C": 6 * n * 20 * n, "D": 20 * n, "loss": 1.7 + 400 / n**0.34 + 410 / (20 * n) ** 0.28})
    return runs_from_frame(frame)


def test_the_notes_of_reading_stay_with_the_runs_and_a_saved_fit(tmp_path, capsys, caplog):
    runs = _runs_with_a_note()
    assert any("N is derived from compute and tokens" in note for note in runs.notes)
    fit = fake_fit(runs, draws=100)
    fit.tree.attrs["fit_notes_json"] = json.dumps(["compute spans only 4,096×", runs.notes[0]])
    path = tmp_path / "fit.nc"
    fit.save(path)
    loaded = Fit.load(path)
    assert loaded.notes == [*runs.notes, "compute spans only 4,096×"]  # each once, the table's first
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "notes given when the runs were read and fitted:" in out and "N is derived" in out
    assert main(["summary", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == loaded.notes
    with caplog.at_level("WARNING", logger="bayescale"):  # answers that rest on them say so
        assert main(["optimum", str(path), "--compute", "1e21"]) == 0
    assert "the fit was made with notes on its runs" in caplog.text and f"bayescale summary {path}" in caplog.text
    assert "note: the fit was made with notes" in capsys.readouterr().err  # on this test's stderr, not an old one
    pages = dict(fit_pages(loaded, None))
    page = pages["1b Notes on the runs and the fit"]()
    shown = " ".join(text.get_text() for text in page.texts)
    assert "N is derived from compute" in shown and "compute spans only 4,096×" in shown


def test_a_fit_without_notes_has_no_notes_page():
    fit = fake_fit(draws=100)
    assert fit.notes == []
    assert not any("Notes" in title for title, _ in fit_pages(fit, None))
