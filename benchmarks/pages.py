"""What the results generators share: running a sweep (resumed where its folder exists), the
finished runs of a sweep folder, mean ± std, and writing a generated block between a page's
results markers (the rest of the page is kept)."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

START, END = "<!-- results:start -->", "<!-- results:end -->"

# The LFM paper's Table 1, test ACC in % on KineticsSounds, CREMA-D, Sarcasm, Twitter2015 and
# NVGesture ("-": left blank there), quoted beside each method for orientation only: other
# datasets, encoders and budgets than the built-in ones.
TABLE1 = {
    "concat": ("64.55", "63.31", "82.86", "70.11", "81.33"),
    "film": ("64.24", "66.26", "82.47", "72.03", "82.78"),
    "mmtm": ("63.51", "66.13", "-", "-", "81.54"),
    "ml_lstm": ("63.84", "62.94", "82.05", "70.68", "83.20"),
    "sum": ("64.97", "63.44", "82.94", "73.12", "82.99"),
    "weight": ("65.33", "66.53", "82.65", "72.42", "83.42"),
    "etmc": ("65.67", "65.86", "83.69", "73.96", "83.61"),
    "mses": ("64.71", "61.56", "84.18", "71.84", "81.12"),
    "gblend": ("67.12", "64.65", "83.35", "74.35", "82.99"),
    "ogm_ge": ("66.06", "66.94", "83.23", "74.92", "-"),
    "greedy": ("66.52", "66.64", "-", "-", "82.74"),
    "domfn": ("66.25", "67.34", "83.56", "74.45", "-"),
    "mslr": ("65.91", "65.46", "84.23", "72.52", "82.86"),
    "pmr": ("66.56", "66.59", "83.61", "74.25", "-"),
    "agm": ("66.02", "67.07", "84.28", "74.83", "82.78"),
    "mla": ("70.04", "79.43", "84.26", "73.52", "83.73"),
    "reconboost": ("70.85", "74.84", "84.37", "74.42", "84.13"),
    "mmpareto": ("70.00", "74.87", "83.48", "73.58", "83.82"),
    "lfm": ("69.05", "72.15", "84.12", "73.87", "83.24"),
}
TABLE1_HEAD = "Table 1 ACC (KS / CREMA-D / Sarcasm / Twitter15 / NVGesture)"


def table1(method: str) -> str:
    """The paper's Table 1 ACCs of a method as one cell ("" for a method it does not list)."""
    row = TABLE1.get(method)
    return " / ".join(row) if row else ""


def run_sweep(args: list[str], out: Path, jobs: int) -> None:
    """`lfm sweep ARGS --out OUT --jobs JOBS`, or `lfm sweep --resume OUT` where OUT holds a
    sweep already (an interrupted regeneration continues where it stopped); exits on failure."""
    run = ["sweep", "--resume", str(out)] if (Path(out) / "sweep.json").is_file() else ["sweep", *args, "--out", str(out)]
    run += ["--jobs", str(jobs)]
    code = subprocess.call([sys.executable, "-c", "from lfm_tui.cli import main; main()", *run], cwd=ROOT)
    if code != 0:
        sys.exit(f"lfm {' '.join(run)} exited with status {code}")


def finished_runs(folder: Path) -> list[dict]:
    """summary.json of every finished run under a folder, with its folder (`dir`)."""
    out = []
    for s in sorted(Path(folder).rglob("summary.json")):
        try:
            d = json.loads(s.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(d, dict) and d.get("status") == "ok" and d.get("test"):
            d["dir"] = s.parent
            out.append(d)
    return out


def mean_sd(xs: list[float]) -> str:
    if not xs:
        return "–"
    if len(xs) == 1:
        return f"{xs[0]:.2f}"
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}"


def write_results(page: Path, text: str) -> None:
    """`text` between the page's results markers (a new page holds only the markers)."""
    old = page.read_text(encoding="utf-8") if page.is_file() else f"{START}\n{END}\n"
    if START not in old or END not in old:
        sys.exit(f"{page}: the results markers {START} / {END} are missing")
    head, rest = old.split(START, 1)
    tail = rest.split(END, 1)[1]
    page.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")
    print(f"wrote {page}")
