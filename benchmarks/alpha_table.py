"""Regenerates docs/alpha.md: the paper's Table 4 (how alpha moves) on the built-in datasets,
every strategy as a call of `lfm reproduce`, then the tables between the page's results markers.

    nice -n 10 python benchmarks/alpha_table.py                    # everything (about 1.5 h on 2 cores)
    nice -n 10 python benchmarks/alpha_table.py --datasets mfeat   # one dataset
    python benchmarks/alpha_table.py --phase select                # the default's selection runs (seed 10)
    python benchmarks/alpha_table.py --report-only                 # the page from the runs done so far
    python benchmarks/alpha_table.py --datasets mfeat --seeds 0 --runs /tmp/at --out /tmp/alpha.md \
        train.epochs=1                                             # a quick check: overrides for every run

Strategies: concatenation (the reference), constant 0.5, the heuristic (Ours-H), the learned
alpha (Ours-LB) at its defaults, seeds 0-4 on every dataset; its old default (cg, Adam 0.1 on
alpha, 2 estimates of one batch) is a candidate of the selection (seed 10). The other rows of the paper's Table 4 (constants 0 and 1,
the stepwise h(p), the polynomial, the neumann and identity solvers, the released code's update)
are no longer regenerated: their commands are in docs/method.md. Each strategy on each dataset
is one call of `lfm reproduce` (concatenation: table1's row `concat`; constant 0.5, Ours-H and
Ours-LB: table4's rows `constant-0.5`, `ours-h`, `ours-lb`; a candidate of the selection: the row
`ours-lb` or `ours-h` of table4 with the candidate's options as overrides, seed 10) into a
reproduction folder of its own, runs/alpha-table/<dataset>/<strategy>/ and
runs/alpha-table/select/<dataset>/<candidate>/ (the same call again continues it; a folder that
`lfm sweep` made before is read as it stands). `--jobs 2` makes two calls at a time, every run
with one thread (`train.threads=1`), which on two cores is about twice as fast as one run with two.
The tables come from the runs' summary.json and events.jsonl only; nothing is typed by hand.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pages import finished_runs, mean_sd, reproduce_args, run_reproduce, shown, write_results

ROOT = Path(__file__).resolve().parents[1]

DATASETS = ("emoji", "mfeat", "fashion")
SEEDS = "0,1,2,3,4"
THREADS = ["train.threads=1"]   # every run on one thread
# the learned alpha's default before the evidence-sized step: Adam 0.1 on alpha itself, 2 estimates of 1 batch
OLD_DEFAULT = ["alpha.optimizer=adam", "alpha.lr=0.1", "alpha.horizon=0", "alpha.space=linear", "alpha.estimates=2",
               "alpha.val_batches=1", "alpha.train_batches=1", "alpha.hypergradient=cg", "alpha.terms=20",
               "alpha.batch_size=0"]
# name -> (label, the experiment of lfm reproduce, its row); the order of the tables
STRATEGIES = {
    "concat": ("concatenation (no L_MM)", "table1", "concat"),
    "constant-0.5": ("constant 0.5", "table4", "constant-0.5"),
    "heuristic": ("Ours-H (heuristic)", "table4", "ours-h"),
    "learned": ("Ours-LB, default (cg, snr step, horizon 0.5)", "table4", "ours-lb"),
}
# the rows the learned alpha's default is compared with, seed by seed
REFERENCES = ("heuristic", "constant-0.5", "concat")
# the estimates of the evidence-sized candidates: 4 draws of 1 training and 4 validation batches of
# the recipe's batch size, cg with 20 products; CHEAP: batches of 64 samples and 10 products
EVIDENCE = ["alpha.hypergradient=cg", "alpha.estimates=4", "alpha.val_batches=4", "alpha.train_batches=1",
            "alpha.optimizer=snr", "alpha.evidence=[2,4]", "alpha.terms=20", "alpha.batch_size=0"]
CHEAP = ["alpha.terms=10", "alpha.batch_size=64"]
# the default's selection: candidates run once, on a seed the tables do not report; every option
# named, so a later change of the defaults does not change what a candidate ran. candidate ->
# (the row of table4: ours-lb is the learned alpha, ours-h the heuristic; the candidate's overrides)
SELECT_SEED = "10"
SELECT = {
    "old default (cg, Adam 0.1)": ("ours-lb", OLD_DEFAULT),
    "snr 0.1": ("ours-lb", EVIDENCE + ["alpha.lr=0.1", "alpha.horizon=0", "alpha.space=linear"]),
    "snr 0.1, horizon 0.5": ("ours-lb", EVIDENCE + ["alpha.lr=0.1", "alpha.horizon=0.5", "alpha.space=linear"]),
    "snr 0.5, horizon 0.5, logit": ("ours-lb", EVIDENCE + ["alpha.lr=0.5", "alpha.horizon=0.5", "alpha.space=logit"]),
    "snr 0.5, horizon 0.5, logit, 3 estimates": ("ours-lb", EVIDENCE + ["alpha.lr=0.5", "alpha.horizon=0.5",
                                                                         "alpha.space=logit", "alpha.estimates=3"]),
    "snr 0.5, horizon 0.5, logit, cheap": ("ours-lb", EVIDENCE + ["alpha.lr=0.5", "alpha.horizon=0.5",
                                                                   "alpha.space=logit"] + CHEAP),
    "snr 0.1, horizon 0.5, cheap": ("ours-lb", EVIDENCE + ["alpha.lr=0.1", "alpha.horizon=0.5",
                                                            "alpha.space=linear"] + CHEAP),
    "heuristic": ("ours-h", []),
}


def strategy_args(runs: Path, dataset: str, strategy: str, seeds: str = SEEDS, overrides: list[str] = ()) -> list[str]:
    """The `lfm reproduce` call of a strategy on a dataset, into runs/<dataset>/<strategy>."""
    _, experiment, row = STRATEGIES[strategy]
    return reproduce_args(experiment, dataset, [row], seeds, runs / dataset / strategy, [*THREADS, *overrides])


def select_folder(runs: Path, dataset: str, candidate: str) -> Path:
    return runs / "select" / dataset / candidate.replace(", ", "-").replace(" ", "")


def select_args(runs: Path, dataset: str, candidate: str, extra: list[str] = ()) -> list[str]:
    """The `lfm reproduce` call of a candidate of the selection on a dataset (seed 10)."""
    row, overrides = SELECT[candidate]
    return reproduce_args("table4", dataset, [row], SELECT_SEED, select_folder(runs, dataset, candidate),
                          [*THREADS, *overrides, *extra])


def reproduce(args: list[str]) -> None:
    """One call of `lfm reproduce` (continued where its folder holds it), said in one line."""
    code = run_reproduce(args, quiet=True)
    folder = Path(args[args.index("--out") + 1])
    print(f"{'ok ' if code == 0 else f'exit {code}'} {folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder}",
          flush=True)


def by_seed(runs: list[dict], key: str) -> dict[int, float]:
    return {r["seed"]: r["test"][key] for r in runs if isinstance(r["test"].get(key), (int, float))}


def paired(xs: dict[int, float], ref: dict[int, float]) -> tuple[float, float] | None:
    """(mean, standard error) over seeds of x - ref, seed by seed."""
    common = sorted(set(xs) & set(ref))
    if len(common) < 2:
        return None
    d = [xs[s] - ref[s] for s in common]
    return statistics.mean(d), statistics.stdev(d) / math.sqrt(len(d))


def fmt_paired(p: tuple[float, float] | None) -> str:
    return "–" if p is None else f"{p[0]:+.2f} ± {p[1]:.2f}"


def verdict(d: tuple[float, float]) -> str:
    """A seed-by-seed difference (mean, standard error) in words, in standard errors."""
    z = d[0] / d[1] if d[1] else 0.0
    return (f"above by {z:.1f} standard errors" if d[0] > d[1] else
            f"below by {-z:.1f} standard errors" if d[0] < -d[1] else "within one standard error")


def updates(run: dict) -> list[dict]:
    """The alpha_updated events of a run."""
    out = []
    for line in (run["dir"] / "events.jsonl").read_text().splitlines():
        if '"alpha_updated"' in line:
            out.append(json.loads(line))
    return out


def trajectory_stats(runs: list[dict]) -> dict:
    """How the learned alpha moved: its range per run, and how often a step went against the
    hypergradient's sign (a step of 0, at a clip bound, counts as neither)."""
    ranges, against, steps = [], 0, 0
    solver = {"neg": 0, "fallbacks": 0, "updates": 0, "residual": [], "agree": [], "snr": [], "t": []}
    for r in runs:
        ups = updates(r)
        if not ups:
            continue
        alphas = [ups[0]["previous"]] + [u["alpha"] for u in ups]
        ranges.append(max(alphas) - min(alphas))
        for u in ups:
            move = u["alpha"] - u["previous"]
            if move and u["hypergradient"]:
                steps += 1
                against += (move > 0) == (u["hypergradient"] > 0)
            solver["updates"] += 1
            if isinstance(u.get("agree"), bool):
                solver["agree"].append(u["agree"])
            if u.get("spread"):  # |mean| / sd of the update's estimates, and |t| = sqrt(estimates) times it
                solver["snr"].append(abs(u["hypergradient"]) / u["spread"])
                solver["t"].append(solver["snr"][-1] * math.sqrt(u.get("estimates") or 1))
            solver["neg"] += bool(u.get("negative_curvature"))
            solver["fallbacks"] += int(u.get("fallbacks") or 0)
            if isinstance(u.get("residual"), (int, float)):
                solver["residual"].append(u["residual"])
    return {"ranges": ranges, "against": against, "steps": steps, **solver}


def alpha_by_epoch(runs: list[dict]) -> dict[int, float]:
    """Mean over runs of alpha at the end of each epoch."""
    table: dict[int, list[float]] = {}
    for r in runs:
        for u in updates(r):
            table.setdefault(u["epoch"], []).append(u["alpha"])
    return {e: statistics.mean(v) for e, v in sorted(table.items())}


def dataset_report(name: str, root: Path, cmds: list[str]) -> list[str]:
    got = {s: finished_runs(root / name / s) for s in STRATEGIES}
    concat = got["concat"]
    c_acc = by_seed(concat, "acc")
    mods = [k[4:] for k in (concat or next((v for v in got.values() if v), [{}]))[0].get("test", {})
            if k.startswith("acc_")] if any(got.values()) else []
    lines = [f"### {name}", "", "```bash", *cmds, "```", "",
             "| strategy | n | fused ACC | macro-F1 | " + " | ".join(f"{m} part" for m in mods)
             + " | gap | Δ ACC vs concat |",
             "|---|---|---|---|" + "---|" * len(mods) + "---|---|"]
    for s, (label, *_) in STRATEGIES.items():
        rs = got[s]
        if not rs:
            lines.append(f"| {label} | 0 | not run |" + " |" * (len(mods) + 3))
            continue
        lines.append("| " + " | ".join([
            label, str(len(rs)), mean_sd(list(by_seed(rs, "acc").values())), mean_sd(list(by_seed(rs, "f1").values())),
            *(mean_sd(list(by_seed(rs, f"acc_{m}").values())) for m in mods),
            mean_sd(list(by_seed(rs, "gap").values())),
            "–" if s == "concat" else fmt_paired(paired(by_seed(rs, "acc"), c_acc))]) + " |")
    lines.append("")
    for s in ("learned",):
        for ref in REFERENCES:
            d = paired(by_seed(got[s], "acc"), by_seed(got[ref], "acc"))
            if d:
                lines.append(f"{STRATEGIES[s][0]} − {STRATEGIES[ref][0]}, seed by seed: {fmt_paired(d)} ACC: "
                             f"{verdict(d)} on {name}.")
        lines.append("")
    learned = [s for s in STRATEGIES if s.startswith("learned")]
    lines += ["How the learned alpha moved (range = max − min of alpha over a run; agree = updates whose "
              "estimates all had one sign; |mean|/sd = the update's hypergradient over its estimates' standard "
              "deviation, |t| = sqrt(estimates) times it, median over every update of every run; against = steps "
              "whose direction is not −sign(dF/dalpha) of the update, a sign the step's memory (Adam's moments, "
              "the horizon) can outweigh; curvature and fallbacks from the solver's report):", "",
              "| strategy | runs | alpha range per run | estimates agree in sign | median \\|mean\\|/sd | "
              "median \\|t\\| | steps against the hypergradient | updates with negative curvature | fallbacks | "
              "worst residual |", "|---|---|---|---|---|---|---|---|---|---|"]
    for s in learned:
        st = trajectory_stats(got[s])
        if not st["ranges"]:
            continue
        worst = f"{max(st['residual']):.2g}" if st["residual"] else "–"
        agree = f"{sum(st['agree'])} of {len(st['agree'])}" if st["agree"] else "–"
        med = {k: f"{statistics.median(st[k]):.2f}" if st[k] else "–" for k in ("snr", "t")}
        lines.append(f"| {STRATEGIES[s][0]} | {len(st['ranges'])} | {min(st['ranges']):.3f} – {max(st['ranges']):.3f} "
                     f"| {agree} | {med['snr']} | {med['t']} | {st['against']} of {st['steps']} "
                     f"| {st['neg']} of {st['updates']} | {st['fallbacks']} | {worst} |")
    epochs = {s: alpha_by_epoch(got[s]) for s in learned}
    all_epochs = sorted({e for v in epochs.values() for e in v})
    if all_epochs:
        shown = [s for s in learned if epochs[s]]
        lines += ["", "Alpha after each epoch's update, mean over seeds, beside the heuristic's alpha for the "
                  "next epoch, 1 − exp(−1/(t + 1)) (the paper's Fig. 3 as a table):", "",
                  "| epoch | " + " | ".join(STRATEGIES[s][0] for s in shown) + " | Ours-H |",
                  "|---|" + "---|" * (len(shown) + 1)]
        for e in all_epochs:
            lines.append(f"| {e} | " + " | ".join(f"{epochs[s][e]:.3f}" if e in epochs[s] else "" for s in shown)
                         + f" | {1 - math.exp(-1 / (e + 1)):.3f} |")
    return lines + [""]


def select_report(root: Path) -> list[str]:
    lines = [f"### How the default was chosen (seed {SELECT_SEED}, which the tables below do not report)", "",
             "| candidate | " + " | ".join(f"{d} ACC" for d in DATASETS) + " | "
             + " | ".join(f"{d} alpha range" for d in DATASETS) + " | "
             + " | ".join(f"{d} agree, median \\|mean\\|/sd" for d in DATASETS) + " |",
             "|---|" + "---|" * (3 * len(DATASETS))]
    for cand in SELECT:
        accs, rngs, ev = [], [], []
        for d in DATASETS:
            rs = finished_runs(select_folder(root, d, cand))
            accs.append(mean_sd(list(by_seed(rs, "acc").values())))
            st = trajectory_stats(rs)
            rngs.append(f"{max(st['ranges']):.3f}" if st["ranges"] else "–")
            ev.append(f"{sum(st['agree'])} of {len(st['agree'])}, {statistics.median(st['snr']):.2f}"
                      if st["agree"] and st["snr"] else "–")
        lines.append(f"| {cand} | " + " | ".join(accs) + " | " + " | ".join(rngs) + " | " + " | ".join(ev) + " |")
    return lines + [""]




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--phase", choices=("table", "select", "all"), default="table")
    p.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--strategies", nargs="*", default=list(STRATEGIES), choices=list(STRATEGIES))
    p.add_argument("--jobs", type=int, default=2, help="lfm reproduce calls at a time (each run on one thread)")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "alpha-table")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "alpha.md")
    p.add_argument("--report-only", action="store_true", help="run nothing: the page from the runs so far")
    p.add_argument("--seeds", default=SEEDS, help=f"seeds of the tables' runs (default {SEEDS})")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="overrides for every run (lfm reproduce's), e.g. train.epochs=1 for a quick check")
    a = p.parse_args()
    calls: list[list[str]] = []
    if a.phase in ("select", "all"):
        calls += [select_args(a.runs, d, cand, a.overrides) for d in DATASETS for cand in SELECT]
    if a.phase in ("table", "all"):
        # the rows the verdicts need first (concatenation, Ours-H, Ours-LB) on every dataset, then
        # the rest: a regeneration cut short still answers the main question
        first = [s for s in ("concat", "heuristic", "learned", "constant-0.5") if s in a.strategies]
        order = first + [s for s in a.strategies if s not in first]
        calls += [strategy_args(a.runs, d, s, a.seeds, a.overrides) for s in order for d in a.datasets]
    started = time.perf_counter()
    if not a.report_only:
        with ThreadPoolExecutor(max_workers=a.jobs) as pool:
            list(pool.map(reproduce, calls))
        print(f"runs took {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    lines = [f"Generated {time.strftime('%Y-%m-%d')} by `nice -n 10 python benchmarks/alpha_table.py --phase all` "
             "(test split, best-on-validation checkpoint; every run on one thread). Mean ± sample standard "
             "deviation over seeds; differences are taken seed by seed, mean ± standard error.", ""]
    lines += select_report(a.runs)
    for d in DATASETS:
        lines += dataset_report(d, a.runs, [shown(strategy_args(a.runs, d, s, a.seeds, a.overrides)) for s in STRATEGIES])
    write_results(a.out, "\n".join(lines))


if __name__ == "__main__":
    main()
