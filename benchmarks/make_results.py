"""Regenerates docs/results.md: every method on the built-in `emoji` and `mfeat` (pix + mor)
recipes over three seeds and on the audio-visual `spoken_fashion` (audio + image) over five, as
calls of `lfm reproduce table1`, then the comparison tables of `lfm compare`.

    nice -n 10 python benchmarks/make_results.py               # every dataset
    nice -n 10 python benchmarks/make_results.py --only mfeat  # one of them
    python benchmarks/make_results.py --report-only            # the page from the runs done so far
    nice -n 10 python benchmarks/make_results.py --only emoji --methods mmtm,reconboost \
        --why "the other methods' code did not change"          # a partial regeneration
    python benchmarks/make_results.py --only mfeat --seeds 0 --out /tmp/results.md \
        train.epochs=1                                          # a quick check: overrides for every run

A partial regeneration (`--methods`) runs only the named methods, puts their rows in place of theirs in the existing page, carries every other row over from it
unchanged, recomputes the observations from the table's cells, and says so in the section's
first line; datasets left out by `--only` keep their sections as the page has them.

The runs of a dataset are two calls of `lfm reproduce table1 --data <dataset>`: its rows
`unimodal-1,unimodal-2` (one per modality) into runs/results/<dataset>/unimodal/ and the rows of
every method into runs/results/<dataset>/methods/ (table1's rows, `gated` among them, a row of
table1 on the built-in datasets though not of the paper's table; `lfm` is the row `ours-h`, the
recipe's heuristic alpha); a partial regeneration's methods into
runs/results/<dataset>/methods-<names>/. The same call again continues a reproduction (finished
runs skipped, so an interrupted regeneration continues where it stopped; remove the folder to start
again); a folder that `lfm sweep` made before is read as it stands. The page is written from the
runs' summary.json files only; nothing in it is typed by hand.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lfm_tui import compare  # noqa: E402
import pages  # noqa: E402
from pages import AUDIO_VISUAL, TABLE1_DATASETS, reproduce_args, run_reproduce, shown, table1, table1_head  # noqa: E402

# every method of the registry but the unimodal one (its own rows, one per modality)
METHODS = "concat,sum,weight,film,gated,mmtm,ml_lstm,etmc,mses,gblend,ogm_ge,greedy,domfn,mslr,pmr,agm,mla,reconboost,mmpareto,lfm"
ROWS = {"lfm": "ours-h"}   # a method's row key in table1 where it is not the method's name
SEEDS = "0,1,2"
DATASETS = {"mfeat": ("pix", "mor"), "emoji": ("image", "text"), "spoken_fashion": ("audio", "image")}
# a dataset's seeds where not SEEDS: the audio-visual benchmark is reported over five
DATASET_SEEDS = {"spoken_fashion": "0,1,2,3,4"}
# the columns of the paper's Table 1 quoted beside a dataset's rows: the audio-visual ones beside
# the audio-visual benchmark, all five elsewhere
PAPER_COLUMNS = {"spoken_fashion": AUDIO_VISUAL}
ALL_COLUMNS = tuple(range(len(TABLE1_DATASETS)))


def markdown(rows: list[compare.Row], name: str) -> str:
    """`lfm compare`'s table with the paper's Table 1 ACCs of each row's method beside it (the
    columns PAPER_COLUMNS gives the dataset `name`)."""
    head, body = compare.table_rows(rows)
    columns = PAPER_COLUMNS.get(name, ALL_COLUMNS)
    lines = ["| " + " | ".join([*head, table1_head(columns)]) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|---|"]
    lines += ["| " + " | ".join([*b, table1(r.config.get("method.name", ""), columns)]) + " |"
              for r, b in zip(rows, body)]
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


@dataclass
class Entry:
    """What the observations read of a table row: its label, its method ("unimodal" for an
    `X alone` row), the fused ACC (mean, std or None), the fused ACC's cell and the gap's mean (None where none)."""
    label: str
    method: str
    acc: tuple[float, float | None]
    acc_cell: str
    gap: float | None

    @classmethod
    def of_row(cls, r: compare.Row) -> "Entry":
        g = r.stat("gap")
        return cls(r.label, r.config.get("method.name", ""), r.stat("acc"), compare.cell(r, "acc"),
                   g[0] if g else None)

    @classmethod
    def of_cells(cls, head: list[str], row: list[str], mods: tuple[str, ...]) -> "Entry":
        """From a page's table row (the numbers as shown, rounded to two decimals)."""
        c = dict(zip(head, row))

        def stat(text: str) -> tuple[float, float | None] | None:
            parts = [x.strip() for x in text.split("±")]
            try:
                return (float(parts[0]), float(parts[1]) if len(parts) > 1 else None) if parts[0] not in ("", "-") else None
            except ValueError:
                raise pages.PageError(f"row {row[0]!r}: {text!r} is no 'mean ± std' cell") from None

        acc = stat(c.get("ACC", ""))
        if acc is None:
            raise pages.PageError(f"row {row[0]!r} has no fused ACC")
        gap = stat(c.get("gap (ACC)") or c.get("accuracy gap (test, ACC points)", "-"))  # the heading before and after
        words = row[0].split()
        unimodal = len(words) == 2 and words[1] == "alone" and words[0] in mods
        return cls(row[0], "unimodal" if unimodal else words[0], acc, c["ACC"], gap[0] if gap else None)


def observations(entries: list[Entry]) -> list[str]:
    """What the table says, computed from it: which methods beat the best single modality on
    fused test ACC (mean over seeds), and where LFM ranks."""
    uni = [r for r in entries if r.method == "unimodal"]
    multi = [r for r in entries if r.method != "unimodal"]
    best_uni = max(uni, key=lambda r: r.acc[0])
    b_mean, b_std = best_uni.acc
    beat = [r for r in multi if r.acc[0] > b_mean]
    clear = [r for r in beat if r.acc[1] is not None and b_std is not None
             and r.acc[0] - r.acc[1] > b_mean + b_std]
    ranked = sorted(multi, key=lambda r: -r.acc[0])
    lfm_rows = [r for r in multi if r.method == "lfm"]
    lines = [f"- Best single modality: {best_uni.label}, {best_uni.acc_cell} ACC.",
             f"- Fused ACC above it (mean): {', '.join(r.label for r in beat) or 'none'}"
             f" ({len(beat)} of {len(multi)}); by more than one standard deviation on both sides: "
             f"{', '.join(r.label for r in clear) or 'none'} (rows with two or more seeds)."]
    for r in lfm_rows:
        rank = ranked.index(r) + 1
        lines.append(f"- {r.label}: {r.acc_cell} ACC, rank {rank} of {len(multi)} multimodal rows by mean "
                     f"fused ACC (best: {ranked[0].label}, {ranked[0].acc[0]:.2f}).")
        gaps = sorted((x.gap, x.label) for x in multi if x.gap is not None)
        g = r.gap
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
    p.add_argument("--jobs", type=int, default=1, help="runs at once (lfm reproduce --jobs)")
    p.add_argument("--threads", type=int, help="CPU threads of each run (lfm reproduce --cpus-per-run)")
    p.add_argument("--methods", help="partial regeneration: run only these methods (comma-separated); every "
                   "other row of the existing page (the unimodal ones among them) is carried over from it")
    p.add_argument("--why", help="with --methods: why the rows not rerun still hold (said on the page)")
    p.add_argument("--seeds", help=f"seeds of every row (default {SEEDS}; "
                   + ", ".join(f"{d}: {s}" for d, s in DATASET_SEEDS.items()) + ")")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="overrides for every run (lfm reproduce's), e.g. train.epochs=1 for a quick check")
    a = p.parse_args()
    methods = a.methods.split(",") if a.methods else []
    unknown = [m for m in methods if m not in METHODS.split(",")]
    if unknown:
        p.error(f"--methods: unknown {', '.join(unknown)}; choose from {METHODS}")
    if methods and not (a.why or "").strip():
        p.error("--methods needs --why: the page says why the rows not rerun still hold")
    try:
        old = pages.read_page(a.out) if methods or (a.only and a.out.is_file()) else ""
        kept = pages.sections(old)
        done: dict[str, str] = {}
        for name in a.only or list(DATASETS):
            seeds = a.seeds or DATASET_SEEDS.get(name, SEEDS)
            plan = calls(name, a.runs, methods, seeds, a.overrides)
            for args, out in plan:
                if not a.report_only:
                    code = run_reproduce(args, a.jobs, a.threads)
                    if code != 0:
                        sys.exit(f"{shown(args)} exited with status {code}")
            cmds = [shown(args) for args, _ in plan]
            setting = Setting(seeds, a.overrides)
            if methods:
                if name not in kept:
                    raise pages.PageError(f"{a.out}: no section '## {name}' to regenerate rows of")
                done[name] = partial_section(name, cmds, [out for _, out in plan], setting, methods, kept[name],
                                             pages.command_line("benchmarks/make_results.py", sys.argv[1:]), a.why)
            else:
                done[name] = section(name, cmds, a.runs / name, a.runs, setting)
            write_page(a.out, [done.get(n) or kept[n] for n in DATASETS if n in done or n in kept])
    except pages.PageError as e:
        sys.exit(print(f"error: {e}", file=sys.stderr) or 2)


@dataclass
class Setting:
    """What every run of a regeneration shares beyond the shipped recipe: its seeds and the
    overrides given (none: the recipe as shipped)."""
    seeds: str
    overrides: list[str]

    def recipe(self, name: str) -> str:
        return f"`recipes/{name}.toml` " + (f"with {' '.join(self.overrides)}" if self.overrides else "as shipped")

    def runs(self) -> int:
        return len(self.seeds.split(","))


def calls(name: str, runs_root: Path, methods: list[str], seeds: str = SEEDS,
          overrides: list[str] = ()) -> list[tuple[list[str], Path]]:
    """(lfm reproduce arguments, its folder) of a dataset: table1's unimodal rows and the rows of
    every method, or only `methods` in a folder of their own (a partial regeneration: the unimodal
    rows, which the observations read, are carried over with the others)."""
    base = runs_root / name

    def call(rows: list[str], out: Path) -> tuple[list[str], Path]:
        return reproduce_args("table1", name, rows, seeds, out, list(overrides)), out

    if methods:
        return [call([ROWS.get(m, m) for m in methods], base / ("methods-" + "-".join(methods)))]
    unimodal = [f"unimodal-{k}" for k in range(1, len(DATASETS[name]) + 1)]
    return [call(unimodal, base / "unimodal"), call([ROWS.get(m, m) for m in METHODS.split(",")], base / "methods")]


def partial_section(name: str, cmds: list[str], folders: list[Path], setting: Setting, methods: list[str],
                    old: str, command: str, why: str) -> str:
    """The dataset's section as the page has it, with the rows of the runs in `folders` (those
    of `methods`) in place of theirs, the observations recomputed from
    the table's cells, and a first line that says what was rerun, when and how."""
    try:
        rows, _ = compare.compare([f for f in folders if f.is_dir()])
    except compare.CompareError:
        rows = []
    planned = len(methods) * setting.runs()
    done = sum(len(r.runs) for r in rows)
    if not rows:
        raise pages.PageError(f"{name}: no finished run in {', '.join(map(str, folders))}")
    table = markdown(rows, name).splitlines()
    head = table[0]
    new = {pages.row_label(line): line for line in table[2:]}
    rerun = [r.label for r in rows]
    merged = pages.merge_rows(pages.table_rows(old, head), new, rerun)
    text = pages.replace_rows(old, head, merged)
    head_cells = pages.cells(head)
    entries = [Entry.of_cells(head_cells, pages.cells(line), DATASETS[name]) for line in merged]
    status = "" if done == planned else (
        f" **Incomplete: {done} of {planned} regenerated runs finished**; the `seeds` column says how many "
        "seeds each row holds; rerun the command to finish (finished runs are skipped).")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if i > 0 and line.strip())  # the line under the heading
    lines[at] = (f"{setting.recipe(name)}, test split, best-on-validation checkpoint, seeds {setting.seeds}. "
                 + pages.provenance("rows " + ", ".join(rerun), time.strftime("%Y-%m-%d"), command, lines[at], why)
                 + f" The rerun rows took {run_minutes(rows):.1f} min of training summed over their runs on this "
                 "machine (2 CPU cores shared with other jobs; run time depends on that load, the metrics do not). "
                 f"The observations below are computed from the table's cells as shown.{status}")
    shown = [str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f) for f in folders]
    text = pages.replace_bash("\n".join(lines) + "\n", pages.merged_commands(
        pages.bash_lines(old), [*cmds, "lfm compare " + " ".join(shown)]))
    obs = [i for i, line in enumerate(text.splitlines()) if line.startswith("- ")]
    lines = text.splitlines()
    lines = [*lines[:obs[0]], *observations(entries), *lines[obs[-1] + 1:]] if obs else [*lines, "", *observations(entries)]
    return "\n".join(lines).rstrip("\n") + "\n"


def section(name: str, cmds: list[str], base: Path, runs_root: Path, setting: Setting) -> str:
    folders = [f for f in (base / "unimodal", base / "methods") if f.is_dir()]
    try:
        rows, _ = compare.compare(folders)
    except compare.CompareError:
        rows = []
    planned = (len(DATASETS[name]) + len(METHODS.split(","))) * setting.runs()
    done = sum(len(r.runs) for r in rows)
    status = "" if done == planned else (
        f" **Incomplete: {done} of {planned} runs finished**; the `seeds` column says how many "
        "seeds each row holds; rerun the script to finish (finished runs are skipped).")
    shown = runs_root.relative_to(ROOT) if runs_root.is_relative_to(ROOT) else runs_root
    body = [markdown(rows, name), *observations([Entry.of_row(r) for r in rows])] if rows and any(
        r.config.get("method.name") == "unimodal" for r in rows) else [markdown(rows, name)] if rows else []
    return "\n".join([
        f"## {name} ({' + '.join(DATASETS[name])})", "",
        f"{setting.recipe(name)}, test split, best-on-validation checkpoint, seeds {setting.seeds}; "
        f"generated {time.strftime('%Y-%m-%d')}; {run_minutes(rows):.1f} min of training summed over "
        f"the runs on this machine (2 CPU cores shared with other jobs; run time depends on that load, the metrics do not).{status}", "",
        "```bash", *cmds, f"lfm compare {shown}/{name}", "```", "", *body, ""])


def write_page(out: Path, sections: list[str]) -> None:
    page = "\n".join([
        "# Results on the built-in datasets", "",
        "Generated by `nice -n 19 python benchmarks/make_results.py --jobs 2`; regenerate rather than edit. "
        "Test metrics in % as mean ± standard deviation over the seeds each section names (sample std). "
        "`ACC <modality>` is that modality's part of the fused classifier (`split_head`); the gap is "
        "the difference of the two parts, |ACC image - ACC text| (or pix and mor, audio and image). "
        "`X alone` is the unimodal method; `lfm` is LFM with the "
        "recipe's heuristic alpha 1 - exp(-1/t) (Ours-H). One emoji test sample is 0.35 points "
        "(287 samples); one mfeat test sample 0.33 points (300); one spoken_fashion test clip 0.16 "
        "points (624, spoken by voices never heard in training). A row with one seed shows its mean "
        "only. For `film` and `gated` a modality's part is the fused classifier with the other "
        "modality's features set to zero, which says little: read their gaps with care. The last column "
        "quotes the LFM paper's Table 1 (test ACC on KineticsSounds, CREMA-D, Sarcasm, Twitter2015 and "
        "NVGesture; beside spoken_fashion, its two audio-visual datasets KineticsSounds and CREMA-D; "
        "`-`: left blank there) for orientation only: other datasets, encoders and budgets. "
        "Where a method's docstring marks a part unverified, its row carries that caveat: ML-LSTM's "
        "architecture is a definition of ours (only the paper's abstract was available), so its row is "
        "not a verified ML-LSTM; docs/methods.md says, per method, what follows the paper "
        "and what the released code.", "", *sections])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
