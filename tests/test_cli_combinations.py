"""Every pair of the decision commands' options, on saved fits of every kind (a law in N
and D, a law in compute alone with and without N and D, families of each), end in an answer or in
a clear refusal (exit 0 or 2), never in an internal error (this is how a broadcasting error of
``plan --inference-tokens`` on a family fit was found)."""

from __future__ import annotations

import contextlib
import io
import itertools

import pytest
from conftest import compute_only_fit, fake_fit
from test_families import _fake_compute_family_fit, _fake_family_fit

from bayescale.cli import main

OPTIONS = {
    "predict": [["--n", "1e9"], ["--d", "2e10"], ["--c", "1e22"], ["--unique-tokens", "1e10"], ["--family", "mix_a"],
                ["--prob", "0.9"], ["--json"]],
    "inverse": [["--target-loss", "2.5"], ["--observed-loss", "3.0"], ["--n", "1e9"], ["--family", "mix_a"], ["--json"]],
    "optimum": [["--compute", "1e22"], ["--compute", "1e22", "1e24"], ["--unique-tokens", "1e10"],
                ["--family", "mix_a"], ["--law-only"], ["--json"]],
    "plan": [["--compute", "1e22"], ["--target-loss", "2.5"], ["--gpus", "8"], ["--gpu", "h100"], ["--mfu", "0.4"],
             ["--days", "3"], ["--inference-tokens", "1e12"], ["--max-tokens", "1e10"], ["--json"]],
    "summary": [["--json"], ["--prob", "0.8"]],
    "compare-families": [["--compute", "1e22"], ["--json"]],
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fits")
    fits = {"law.nc": fake_fit(draws=200), "compute.nc": compute_only_fit(), "alone.nc": compute_only_fit(sizes=False),
            "families.nc": _fake_family_fit(), "compute_families.nc": _fake_compute_family_fit()}
    return [str(fit.save(folder / name)) for name, fit in fits.items()]


def test_every_pair_of_options_answers_or_refuses(saved, monkeypatch):
    # each file is read once and its Fit serves every command after (as a Python user's fit serves
    # many questions): reading is tested elsewhere, and was four fifths of this test's minute
    from bayescale.results.fitted import Fit

    read, load = {}, Fit.load.__func__

    def once(cls, path):
        if str(path) not in read:
            read[str(path)] = load(cls, path)
        return read[str(path)]

    monkeypatch.setattr(Fit, "load", classmethod(once))
    codes = []
    for command, options in OPTIONS.items():
        pairs = [()] + [(o,) for o in options] + list(itertools.combinations(options, 2))
        for path, picked in itertools.product(saved, pairs):
            argv = [command, path] + [word for option in picked for word in option]
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                code = main(argv)
            assert code in (0, 2) and "internal error" not in err.getvalue(), (argv, err.getvalue()[-300:])
            codes.append(code)
    assert codes.count(0) > 50 and codes.count(2) > 50  # both outcomes were exercised
    assert len(read) == len(saved)
