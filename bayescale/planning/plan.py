"""Plan a training run: cluster, days and dollars ↔ budget, with the posterior carried through.

:func:`plan` answers, by what it is given:

- ``n`` and ``d`` (no fit): the arithmetic of a run on a cluster: compute, and the implied MFU
  (with ``days``) or the days (with ``mfu``), GPU-hours and cost;
- a fit and a cluster with ``days`` (or ``budget_usd``, or a ``compute`` budget): N*, D*, L*
  (law and a run's) at it, the size that minimises the expected loss (``N_recommended``), and
  for a ``candidate_n`` its loss penalty, wasted compute and P(N* > candidate); optionally under
  a token cap;
- a fit and ``target_loss``: the compute, days, GPU-hours and cost to reach it at the optimum;
  with ``inference_tokens``, the allocation with the fewest lifetime FLOPs instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bayescale.laws.flops import FLOPS_PER_PARAM_TOKEN, training_flops
from bayescale.planning.cluster import Cluster, PlanError, get_accelerator, implied_utilisation
from bayescale.results.optimum import interval
from bayescale.texts import interval_texts

__all__ = ["Plan", "plan", "make_cluster"]


def _summary(values: Any, prob: float) -> dict[str, float | None]:
    """median/lower/upper of draws; a number gives median = lower = upper."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 0:
        v = float(values)
        return {"median": v, "lower": v, "upper": v}
    with np.errstate(invalid="ignore"):  # draws that never get there count as unbounded
        med, lo, hi = interval(np.where(np.isfinite(values), values, np.inf), prob)
    return {k: (float(v) if np.isfinite(v) else None) for k, v in (("median", med), ("lower", lo), ("upper", hi))}


@dataclass(frozen=True)
class Plan:
    """What a plan found: one record per budget or target, and the cluster it assumed.

    Attributes
    ----------
    question : str
    records : list of dict
        Numbers (points) and ``{"median", "lower", "upper"}`` objects (uncertain quantities).
    units : dict
        Unit of each quantity.
    cluster : str
    """

    question: str
    records: list[dict]
    units: dict[str, str]
    cluster: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict | list[dict]:
        """JSON: one object of numbers for arithmetic, else a list with one object per budget/target."""
        return self.records[0] if self.question == "arithmetic" else self.records

    def _repr_html_(self) -> str:
        from bayescale.results.html import records_html

        return records_html(self.records, f"plan: {self.question}" + (f" on {self.cluster}" if self.cluster else ""))

    def __repr__(self) -> str:  # a REPL or notebook shows what print() shows, not the draws
        return self.__str__()

    def __str__(self) -> str:
        lines = [f"plan: {self.question}" + (f" on {self.cluster}" if self.cluster else "")]
        for record in self.records:
            lines.append("")
            for key, value in record.items():
                unit = self.units.get(key, "")
                if isinstance(value, dict):
                    med, lo, hi = interval_texts(key, value)
                    lines.append(f"  {key:<22}{med:>12}   [{lo}, {hi}]  {unit}")
                elif isinstance(value, float | int) and not isinstance(value, bool):
                    lines.append(f"  {key:<22}{value:>12.4g}   {unit}")
                else:
                    lines.append(f"  {key:<22}{value!s:>12}   {unit}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def make_cluster(gpus: int | None, gpu: str | None, mfu: float | None, dtype: str = "bf16",
                 peak_flops: float | None = None, accelerators: str | None = None) -> Cluster | None:
    """A :class:`Cluster` from the options, or None when no GPUs are given."""
    if gpus is None:
        if gpu is not None or peak_flops is not None:
            raise PlanError("--gpu and --peak-flops (gpu=, peak_flops= in Python) describe the GPUs of a cluster: also give --gpus COUNT "
                            "(gpus=)")
        return None
    if peak_flops is None:
        if gpu is None:
            raise PlanError("name the accelerator with --gpu (e.g. --gpu h100; gpu='h100' in Python) or give its dense peak with "
                            "--peak-flops (peak_flops=)")
        accelerator = get_accelerator(gpu, accelerators)
        peak, label = accelerator.peak_flops(dtype), f"{gpus} × {accelerator.id} ({dtype}, dense peak)"
    else:
        peak, label = float(peak_flops), f"{gpus} GPUs at {peak_flops:.4g} FLOP/s peak"
    return Cluster(int(gpus), peak, 1.0 if mfu is None else float(mfu), label)


def _costs(cluster: Cluster, compute: Any, price: float | None, prob: float) -> dict:
    out = {"days": _summary(cluster.days(compute), prob), "gpu_hours": _summary(cluster.gpu_hours(compute), prob)}
    if price is not None:
        out["cost"] = _summary(cluster.gpu_hours(compute) * price, prob)
    return out


def plan(
    fit: Any = None,
    *,
    gpus: int | None = None,
    gpu: str | None = None,
    mfu: float | None = None,
    days: float | None = None,
    dtype: str = "bf16",
    peak_flops: float | None = None,
    price_per_gpu_hour: float | None = None,
    budget_usd: float | None = None,
    target_loss: float | None = None,
    n: float | None = None,
    d: float | None = None,
    flops_per_token: float = FLOPS_PER_PARAM_TOKEN,
    inference_tokens: float = 0.0,
    max_tokens: float | None = None,
    unique_tokens: float | None = None,
    compute: float | None = None,
    candidate_n: float | None = None,
    accelerators: str | None = None,
    prob: float = 0.95,
    seed: int = 0,
) -> Plan:
    """Answer a planning question (see the module's docstring).

    Raises
    ------
    PlanError
        Contradictory or missing options, values out of range, an unknown accelerator.
    """
    for name, value in (("--compute", compute), ("--days", days), ("--price-per-gpu-hour", price_per_gpu_hour), ("--budget-usd", budget_usd),
                        ("--target-loss", target_loss), ("--n", n), ("--d", d), ("--max-tokens", max_tokens)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise PlanError(f"{name} must be a positive number, got {value!r}")
    if inference_tokens < 0 or not np.isfinite(inference_tokens):
        raise PlanError(f"--inference-tokens (inference_tokens= in Python) must be zero or a positive number of tokens, got "
                        f"{inference_tokens!r}")
    if mfu is not None and not 0 < mfu <= 1:
        raise PlanError(f"--mfu (mfu= in Python) must lie in (0, 1], e.g. 0.4; got {mfu!r}")
    cluster = make_cluster(gpus, gpu, mfu, dtype, peak_flops, accelerators)
    if fit is None:
        return _arithmetic(cluster, n, d, days, mfu, flops_per_token, price_per_gpu_hour)
    if n is not None or d is not None:
        raise PlanError("--n/--d (n=, d= in Python) ask for the arithmetic of a given run; with a fit, ask for a budget "
                        "(--days or --budget-usd on a cluster; days=, budget_usd=) or a --target-loss (target_loss=)")
    from bayescale.results.fitted import allocation_source

    answer = _from_fit(allocation_source(fit), cluster, days, mfu, price_per_gpu_hour, budget_usd, target_loss,
                       inference_tokens, max_tokens, unique_tokens, compute, candidate_n, prob, seed)
    return _with_caveats(answer, fit, cluster)


def _with_caveats(answer: Plan, fit: Any, cluster: Cluster | None) -> Plan:
    """N's unit and the notes a plan needs about how its fit was made: how N was counted, and a
    law that misses the runs' trend along tokens per parameter (its N* may be far off)."""
    from bayescale.results.adequacy import RATIO

    convention = getattr(fit.runs, "n_convention", "unstated")
    units = answer.units | ({k: f"parameters ({convention})" for k in ("N_opt", "N_recommended") if k in answer.units}
                            if convention != "unstated" else {})
    from bayescale.planning.published import PublishedLaw

    notes = list(answer.notes)
    if isinstance(fit, PublishedLaw):
        notes.append(f"from the published constants of {fit.law.name}: a point, without uncertainty, so each interval "
                     "is that point; a fit of your own runs gives intervals")
    if convention == "non-embedding" and cluster is not None:
        notes.append("N counts parameters without the embeddings: 6ND leaves their FLOPs out, so the days, "
                     "GPU-hours and cost above are lower bounds")
    if getattr(fit, "allocation", None) is not None:  # published constants have no runs to check
        notes.append(f"N*, D* and L* come from the law {fit.allocation_basis}: runs far from each budget's optimum "
                     "tilt a law's exponents")
    elif hasattr(fit, "adequacy") and fit.adequacy().misses(RATIO):
        notes.append(f"the law misses the runs' trend in {RATIO}, so N* here may be far from where a budget's "
                     "loss bottoms out; for the allocation, refit the runs near each budget's optimum "
                     "(bayescale fit RUNS --near-optimum 0.1)")
    return replace(answer, units=units, notes=notes)


def _from_fit(fit, cluster, days, mfu, price_per_gpu_hour, budget_usd, target_loss, inference_tokens, max_tokens,
              unique_tokens, compute, candidate_n, prob, seed) -> Plan:
    if target_loss is not None:
        return _for_target(fit, cluster, target_loss, inference_tokens, price_per_gpu_hour, prob, seed, unique_tokens)
    if compute is not None:
        if days is not None or budget_usd is not None:
            raise PlanError("--compute (compute= in Python) fixes the budget; --days and --budget-usd (days=, budget_usd=) would "
                           "fix it too: give one of them")
        if cluster is not None and mfu is None:
            raise PlanError("to turn --compute into days on the cluster, give --mfu (e.g. 0.4; mfu=0.4 in Python)")
        return _for_budget(fit, cluster, compute, price_per_gpu_hour, max_tokens, unique_tokens, prob, seed, candidate_n)
    if cluster is None or mfu is None:
        raise PlanError("a plan from a fit needs a cluster: --gpus N --gpu NAME --mfu 0.4, and --days or --budget-usd "
                        "(or a budget in FLOPs with --compute); in Python gpus=, gpu=, mfu=, days=, budget_usd=, compute=")
    if (days is None) == (budget_usd is None):
        raise PlanError("give the training time with --days, or the money with --budget-usd (and --price-per-gpu-hour); "
                        "days=, budget_usd=, price_per_gpu_hour= in Python")
    if budget_usd is not None:
        if price_per_gpu_hour is None:
            raise PlanError("--budget-usd needs --price-per-gpu-hour to turn dollars into GPU-hours (budget_usd= and "
                             "price_per_gpu_hour= in Python)")
        days = budget_usd / price_per_gpu_hour / cluster.gpus / 24.0
    return _for_budget(fit, cluster, cluster.compute(float(days)), price_per_gpu_hour, max_tokens, unique_tokens,
                       prob, seed, candidate_n)


def _arithmetic(cluster, n, d, days, mfu, flops_per_token, price) -> Plan:
    if n is None or d is None:
        raise PlanError("without a fit, give the run: --n PARAMETERS --d TOKENS (and a cluster: --gpus, --gpu, "
                        "--days or --mfu); in Python n=, d=, gpus=, gpu=, days=, mfu=")
    compute = float(training_flops(n, d))
    record: dict[str, Any] = {"N": float(n), "D": float(d), "compute": compute, "tokens_per_param": d / n}
    units = {"N": "parameters", "D": "tokens", "compute": "FLOPs (6ND)", "tokens_per_param": "tokens/param",
             "days": "days", "gpu_hours": "GPU-hours", "cost": "USD", "mfu": "of dense peak (6ND)",
             "hfu": f"of dense peak ({flops_per_token:g}ND)"}
    if cluster is not None:
        if days is not None and mfu is None:
            record["mfu"] = implied_utilisation(n, d, cluster.gpus, cluster.peak_flops, days)
            if flops_per_token != FLOPS_PER_PARAM_TOKEN:
                record["hfu"] = implied_utilisation(n, d, cluster.gpus, cluster.peak_flops, days, flops_per_token)
            record["days"] = float(days)
            hours = cluster.gpus * days * 24.0
        elif mfu is not None and days is None:
            record["mfu"] = float(mfu)
            record["days"] = float(cluster.days(compute))
            hours = float(cluster.gpu_hours(compute))
        else:
            raise PlanError("give --days (to get the implied MFU) or --mfu (to get the days), not both (days=, mfu= in Python)")
        record["gpu_hours"] = hours
        if price is not None:
            record["cost"] = hours * price
    return Plan("arithmetic", [record], units, cluster.label if cluster else "")


def _for_budget(fit, cluster, compute, price, max_tokens, unique_tokens, prob, seed, candidate_n=None) -> Plan:
    if fit.law.in_compute_alone:
        return _loss_for_budget(fit, cluster, compute, price, max_tokens, candidate_n, prob, seed)
    extra = {"unique_tokens": unique_tokens} if unique_tokens is not None else {}
    optimum = fit.optimum([compute], seed=seed, with_miss=False, **extra)
    record = _budget_record(cluster, compute, price)
    notes = []
    n_opt, d_opt, l_opt = optimum.N_opt[:, 0], optimum.D_opt[:, 0], optimum.L_opt[:, 0]
    if max_tokens is not None:
        if "U" in fit.law.variables:
            raise PlanError(f"law {fit.law.name!r} models repeated data through --unique-tokens (unique_tokens=); give that instead of "
                            "--max-tokens")
        from bayescale.planning.allocation import capped_optimum
        from bayescale.planning.decision import wasted_compute

        capped = capped_optimum(fit.law, fit.draws(), fit.scales, compute, n_opt, max_tokens)
        record["cap_binds"] = float(np.mean(capped["binds"]))
        record["loss_cost_of_cap"] = _summary(capped["L"] - l_opt, prob)
        # compute-equivalent: the share of the budget that an uncapped run at the optimum would not
        # need to reach the capped run's loss, per draw
        record["compute_cost_of_cap"] = _summary(wasted_compute(fit, compute, capped["L"], unique_tokens), prob)
        notes.append(f"the token cap {max_tokens:.3g} binds in {record['cap_binds']:.0%} of the posterior draws")
        n_opt, d_opt, l_opt = capped["N"], capped["D"], capped["L"]
    if max_tokens is None:
        from bayescale.planning.decision import judge_candidate, recommend

        record |= recommend(fit, compute, unique_tokens, optimum=optimum)
        if candidate_n is not None:
            judged = judge_candidate(fit, compute, candidate_n, unique_tokens, optimum=optimum)
            record |= {"candidate_N": float(candidate_n), "loss_penalty": _summary(judged["loss_penalty"], prob),
                       "wasted_compute": _summary(judged["wasted_compute"], prob),
                       "expected_wasted_compute": float(np.nanmean(judged["wasted_compute"])),
                       "p_nstar_above_candidate": judged["p_nstar_above"]}
    record |= {"N_opt": _summary(n_opt, prob), "D_opt": _summary(d_opt, prob), "L_opt": _summary(l_opt, prob),
               "L_opt_predictive": _summary(optimum.L_opt_predictive[:, 0], prob) if max_tokens is None else None,
               "tokens_per_param": _summary(d_opt / n_opt, prob)}
    record = {k: v for k, v in record.items() if v is not None}
    units = {**_BUDGET_UNITS, "N_opt": "parameters", "D_opt": "tokens", "L_opt": f"{fit.runs.loss_unit} (the law)",
             "L_opt_predictive": f"{fit.runs.loss_unit} (a run)", "tokens_per_param": "tokens/param",
             "cap_binds": "of draws", "loss_cost_of_cap": fit.runs.loss_unit,
             "compute_cost_of_cap": "of the budget (compute-equivalent)",
             "N_recommended": "parameters (minimises the expected loss)", "D_recommended": "tokens",
             "expected_loss": fit.runs.loss_unit, "candidate_N": "parameters", "loss_penalty": fit.runs.loss_unit,
             "wasted_compute": "of the budget", "expected_wasted_compute": "of the budget",
             "p_nstar_above_candidate": "probability"}
    return Plan(_bought(record, cluster), [record], units, cluster.label if cluster is not None else "", notes)


#: Units of the budget's own entries in a plan's record.
_BUDGET_UNITS = {"compute": "FLOPs", "days": "days", "gpu_hours": "GPU-hours", "cost": "USD"}


def _budget_record(cluster, compute: float, price: float | None) -> dict[str, Any]:
    """A plan's record of the budget itself: FLOPs, and on a cluster its days, GPU-hours and cost."""
    record: dict[str, Any] = {"compute": float(compute)}
    if cluster is not None:
        record |= {"days": float(cluster.days(compute)), "gpu_hours": float(cluster.gpu_hours(compute))}
        if price is not None:
            record["cost"] = record["gpu_hours"] * price
    return record


def _bought(record: dict, cluster) -> str:
    """The plan's question: what the days on the cluster buy, or the FLOPs without one."""
    return f"what {record['days']:.4g} days buy" if cluster is not None else f"what {record['compute']:.3g} FLOPs buy"


def _loss_for_budget(fit, cluster, compute, price, max_tokens, candidate_n, prob, seed) -> Plan:
    """What a budget buys under a law in compute alone: its loss (the law's and a run's), no N or D."""
    if max_tokens is not None or candidate_n is not None:
        raise PlanError(f"law {fit.law.name!r} has no trade-off between model size and tokens (it uses "
                        f"{', '.join(fit.law.variables)}): --max-tokens and --candidate-n need a law in N and D")
    prediction = fit.predict(C=[float(compute)], prob=prob, seed=seed)
    record = _budget_record(cluster, compute, price)
    record |= {"loss": _summary(prediction.mean[:, 0], prob), "loss_predictive": _summary(prediction.predictive[:, 0], prob)}
    unit = fit.runs.loss_unit
    units = {**_BUDGET_UNITS, "loss": f"{unit} (the law)", "loss_predictive": f"{unit} (a run)"}
    notes = [f"law {fit.law.name!r} is in compute alone: it gives the loss a budget buys, not the model size or "
             "tokens to spend it on (fit a law in N and D for those)"]
    return Plan(_bought(record, cluster), [record], units, cluster.label if cluster is not None else "", notes)


def _for_target(fit, cluster, target, inference_tokens, price, prob, seed, unique_tokens) -> Plan:
    units = {"compute": "FLOPs (training, the law)", "compute_run": "FLOPs (training, a run)",
             "compute_inference": "FLOPs (serving)", "N_opt": "parameters", "D_opt": "tokens",
             "days": "days", "gpu_hours": "GPU-hours", "cost": "USD", "tokens_per_param": "tokens/param"}
    if inference_tokens > 0:
        from bayescale.planning.allocation import inference_optimum

        if fit.law.dims:  # the lifetime optimum per family or group is not built yet
            raise PlanError(f"--inference-tokens (inference_tokens= in Python) is not yet answered for laws with "
                            f"per-{fit.law.dims[0]} parameters ({fit.law.name!r}); use optimum with "
                            f"--{fit.law.dims[0]} for each")
        if "U" in fit.law.variables or not {"N", "D"} <= set(fit.law.variables):
            raise PlanError(f"--inference-tokens needs a law in N and D without unique tokens; {fit.law.name!r} "
                            f"uses {', '.join(fit.law.variables)}")
        found = inference_optimum(fit.law, fit.draws(), fit.scales, target, inference_tokens)
        compute = found.compute_training
        record = {"loss": target, "inference_tokens": inference_tokens, "compute": _summary(compute, prob),
                  "compute_inference": _summary(found.compute_inference, prob), "N_opt": _summary(found.N, prob),
                  "D_opt": _summary(found.D, prob), "tokens_per_param": _summary(found.D / found.N, prob)}
        question = f"the cheapest lifetime allocation reaching loss {target:g} with {inference_tokens:.3g} tokens served"
    else:
        from bayescale.decisions.inverse import compute_for_loss

        answer = compute_for_loss(fit, [target], unique_tokens=unique_tokens, seed=seed)
        compute = answer.values["C"][:, 0]
        record = {"loss": target, "unreachable": float(answer.unreachable()[0]), "compute": _summary(compute, prob)}
        if "C_run" in answer.values:  # a law in compute alone answers for the law only
            record["compute_run"] = _summary(answer.values["C_run"][:, 0], prob)
        if "N_opt" in answer.values:
            record |= {"N_opt": _summary(answer.values["N_opt"][:, 0], prob),
                       "D_opt": _summary(answer.values["D_opt"][:, 0], prob)}
        question = f"what it takes to reach loss {target:g}"
    if cluster is not None:
        record |= _costs(cluster, compute, price, prob)
    return Plan(question, [record], units, cluster.label if cluster else "")
