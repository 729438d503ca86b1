"""Regenerates the results of docs/fashion.md: the built-in `fashion` imbalance benchmark over
five seeds, as calls of `lfm reproduce`, then the tables (between the page's results markers).

    nice -n 10 python benchmarks/fashion_imbalance.py                  # everything
    nice -n 10 python benchmarks/fashion_imbalance.py --phase symptom  # single modalities + concat only
    python benchmarks/fashion_imbalance.py --report-only               # the tables from the runs done so far
    nice -n 10 python benchmarks/fashion_imbalance.py --methods mmtm,reconboost \
        --why "the other methods' code did not change"                 # a partial regeneration
    python benchmarks/fashion_imbalance.py --phase symptom --seeds 0 --runs /tmp/fb --out /tmp/fashion.md \
        train.epochs=1                                                 # a quick check: overrides for every run

Phase `symptom` trains each view alone and plain concatenation (the construction is fixed on
these alone); phase `methods` trains LFM (heuristic and learned alpha) and the rebalancing
baselines. Each configuration is one call of `lfm reproduce --data fashion` (recipes/fashion.toml,
the rows of CONFIGS below: thumb and noisy are table1's `unimodal-1` and `unimodal-2`, the views
in the recipe's order; concatenation, the heuristic and learned alpha and the baselines table1's
`concat`, `ours-h`, `ours-lb` and method rows, `gated` among them; alpha = 0.5 fixed table4's
`constant-0.5`) into runs/fashion-benchmark/<configuration>/ (the same call again continues it,
so an interrupted regeneration continues where it stopped; a folder that `lfm sweep` made before
is read as it stands). The tables are computed from the runs' summary.json and predictions.npz
files only; nothing in them is typed by hand.

A partial regeneration (`--methods`, baselines or LFM's configurations heuristic, learned,
constant) runs those and the references of the paired columns (thumb, noisy, concat; into
their usual folders, the baselines named into a folder of their own), rewrites the symptom
table and those rows of the methods table, carries every other row over from the page as it
stands, and says so in the results' first line, with whether the references reproduced the
earlier generation's symptom table (the carried rows' `Δ` columns are paired against it).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import pages
from pages import TABLE1_HEAD, finished_runs, mean_sd, reproduce_args, run_reproduce, shown, table1, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEEDS = "0,1,2,3,4"
# every method of the registry but LFM (its own configurations above) and the unimodal one (thumb, noisy)
BASELINES = "sum,weight,film,gated,mmtm,ml_lstm,etmc,mses,gblend,ogm_ge,greedy,domfn,mslr,pmr,agm,mla,reconboost,mmpareto"
# configuration -> (phase, the experiment of lfm reproduce, its rows on fashion, whose views are
# thumb then noisy)
CONFIGS = {
    "thumb": ("symptom", "table1", ["unimodal-1"]),
    "noisy": ("symptom", "table1", ["unimodal-2"]),
    "concat": ("symptom", "table1", ["concat"]),
    "heuristic": ("methods", "table1", ["ours-h"]),
    "learned": ("methods", "table1", ["ours-lb"]),
    "constant": ("methods", "table4", ["constant-0.5"]),
    "baselines": ("methods", "table1", BASELINES.split(",")),
}


# the configurations of the methods table's LFM rows, by label
LFM_ROWS = {"heuristic": "LFM, heuristic alpha", "learned": "LFM, learned alpha", "constant": "LFM, alpha = 0.5 fixed"}
REFERENCES = ("thumb", "noisy", "concat")
SYMPTOM_HEAD = "| | test ACC | n |"
METHODS_HEAD = ("| method | n | fused ACC | Δ fused vs concat | Δ fused vs ensemble (mean) | thumb part | noisy part "
                f"| Δ noisy part vs concat | gap | {TABLE1_HEAD} |")


def plan(methods: list[str]) -> dict[str, tuple[str, list[str], str]]:
    """configuration -> (experiment, rows, folder under the runs root): every configuration, or
    (a partial regeneration) the references and the `methods` named."""
    if not methods:
        return {name: (exp, rows, name) for name, (_, exp, rows) in CONFIGS.items()}
    out = {name: (*CONFIGS[name][1:], name) for name in (*REFERENCES, *(m for m in methods if m in LFM_ROWS))}
    named = [m for m in methods if m not in LFM_ROWS]
    if named:
        out["baselines"] = ("table1", named, "baselines-" + "-".join(named))
    return out


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
    from engine.contract.errors import UserError

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


def report(runs_root: Path, cmds: list[str], folders: dict[str, str] | None = None, seeds: str = SEEDS) -> str:
    """The results block from the runs under `runs_root` (`folders`: configuration -> its
    folder, by default every configuration's own; a configuration left out has no runs)."""
    folders = {name: name for name in CONFIGS} if folders is None else folders
    got = {name: finished_runs(runs_root / folders[name]) if name in folders else [] for name in CONFIGS}
    thumb, noisy, concat = got["thumb"], got["noisy"], got["concat"]
    ens = {rule: ensembles(runs_root, rule) for rule in ("mean", "logmean")}
    c_acc = by_seed(concat, "acc")
    lines = [f"Generated {time.strftime('%Y-%m-%d')} by `nice -n 19 python benchmarks/fashion_imbalance.py --jobs 2` "
             f"(seeds {seeds}; test split, 10,000 images, one image = 0.01 points; best-on-validation "
             f"checkpoint). Mean ± sample standard deviation over the seeds; differences are taken seed "
             f"by seed, mean ± standard error.", "", "```bash", *cmds, "```", "",
             "### The symptom: plain concatenation against each view alone", "",
             SYMPTOM_HEAD, "|---|---|---|"]
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
    methods = [("concatenation", "concat", concat), (LFM_ROWS["heuristic"], "lfm", got["heuristic"]),
               (LFM_ROWS["learned"], "", got["learned"]), (LFM_ROWS["constant"], "", got["constant"])]
    for m in BASELINES.split(","):
        methods.append((m, m, [r for r in got["baselines"] if r["method"] == m]))
    lines += ["### LFM and the baselines on it", "",
              "`Δ` columns are paired seed by seed. The last column quotes the paper's Table 1 for "
              "orientation only (other datasets, encoders and budgets).", "",
              METHODS_HEAD, "|---|---|---|---|---|---|---|---|---|---|"]
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




def partial(old_block: str, block: str, methods: list[str], command_line: str, why: str, seeds: str = SEEDS) -> str:
    """The page's results block as it stands, with the symptom table, the ensembles' line and the
    rows of concatenation and `methods` taken from the new `block`, every other row of the methods
    table (and the learned alpha's line where `learned` was not rerun) carried over, and a first
    line that says so."""
    rerun = ["concatenation", *(LFM_ROWS.get(m, m) for m in methods)]
    new = {lab: line for lab, line in pages.table_rows(block, METHODS_HEAD).items() if pages.cells(line)[1] != "0"}
    merged = pages.merge_rows(pages.table_rows(old_block, METHODS_HEAD), new, rerun)
    count = len(seeds.split(","))
    counts = [(lab, pages.cells(line)[-1]) for lab, line in pages.table_rows(block, SYMPTOM_HEAD).items()]
    counts += [(lab, pages.cells(new[lab])[1]) for lab in rerun]
    short = [f"{lab} ({n})" for lab, n in counts if n != str(count)]
    text = pages.replace_rows(block, METHODS_HEAD, merged)
    lines = [ln for ln in text.splitlines() if not ln.startswith("The learned alpha")]
    if "learned" not in methods:
        alpha = [ln for ln in old_block.splitlines() if ln.startswith("The learned alpha")]
        at = next((i + 1 for i, ln in enumerate(lines) if ln.startswith("Ensembles for reference")), len(lines))
        lines[at:at] = ["", *alpha] if alpha else []
    same = pages.table_rows(old_block, SYMPTOM_HEAD) == pages.table_rows(block, SYMPTOM_HEAD)
    old_header = old_block.strip().splitlines()[0] if old_block.strip() else ""
    lines[0] = (f"Seeds {seeds}; test split, 10,000 images, one image = 0.01 points; best-on-validation checkpoint. "
                "Mean ± sample standard deviation over the seeds; differences are taken seed by seed, mean ± "
                "standard error. " + pages.provenance(
                    "the symptom table (thumb, noisy and concat: the references of the paired columns), the "
                    f"ensembles' line and the methods table's rows {', '.join(rerun)}", time.strftime("%Y-%m-%d"),
                    command_line, old_header, why)
                + (" The references reproduced the earlier generation's symptom table exactly, so the carried rows' "
                   "`Δ` columns, paired against the earlier references, hold against these." if same else
                   " The references did not reproduce the earlier generation's symptom table exactly: the carried "
                   "rows' `Δ` columns are paired against the earlier references, the rerun rows' against these.")
                + (f" **Incomplete: fewer than {count} seeds in {', '.join(short)}**; rerun the command to finish "
                   "(finished runs are skipped)." if short else ""))
    text = "\n".join(lines).rstrip("\n") + "\n"
    return pages.replace_bash(text, pages.merged_commands(pages.bash_lines(old_block), pages.bash_lines(block)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--phase", choices=("symptom", "methods", "all"), default="all")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "fashion-benchmark")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "fashion.md")
    p.add_argument("--report-only", action="store_true", help="run nothing: the tables from the runs so far")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (lfm reproduce --jobs)")
    p.add_argument("--threads", type=int, help="CPU threads of each run (lfm reproduce --cpus-per-run)")
    p.add_argument("--methods", help="partial regeneration: run only these baselines or LFM configurations "
                   "(heuristic, learned, constant), comma-separated, and the references thumb, noisy, concat; "
                   "every other row of the methods table is carried over from the existing page")
    p.add_argument("--why", help="with --methods: why the rows not rerun still hold (said on the page)")
    p.add_argument("--seeds", default=SEEDS, help=f"seeds of every configuration (default {SEEDS})")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="overrides for every run (lfm reproduce's), e.g. train.epochs=1 for a quick check")
    a = p.parse_args()
    methods = a.methods.split(",") if a.methods else []
    unknown = [m for m in methods if m not in BASELINES.split(",") and m not in LFM_ROWS]
    if unknown:
        p.error(f"--methods: unknown {', '.join(unknown)}; choose from {BASELINES},{','.join(LFM_ROWS)}")
    if methods and not (a.why or "").strip():
        p.error("--methods needs --why: the page says why the rows not rerun still hold")
    if methods and a.phase != "all":
        p.error("--methods runs the references and the methods named; leave --phase out")
    try:
        old_block = ""
        if methods:
            old_page = pages.read_page(a.out)
            if pages.START not in old_page or pages.END not in old_page:
                raise pages.PageError(f"{a.out}: the results markers {pages.START} / {pages.END} are missing")
            old_block = old_page.split(pages.START, 1)[1].split(pages.END, 1)[0]
        todo = plan(methods)
        cmds = []
        for name, (exp, rows, folder) in todo.items():
            args = reproduce_args(exp, "fashion", rows, a.seeds, a.runs / folder, a.overrides)
            if a.phase in ("all", CONFIGS[name][0]) and not a.report_only:
                code = run_reproduce(args, a.jobs, a.threads)
                if code != 0:
                    sys.exit(f"{shown(args)} exited with status {code}")
            cmds.append(shown(args))
        block = report(a.runs, cmds, {name: folder for name, (*_, folder) in todo.items()}, a.seeds)
        if methods:
            block = partial(old_block, block, methods, pages.command_line("benchmarks/fashion_imbalance.py",
                                                                          sys.argv[1:]), a.why, a.seeds)
        write_results(a.out, block)
    except pages.PageError as e:
        sys.exit(print(f"error: {e}", file=sys.stderr) or 2)


if __name__ == "__main__":
    main()
