"""Regenerates the results of docs/fashion.md: the built-in `fashion` imbalance benchmark over
five seeds, through `lfm sweep`, then the tables (between the page's results markers).

    nice -n 10 python benchmarks/fashion_imbalance.py                  # everything
    nice -n 10 python benchmarks/fashion_imbalance.py --phase symptom  # single modalities + concat only
    python benchmarks/fashion_imbalance.py --report-only               # the tables from the runs done so far

Phase `symptom` trains each view alone and plain concatenation (the construction is fixed on
these alone); phase `methods` trains LFM (heuristic and learned alpha) and the rebalancing
baselines. Runs go to runs/fashion-benchmark/<configuration>/ (a sweep folder that exists is
resumed, so an interrupted regeneration continues where it stopped). The tables are computed
from the runs' summary.json and predictions.npz files only; nothing in them is typed by hand.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

from pages import TABLE1_HEAD, finished_runs, mean_sd, run_sweep, table1, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEEDS = "0,1,2,3,4"
# every method of the registry but LFM (its own configurations above) and the unimodal one (thumb, noisy)
BASELINES = "sum,weight,film,gated,mmtm,ml_lstm,etmc,mses,gblend,ogm_ge,greedy,domfn,mslr,pmr,agm,mla,reconboost,mmpareto"
# configuration -> (phase, lfm sweep arguments before --seeds)
CONFIGS = {
    "thumb": ("symptom", ["recipes/fashion_thumb.toml"]),
    "noisy": ("symptom", ["recipes/fashion_noisy.toml"]),
    "concat": ("symptom", ["recipes/fashion_concat.toml"]),
    "heuristic": ("methods", ["recipes/fashion.toml"]),
    "learned": ("methods", ["recipes/fashion_learned.toml"]),
    "constant": ("methods", ["recipes/fashion.toml", "alpha.strategy=constant", "alpha.value=0.5"]),
    "baselines": ("methods", ["recipes/fashion_concat.toml", "--grid", f"method.name={BASELINES}"]),
}


def sweep(name: str, runs: Path, jobs: int) -> str:
    out = runs / name
    args = [*CONFIGS[name][1], "--seeds", SEEDS]
    run_sweep(args, out, jobs)
    return "lfm sweep " + " ".join([*args, "--out", str(out)]).replace(str(ROOT) + "/", "")






def paired(xs: dict[int, float], ref: dict[int, float]) -> str:
    """Mean over seeds of (x - ref) with its standard error, seed by seed."""
    common = sorted(set(xs) & set(ref))
    if len(common) < 2:
        return "–"
    d = [xs[s] - ref[s] for s in common]
    return f"{statistics.mean(d):+.2f} ± {statistics.stdev(d) / math.sqrt(len(d)):.2f}"


def by_seed(runs: list[dict], key: str) -> dict[int, float]:
    return {r["seed"]: r["test"][key] for r in runs if key in r["test"]}


def ensembles(runs_root: Path, rule: str) -> dict[int, float]:
    """Test ACC of the late-fusion ensemble of the two single-view runs, seed by seed."""
    from engine.ensemble import ensemble_groups
    from engine.errors import UserError

    try:
        res = ensemble_groups([runs_root / "thumb", runs_root / "noisy"], rule)
    except UserError:
        return {}
    return {s: r["ensemble"]["acc"] for s, r in res["per_seed"].items()}


def learned_alphas(runs: list[dict]) -> list[float]:
    """Every alpha the learned runs took, from their alpha_updated events."""
    out = []
    for r in runs:
        for line in (r["dir"] / "events.jsonl").read_text().splitlines():
            if '"alpha_updated"' in line:
                out.append(json.loads(line)["alpha"])
    return out


def report(runs_root: Path, cmds: list[str]) -> str:
    got = {name: finished_runs(runs_root / name) for name in CONFIGS}
    thumb, noisy, concat = got["thumb"], got["noisy"], got["concat"]
    ens = {rule: ensembles(runs_root, rule) for rule in ("mean", "logmean")}
    c_acc = by_seed(concat, "acc")
    lines = [f"Generated {time.strftime('%Y-%m-%d')} by `nice -n 19 python benchmarks/fashion_imbalance.py --jobs 2` "
             f"(seeds {SEEDS}; test split, 10,000 images, one image = 0.01 points; best-on-validation "
             f"checkpoint). Mean ± sample standard deviation over the seeds; differences are taken seed "
             f"by seed, mean ± standard error.", "", "```bash", *cmds, "```", "",
             "### The symptom: plain concatenation against each view alone", "",
             "| | test ACC | n |", "|---|---|---|"]
    lines.append(f"| thumb alone | {mean_sd(list(by_seed(thumb, 'acc').values()))} | {len(thumb)} |")
    lines.append(f"| noisy alone | {mean_sd(list(by_seed(noisy, 'acc').values()))} | {len(noisy)} |")
    for rule, label in (("mean", "late-fusion ensemble (mean of probabilities)"),
                        ("logmean", "late-fusion ensemble (mean of log-probabilities)")):
        lines.append(f"| {label} | {mean_sd(list(ens[rule].values()))} | {len(ens[rule])} |")
    lines.append(f"| concatenation, fused | {mean_sd(list(c_acc.values()))} | {len(concat)} |")
    lines.append(f"| concatenation, thumb part | {mean_sd(list(by_seed(concat, 'acc_thumb').values()))} | {len(concat)} |")
    lines.append(f"| concatenation, noisy part | {mean_sd(list(by_seed(concat, 'acc_noisy').values()))} | {len(concat)} |")
    lines += ["", "Seed by seed (mean ± standard error of the difference):", "",
              f"- noisy part inside concatenation − noisy alone: "
              f"{paired(by_seed(concat, 'acc_noisy'), by_seed(noisy, 'acc'))}",
              f"- thumb part inside concatenation − thumb alone: "
              f"{paired(by_seed(concat, 'acc_thumb'), by_seed(thumb, 'acc'))}",
              f"- concatenation − ensemble (mean of probabilities): {paired(c_acc, ens['mean'])}",
              f"- concatenation − ensemble (mean of log-probabilities): {paired(c_acc, ens['logmean'])}",
              f"- concatenation − thumb alone: {paired(c_acc, by_seed(thumb, 'acc'))}", ""]
    methods = [("concatenation", "concat", concat), ("LFM, heuristic alpha", "lfm", got["heuristic"]),
               ("LFM, learned alpha", "", got["learned"]), ("LFM, alpha = 0.5 fixed", "", got["constant"])]
    for m in BASELINES.split(","):
        methods.append((m, m, [r for r in got["baselines"] if r["method"] == m]))
    lines += ["### LFM and the baselines on it", "",
              "`Δ` columns are paired seed by seed. The last column quotes the paper's Table 1 for "
              "orientation only (other datasets, encoders and budgets).", "",
              "| method | n | fused ACC | Δ fused vs concat | Δ fused vs ensemble (mean) | thumb part | noisy part "
              f"| Δ noisy part vs concat | gap | {TABLE1_HEAD} |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for label, name, rs in methods:
        if not rs:
            lines.append(f"| {label} | 0 | not run | | | | | | | {table1(name)} |")
            continue
        lines.append("| " + " | ".join([
            label, str(len(rs)), mean_sd(list(by_seed(rs, "acc").values())),
            "–" if rs is concat else paired(by_seed(rs, "acc"), c_acc),
            paired(by_seed(rs, "acc"), ens["mean"]),
            mean_sd(list(by_seed(rs, "acc_thumb").values())), mean_sd(list(by_seed(rs, "acc_noisy").values())),
            "–" if rs is concat else paired(by_seed(rs, "acc_noisy"), by_seed(concat, "acc_noisy")),
            mean_sd(list(by_seed(rs, "gap").values())), table1(name)]) + " |")
    lines += ["", "Ensembles for reference: mean of probabilities "
              f"{mean_sd(list(ens['mean'].values()))}, mean of log-probabilities "
              f"{mean_sd(list(ens['logmean'].values()))}.", ""]
    alphas = learned_alphas(got["learned"])
    if alphas:
        lines += [f"The learned alpha (starting at 0.5; {len(got['learned'])} runs, {len(alphas)} updates) stayed within "
                  f"[{min(alphas):.3f}, {max(alphas):.3f}].", ""]
    return "\n".join(lines)




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--phase", choices=("symptom", "methods", "all"), default="all")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "fashion-benchmark")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "fashion.md")
    p.add_argument("--report-only", action="store_true", help="run nothing: the tables from the runs so far")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (lfm sweep --jobs)")
    a = p.parse_args()
    cmds = []
    for name, (phase, args) in CONFIGS.items():
        if a.phase in ("all", phase) and not a.report_only:
            cmds.append(sweep(name, a.runs, a.jobs))
        else:
            cmds.append("lfm sweep " + " ".join([*args, "--seeds", SEEDS, "--out", str(a.runs / name)])
                        .replace(str(ROOT) + "/", ""))
    write_results(a.out, report(a.runs, cmds))


if __name__ == "__main__":
    main()
