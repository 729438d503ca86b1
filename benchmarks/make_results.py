"""Regenerates docs/results.md: every method on the built-in `emoji` and `mfeat` (pix + mor)
recipes, three seeds, through `lfm sweep`, then the comparison tables of `lfm compare`.

    nice -n 10 python benchmarks/make_results.py               # both datasets
    nice -n 10 python benchmarks/make_results.py --only mfeat  # one of them
    python benchmarks/make_results.py --report-only            # the page from the runs done so far

The runs go to runs/results/<dataset>/ (a finished sweep folder is resumed, so an interrupted
regeneration continues where it stopped; remove the folder to start again). The page is written
from the runs' summary.json files only; nothing in it is typed by hand.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lfm_tui import compare  # noqa: E402
from pages import TABLE1_HEAD, run_sweep, table1  # noqa: E402

# every method of the registry but the unimodal one (its own sweep, one row per modality)
METHODS = "concat,sum,weight,film,gated,mmtm,ml_lstm,etmc,mses,gblend,ogm_ge,greedy,domfn,mslr,pmr,agm,mla,reconboost,mmpareto,lfm"
SEEDS = "0,1,2"
DATASETS = {"mfeat": ("pix", "mor"), "emoji": ("image", "text")}


def markdown(rows: list[compare.Row]) -> str:
    """`lfm compare`'s table with the paper's Table 1 ACCs of each row's method beside it."""
    head, body = compare.table_rows(rows)
    lines = ["| " + " | ".join([*head, TABLE1_HEAD]) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|---|"]
    lines += ["| " + " | ".join([*b, table1(r.config.get("method.name", ""))]) + " |" for r, b in zip(rows, body)]
    return "\n".join(lines) + "\n"


def run_minutes(rows: list[compare.Row]) -> float:
    """Training time summed over the runs: first to last event of each run's events.jsonl."""
    total = 0.0
    for r in rows:
        for run in r.runs:
            times = [json.loads(line)["time"] for line in (run.path / "events.jsonl").read_text().splitlines()
                     if line.startswith("{")]
            total += max(times) - min(times) if times else 0.0
    return total / 60


def observations(rows: list[compare.Row]) -> list[str]:
    """What the table says, computed from it: which methods beat the best single modality on
    fused test ACC (mean over seeds), and where LFM ranks."""
    uni = [r for r in rows if r.config.get("method.name") == "unimodal"]
    multi = [r for r in rows if r.config.get("method.name") != "unimodal"]
    best_uni = max(uni, key=lambda r: r.stat("acc")[0])
    b_mean, b_std = best_uni.stat("acc")
    beat = [r for r in multi if r.stat("acc")[0] > b_mean]
    clear = [r for r in beat if r.stat("acc")[1] is not None and b_std is not None
             and r.stat("acc")[0] - r.stat("acc")[1] > b_mean + b_std]
    ranked = sorted(multi, key=lambda r: -r.stat("acc")[0])
    lfm_rows = [r for r in multi if r.config.get("method.name") == "lfm"]
    lines = [f"- Best single modality: {best_uni.label}, {compare.cell(best_uni, 'acc')} ACC.",
             f"- Fused ACC above it (mean): {', '.join(r.label for r in beat) or 'none'}"
             f" ({len(beat)} of {len(multi)}); by more than one standard deviation on both sides: "
             f"{', '.join(r.label for r in clear) or 'none'} (rows with two or more seeds)."]
    for r in lfm_rows:
        rank = ranked.index(r) + 1
        lines.append(f"- {r.label}: {compare.cell(r, 'acc')} ACC, rank {rank} of {len(multi)} multimodal rows by mean "
                     f"fused ACC (best: {ranked[0].label}, {ranked[0].stat('acc')[0]:.2f}).")
        gaps = sorted((x.stat("gap")[0], x.label) for x in multi if x.stat("gap"))
        g = r.stat("gap")[0]
        lines.append(f"- Gap between the modalities' parts: {r.label} {g:.2f}, rank "
                     f"{[lab for _, lab in gaps].index(r.label) + 1} of {len(gaps)} from smallest "
                     f"(smallest: {gaps[0][1]}, {gaps[0][0]:.2f}"
                     + "".join(f"; concat: {v:.2f}" for v, lab in gaps if lab == "concat") + ").")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(DATASETS), action="append")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "results")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "results.md")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: write the page from the runs finished so far")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (lfm sweep --jobs)")
    a = p.parse_args()
    sections = []
    for name in a.only or list(DATASETS):
        recipe = f"recipes/{name}.toml"
        base = a.runs / name
        mods = ",".join(DATASETS[name])
        cmds = []
        for args, out in (
            ([recipe, "method.name=unimodal", "--grid", f"method.modality={mods}", "--seeds", SEEDS],
             base / "unimodal"),
            ([recipe, "--grid", f"method.name={METHODS}", "--seeds", SEEDS], base / "methods"),
        ):
            if not a.report_only:
                run_sweep(args, out, a.jobs)
            cmds.append(" ".join(["lfm", "sweep", *args, "--out", str(out)]).replace(str(ROOT) + "/", ""))
        sections.append(section(name, recipe, cmds, base, a.runs))
        write_page(a.out, sections)


def section(name: str, recipe: str, cmds: list[str], base: Path, runs_root: Path) -> str:
    folders = [f for f in (base / "unimodal", base / "methods") if f.is_dir()]
    try:
        rows, _ = compare.compare(folders)
    except compare.CompareError:
        rows = []
    planned = (len(DATASETS[name]) + len(METHODS.split(","))) * len(SEEDS.split(","))
    done = sum(len(r.runs) for r in rows)
    status = "" if done == planned else (
        f" **Incomplete: {done} of {planned} runs finished**; the `seeds` column says how many "
        "seeds each row holds; rerun the script to finish (finished runs are skipped).")
    shown = runs_root.relative_to(ROOT) if runs_root.is_relative_to(ROOT) else runs_root
    body = [markdown(rows), *observations(rows)] if rows and any(
        r.config.get("method.name") == "unimodal" for r in rows) else [markdown(rows)] if rows else []
    return "\n".join([
        f"## {name} ({' + '.join(DATASETS[name])})", "",
        f"`{recipe}` as shipped, test split, best-on-validation checkpoint, seeds {SEEDS}; "
        f"generated {time.strftime('%Y-%m-%d')}; {run_minutes(rows):.1f} min of training summed over "
        f"the runs on this machine (2 CPU cores shared with other jobs; run time depends on that load, the metrics do not).{status}", "",
        "```bash", *cmds, f"lfm compare {shown}/{name}", "```", "", *body, ""])


def write_page(out: Path, sections: list[str]) -> None:
    page = "\n".join([
        "# Results on the built-in datasets", "",
        "Generated by `nice -n 19 python benchmarks/make_results.py --jobs 2`; regenerate rather than edit. "
        "Test metrics in % as mean ± standard deviation over three seeds (sample std). "
        "`ACC <modality>` is that modality's part of the fused classifier (`split_head`); the gap is "
        "|ACC image - ACC text| (or pix, mor). `X alone` is the unimodal method; `lfm` is LFM with the "
        "recipe's heuristic alpha 1 - exp(-1/t) (Ours-H). One emoji test sample is 0.35 points "
        "(287 samples); one mfeat test sample 0.33 points (300). A row with one seed shows its mean "
        "only. For `film` and `gated` a modality's part is the fused classifier with the other "
        "modality's features set to zero, which says little: read their gaps with care. The last column "
        "quotes the LFM paper's Table 1 (test ACC on KineticsSounds, CREMA-D, Sarcasm, Twitter2015 and "
        "NVGesture; `-`: left blank there) for orientation only: other datasets, encoders and budgets. "
        "Where a method's docstring marks a part unverified, its row carries that caveat: ML-LSTM's "
        "architecture is a definition of ours (only the paper's abstract was available), so its row is "
        "not a verified ML-LSTM; the README's methods table says, per method, what follows the paper "
        "and what the released code.", "", *sections])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
