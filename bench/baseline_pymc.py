"""The Chinchilla model written by hand in plain PyMC, as a user would: physical units, defaults.

    python bench/baseline_pymc.py RUNS.csv {pymc|nutpie} SEED

Prints one JSON line: convergence of the posterior (max R-hat, min bulk ESS, divergences).
"""

import json
import sys

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm

path, sampler, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
df = pd.read_csv(path)
df = df[df.epoch_excluded_outlier == 0]
N = df.N_params.to_numpy()
D = df.D_tokens.to_numpy()
L = df.loss.to_numpy()

with pm.Model():
    E = pm.LogNormal("E", mu=np.log(2.0), sigma=0.5)
    A = pm.LogNormal("A", mu=np.log(400.0), sigma=1.5)
    B = pm.LogNormal("B", mu=np.log(400.0), sigma=1.5)
    alpha = pm.LogNormal("alpha", mu=np.log(0.3), sigma=0.5)
    beta = pm.LogNormal("beta", mu=np.log(0.3), sigma=0.5)
    sigma = pm.HalfNormal("sigma", 0.1)
    mu = pm.math.log(E + A / N**alpha + B / D**beta)
    pm.Normal("obs", mu=mu, sigma=sigma, observed=np.log(L))
    idata = pm.sample(nuts_sampler=sampler, random_seed=seed, progressbar=False)

rhat = az.rhat(idata)
ess = az.ess(idata, method="bulk")
print(json.dumps({
    "max_rhat": max(float(rhat[v]) for v in rhat.data_vars),
    "min_ess_bulk": min(float(ess[v]) for v in ess.data_vars),
    "divergences": int(idata.sample_stats.diverging.sum()),
}))
