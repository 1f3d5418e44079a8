"""Peak memory and time of `bayescale fit` on large simulated tables (issue 8, item 7).

Simulates ROWS runs from the Chinchilla law (Hoffmann et al. 2022's Approach-3 parameters, 1%
noise on loss), then times one whole `bayescale fit --json` process per size and reads its peak
resident memory. Target: 250,000 rows within 4 GB.

    .venv/bin/python bench/bench_large.py [ROWS ...]      # default: 25000 250000
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def simulate(rows: int, path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e10), rows))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e12), rows))
    loss = (1.69 + 406.4 / n**0.34 + 410.7 / d**0.28) * np.exp(0.01 * rng.standard_normal(rows))
    pd.DataFrame({"N": n, "D": d, "loss": loss}).to_parquet(path)


def main() -> int:
    sizes = [int(x) for x in sys.argv[1:]] or [25_000, 250_000]
    print("| rows | wall s | peak memory GB | gates | file MB |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for rows in sizes:
            table, out = Path(scratch) / f"runs{rows}.parquet", Path(scratch) / f"fit{rows}.nc"
            simulate(rows, table)
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            proc = subprocess.run([str(ROOT / ".venv" / "bin" / "bayescale"), "fit", str(table), "--out", str(out),
                                   "--json", "--seed", "1"], capture_output=True, text=True)
            wall = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, the largest child so far
            if proc.returncode not in (0, 3):
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            gates = json.loads(proc.stdout)["gates"]
            size = out.stat().st_size / 1e6 if out.exists() else float("nan")
            note = "" if peak > before else " (≤ an earlier size's)"
            print(f"| {rows:,} | {wall:.1f} | {peak / 1024**2:.2f}{note} | {'pass' if gates['passed'] else 'FAIL'} | {size:.1f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
